#include <gtest/gtest.h>

#include "spec/locate.h"
#include "test_util.h"

namespace kx {
namespace {

struct Tree {
  test::TempDir dir;
  void add(const std::string &rel, const std::string &text) { ASSERT_TRUE(write_file_atomic(dir / rel, text)); }
  std::string error(const std::string &name) {
    auto s = locate_macro(dir.path, name);
    EXPECT_FALSE(s) << name << " -> " << (s ? s->spec : "");
    return s ? "" : s.error().message;
  }
};

TEST(SpecLocateMacro, OneDefinitionOneLiteral) {
  Tree t;
  t.add("mm/vmscan.c", "/* #define SHRINK_BATCH 64 */\nint x;\n#define SHRINK_BATCH_MAX 9\n#define SHRINK_BATCH 128\n");
  t.add("mm/other.c", "char *s = \"#define SHRINK_BATCH 7\";\nint y = SHRINK_BATCH;\n");
  auto s = locate_macro(t.dir.path, "SHRINK_BATCH");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->spec, "mm/vmscan.c:4:0");
  EXPECT_EQ(s->value, 128u);
  EXPECT_EQ(s->kind, SiteKind::Macro);
}

TEST(SpecLocateMacro, LiteralOnAContinuationLine) {
  Tree t;
  t.add("include/net/tcp.h", "#define TCP_RTO_MIN \\\n\t((unsigned)(HZ/5))\n");
  auto s = locate_macro(t.dir.path, "TCP_RTO_MIN");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->spec, "include/net/tcp.h:2:0");
  EXPECT_EQ(s->name, "TCP_RTO_MIN");
}

TEST(SpecLocateMacro, NoLiteralMeansTheWholeBody) {
  Tree t;
  t.add("mm/migrate.c", "#define NR_MAX_BATCHED_MIGRATION HPAGE_PMD_NR\n");
  auto s = locate_macro(t.dir.path, "NR_MAX_BATCHED_MIGRATION");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->spec, "mm/migrate.c:1:-1");
  EXPECT_EQ(s->token_text, "HPAGE_PMD_NR");
}

TEST(SpecLocateMacro, SeveralDefinitionsAreListedNotGuessed) {
  Tree t;
  t.add("mm/migrate.c", "#ifdef CONFIG_THP\n#define NR_MAX HPAGE_PMD_NR\n#else\n#define NR_MAX 512\n#endif\n");
  t.add("kernel/async.c", "\n#define NR_MAX 32768\n");
  std::string msg = t.error("NR_MAX");
  EXPECT_NE(msg.find("NR_MAX is defined 3 times: kernel/async.c:2 mm/migrate.c:2 mm/migrate.c:4"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("FILE:LINE:TOKEN"), std::string::npos);
}

TEST(SpecLocateMacro, CommentsAndContinuationsBeforeTheNameAreSeen) {
  Tree t;
  t.add("mm/a.c", "#define /* the batch */ BATCH_A 7\n");
  t.add("mm/b.c", "#define \\\n\tBATCH_B \\\n\t9\n");
  EXPECT_EQ(locate_macro(t.dir.path, "BATCH_A")->spec, "mm/a.c:1:0");
  EXPECT_EQ(locate_macro(t.dir.path, "BATCH_B")->spec, "mm/b.c:3:0");
}

TEST(SpecLocateMacro, HugeCandidateListsStayOneReadableLine) {
  Tree t;
  for (int i = 0; i < 25; i++) t.add("drivers/d" + std::to_string(i) + ".c", "#define pr_fmt(fmt) fmt\n");
  std::string msg = t.error("pr_fmt");
  EXPECT_NE(msg.find("pr_fmt is defined 25 times: drivers/d0.c:1 drivers/d1.c:1"), std::string::npos) << msg;
  EXPECT_NE(msg.find(" and 5 more; pass the active one"), std::string::npos) << msg;
}

TEST(SpecLocateMacro, SeveralLiteralsAreListedAsSpecs) {
  Tree t;
  t.add("fs/ext4/x.h", "#define BLK_PLUG_FLUSH_SIZE (128 * 1024)\n");
  std::string msg = t.error("BLK_PLUG_FLUSH_SIZE");
  EXPECT_NE(msg.find("has 2 numeric literals: fs/ext4/x.h:1:0 (128) fs/ext4/x.h:1:1 (1024)"), std::string::npos)
      << msg;
}

TEST(SpecLocateMacro, OnlyWhatAnX86BuildSees) {
  Tree t;
  t.add("arch/x86/include/asm/a.h", "#define ONLY_HERE 3\n");
  for (auto dir : {"arch/arm64/include/asm/a.h", "tools/include/a.h", "Documentation/a.c", "samples/a.c",
                   "scripts/a.c", "usr/a.c", "mm/a.txt"})
    t.add(dir, "#define ONLY_HERE 4\n");
  auto s = locate_macro(t.dir.path, "ONLY_HERE");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->spec, "arch/x86/include/asm/a.h:1:0");
}

TEST(SpecLocateMacro, UnknownOrMalformedNames) {
  Tree t;
  t.add("mm/a.c", "#define KNOWN 1\n");
  EXPECT_NE(t.error("UNKNOWN").find("no #define UNKNOWN in"), std::string::npos);
  EXPECT_NE(t.error("mm/a.c:1:0").find("not a macro name"), std::string::npos);
  EXPECT_NE(t.error("").find("not a macro name"), std::string::npos);
  auto s = locate_macro(t.dir / "nonexistent", "KNOWN");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("no kernel source tree"), std::string::npos);
}

}  // namespace
}  // namespace kx
