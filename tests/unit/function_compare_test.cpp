// The fidelity comparison on a small compiled fixture: an object and the
// executable linked from it are identical outside relocated fields; a
// rebuild with another constant is not.
#include <gtest/gtest.h>

#include "binary/function_compare.h"
#include "test_util.h"

namespace kx {
namespace {

struct Fixture : ::testing::Test {
  test::TempDir d;
  std::filesystem::path compile(const std::string &name, const std::string &define = "") {
    std::vector<std::string> cmd = {"gcc", "-O2", "-fno-pic", "-mcmodel=kernel", "-c", KX_FIXTURES "/consts.c",
                                    "-o", (d / name).string()};
    if (!define.empty()) cmd.push_back(define);
    auto r = run_checked(cmd);
    EXPECT_TRUE(r) << r.error().message;
    return d / name;
  }
  std::filesystem::path link(const std::filesystem::path &obj) {
    auto exe = d / "linked";
    auto strong = d / "strong.o";
    auto c = run_checked({"gcc", "-O2", "-fno-pic", "-mcmodel=kernel", "-c", KX_FIXTURES "/consts_strong.c", "-o",
                          strong.string()});
    EXPECT_TRUE(c) << c.error().message;
    // Linked at the kernel's base so 32-bit sign-extended fields resolve.
    auto r = run_checked({"ld", "-static", "-nostdlib", "-Ttext=0xffffffff81000000", "-o", exe.string(), obj.string(),
                          strong.string()});
    EXPECT_TRUE(r) << r.error().message;
    return exe;
  }
};

TEST_F(Fixture, ObjectMatchesItsLinkedImageOutsideRelocations) {
  auto obj = compile("orig.o");
  auto o = ElfFile::open(obj);
  auto img = ElfFile::open(link(obj));
  ASSERT_TRUE(o && img);
  EXPECT_TRUE(o->relocatable());
  EXPECT_FALSE(img->relocatable());
  auto fid = compare_object(*o, *img);
  EXPECT_EQ(fid.functions, 3u);  // helper, scan, _start
  EXPECT_EQ(fid.identical, 3u);
  EXPECT_EQ(fid.weak_overridden, 1u);  // tunable_hook, replaced by the strong one
  EXPECT_TRUE(fid.differing.empty());
  // scan() references helper, counter and table: some bytes must be masked.
  auto scan = o->find_symbols("scan");
  ASSERT_EQ(scan.size(), 1u);
  auto mask = relocation_mask(*o, *scan[0]);
  EXPECT_GT(std::count(mask.begin(), mask.end(), true), 0);
}

TEST_F(Fixture, ARebuildWithAnotherConstantDiffers) {
  auto orig = compile("orig.o");
  auto img = ElfFile::open(link(orig));
  auto changed = ElfFile::open(compile("changed.o", "-DBATCH=77"));
  ASSERT_TRUE(img && changed);
  auto fid = compare_object(*changed, *img);
  ASSERT_EQ(fid.differing.size(), 1u);
  EXPECT_EQ(fid.differing[0].rfind("scan+0x", 0), 0u);
  EXPECT_EQ(fid.identical, 2u);
}

TEST(FunctionCompare, MaskedBytesAreIgnoredOthersAreNot) {
  std::vector<uint8_t> a = {1, 2, 3, 4}, b = {1, 9, 3, 4};
  EXPECT_TRUE(compare_masked(a, b, {false, true, false, false}).identical);
  auto m = compare_masked(a, b, {false, false, false, false});
  EXPECT_FALSE(m.identical);
  EXPECT_EQ(m.first_diff, 1u);
  std::vector<uint8_t> shorter = {1, 2, 3};
  EXPECT_FALSE(compare_masked(a, shorter, {}).identical);
}

TEST(ElfFile, NonElfIsAClearError) {
  auto e = ElfFile::open(KX_FIXTURES "/consts.c");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("is not an ELF file"), std::string::npos);
  EXPECT_FALSE(ElfFile::open("/nonexistent/vmlinux"));
}

}  // namespace
}  // namespace kx
