#include <gtest/gtest.h>

#include "kernel/affected_objects.h"
#include "test_util.h"

namespace kx {
namespace {

struct AffectedFixture : ::testing::Test {
  test::TempDir tree;
  std::vector<CompileUnit> cus;
  void SetUp() override {
    auto put = [&](const std::string &f, const std::string &text) { ASSERT_TRUE(write_file_atomic(tree / f, text)); };
    // The header talks about BLK_MAX in comments and a string: not uses.
    put("include/linux/blkdev.h",
        "/* BLK_MAX bounds a plug */\n#define BLK_MAX 32\n#define BLK_TWICE \\\n  (2 * BLK_MAX) // twice BLK_MAX\n"
        "static const char *what = \"BLK_MAX \\\" \";\nstruct plug;\n");
    put("block/blk-core.c", "#include <linux/blkdev.h>\nint a(void) { return BLK_MAX; }\n");
    put("block/blk-mq.c", "#include <linux/blkdev.h>\nint b(void) { return BLK_TWICE; }\n");
    put("fs/buffer.c", "#include <linux/blkdev.h>\n/* mentions nothing */\nint c(void) { return 0; }\n");
    put("mm/other.c", "int BLK_MAX_d(void) { return 1; }\n");
    cus = {{"block/blk-core.c", "block/blk-core.o", {"block/blk-core.c", "include/linux/blkdev.h"}},
           {"block/blk-mq.c", "block/blk-mq.o", {"block/blk-mq.c", "include/linux/blkdev.h"}},
           {"fs/buffer.c", "fs/buffer.o", {"fs/buffer.c", "include/linux/blkdev.h"}},
           {"mm/other.c", "mm/other.o", {"mm/other.c"}}};
  }
};

TEST_F(AffectedFixture, FollowsDerivedMacrosAndSkipsUnitsThatDoNotUseThem) {
  auto a = find_affected_objects(tree.path, cus, "include/linux/blkdev.h", "BLK_MAX");
  // fs/buffer.o includes the header but uses neither name (the header's
  // comments and string do not count); mm/other.o has a longer identifier
  // that merely starts with the name.
  EXPECT_EQ(a.objects, (std::vector<std::string>{"block/blk-core.o", "block/blk-mq.o"}));
  EXPECT_EQ(a.macros, (std::vector<std::string>{"BLK_MAX", "BLK_TWICE"}));
}

TEST_F(AffectedFixture, LiteralsAreLimitedToUnitsSeeingTheFile) {
  auto a = find_affected_objects(tree.path, cus, "block/blk-mq.c", "");
  EXPECT_EQ(a.objects, (std::vector<std::string>{"block/blk-mq.o"}));
}

}  // namespace
}  // namespace kx
