// Seeds on object pairs, kpatch-style: small fixtures compiled at the
// original value and at test values, no kernel involved.
#include <gtest/gtest.h>

#include <bit>

#include "seeds/seeds.h"
#include "test_util.h"

namespace kx {
namespace {

struct SeedFixture : ::testing::Test {
  test::TempDir d;
  std::filesystem::path build(const std::string &src, int64_t value) {
    auto out = d / (src + "." + std::to_string(value) + ".o");
    auto r = run_checked({"gcc-12", "-O2", "-fno-pic", "-mcmodel=kernel", "-fno-asynchronous-unwind-tables", "-g",
                          "-c", KX_FIXTURES "/seeds/" + src, "-DVALUE=" + std::to_string(value), "-o",
                          out.string()});
    EXPECT_TRUE(r) << r.error().message;
    return out;
  }
  ObjectSeeds seeds(const std::string &src, int64_t v0) {
    std::vector<Variant> vs;
    auto values = choose_test_values(v0);
    for (size_t i = 0; i < 3; ++i) vs.push_back({values[i], build(src, values[i])});
    auto r = find_object_seeds(src, build(src, v0), vs, v0);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : ObjectSeeds{};
  }
};

TEST_F(SeedFixture, BranchFreeThresholdGivesMinusVAndTwoV) {
  auto s = seeds("plug.c", 32);
  EXPECT_TRUE(s.layout.empty());
  EXPECT_TRUE(s.structural.empty()) << (s.structural.empty() ? "" : s.structural[0]);
  EXPECT_TRUE(s.unmapped.empty()) << (s.unmapped.empty() ? "" : s.unmapped[0]);
  std::map<std::string, int64_t> rel;  // description -> T in the original
  for (auto &seed : s.seeds) {
    EXPECT_EQ(seed.function, "plug_full");
    EXPECT_TRUE(seed.relation.linear && seed.relation.confirmed) << seed.relation.describe();
    rel[seed.relation.describe()] = seed.original_t;
  }
  // and $-V; add $2V (design.md §3). V=64 encodes the add as sub $-0x80, so
  // the fit stands on 128, 16 and the original 32: still three samples.
  EXPECT_EQ(rel, (std::map<std::string, int64_t>{{"T = -V", -32}, {"T = 2·V", 64}}));
}

TEST_F(SeedFixture, DefaultBatchIsOneImmediateEqualToV) {
  auto s = seeds("batch.c", 128);
  ASSERT_EQ(s.seeds.size(), 1u);
  EXPECT_EQ(s.seeds[0].function, "do_shrink");
  EXPECT_EQ(s.seeds[0].relation.describe(), "T = V");
  EXPECT_EQ(s.seeds[0].original_t, 128);
  EXPECT_NE(s.seeds[0].insn.find("$0x80"), std::string::npos) << s.seeds[0].insn;
}

TEST_F(SeedFixture, ShiftIsReportedNonLinear) {
  // 16 -> shl $4; the test values 32 and 64 shift too (8 would be a lea).
  auto s = seeds("shift.c", 16);
  ASSERT_EQ(s.seeds.size(), 1u);
  EXPECT_FALSE(s.seeds[0].relation.linear);
  EXPECT_EQ(s.seeds[0].relation.nonlinear, "T = log2(V)");
  EXPECT_EQ(s.seeds[0].original_t, 4);
}

TEST_F(SeedFixture, ArraySizeIsALayoutChange) {
  auto s = seeds("layout.c", 16);
  ASSERT_FALSE(s.layout.empty());
  bool struct_named = false;
  for (auto &l : s.layout) struct_named = struct_named || l.find("struct ring") != std::string::npos;
  EXPECT_TRUE(struct_named);
}

TEST_F(SeedFixture, FoldedConstantHasNoSeed) {
  auto s = seeds("folded.c", 4);
  EXPECT_TRUE(s.seeds.empty());
  EXPECT_TRUE(s.structural.empty()) << (s.structural.empty() ? "" : s.structural[0]);
  EXPECT_EQ(s.functions_changed, 0u);
}

TEST(Relation, FitsLinearAndNamesTheRest) {
  auto r = fit_relation({{64, -64}, {128, -128}, {16, -16}});
  EXPECT_TRUE(r.linear && r.confirmed);
  EXPECT_EQ(r.describe(), "T = -V");
  EXPECT_EQ(fit_relation({{16, 15}, {32, 31}, {64, 63}}).describe(), "T = V - 1");
  EXPECT_EQ(fit_relation({{16, 32}, {32, 64}}).describe(), "T = 2·V");
  EXPECT_FALSE(fit_relation({{16, 32}, {32, 64}}).confirmed);
  auto nl = fit_relation({{37, 10}, {53, 14}, {61, 17}});
  EXPECT_FALSE(nl.linear);
  EXPECT_EQ(nl.nonlinear.rfind("non-linear:", 0), 0u);
  EXPECT_EQ(sign_extend(0xffffffe0, 32), -32);
  EXPECT_EQ(sign_extend(0x7f, 8), 127);
}

TEST(Relation, InvertsToTheSourceValueOnlyWhenAnIntegerGivesT) {
  auto neg = fit_relation({{64, -64}, {128, -128}, {16, -16}});
  EXPECT_EQ(neg.invert(-512), 512);
  auto r = fit_relation({{16, 31}, {32, 63}, {64, 127}});  // T = 2·V - 1
  EXPECT_EQ(r.invert(1023), 512);
  EXPECT_FALSE(r.invert(1024));  // no integer V
  EXPECT_FALSE(fit_relation({{37, 10}, {53, 14}, {61, 17}}).invert(10));
  EXPECT_FALSE(fit_relation({{16, 5}, {32, 5}, {64, 5}}).invert(5));  // a = 0: every V
}

TEST(Relation, TestValuesKeepTheKind) {
  EXPECT_EQ(choose_test_values(32), (std::vector<int64_t>{64, 16, 128, 8, 256, 4, 512}));
  EXPECT_EQ(choose_test_values(127), (std::vector<int64_t>{255, 63, 511, 31, 1023, 2047}));
  auto ten = choose_test_values(10);  // design.md §3: 37<->53 is immediate-only
  EXPECT_EQ(std::vector<int64_t>(ten.begin(), ten.begin() + 3), (std::vector<int64_t>{37, 53, 61}));
  // HYSTART_DELAY_MIN (4000) must also offer values below its clamp partner (16000).
  auto hy = choose_test_values(4000);
  EXPECT_TRUE(std::any_of(hy.begin(), hy.end(), [](int64_t t) { return t < 4000; }));
  for (int64_t v : {1, 2, 3, 100, 300, 4000, 65535}) {
    auto t = choose_test_values(v);
    ASSERT_GE(t.size(), 3u) << v;
    EXPECT_EQ(std::set<int64_t>(t.begin(), t.end()).size(), t.size()) << v;
    for (auto x : t) EXPECT_TRUE(x != v && x >= 2) << v << " " << x;
  }
}

// The fallback families: Plain gives a power of two or a mask the values an
// imul carries (no power of two, no neighbour, no two-lea number such as
// 37 = 1 + 4·9); Near stays within a few of V0 (shift counts).
TEST(Relation, OtherTestValueFamilies) {
  auto plain = choose_test_values(4, TestFamily::Plain);
  ASSERT_GE(plain.size(), 3u);
  for (int64_t t : plain) {
    EXPECT_FALSE(std::has_single_bit(static_cast<uint64_t>(t)) || std::has_single_bit(static_cast<uint64_t>(t + 1)) ||
                 std::has_single_bit(static_cast<uint64_t>(t - 1))) << t;
    EXPECT_TRUE(t % 3 && t % 5) << t;
    for (int64_t m : {3, 5, 9})
      for (int64_t k = 2; k <= 64; k *= 2) EXPECT_NE(t, 1 + k * m) << t;
  }
  EXPECT_FALSE(choose_test_values(3, TestFamily::Plain).empty());      // a mask
  EXPECT_TRUE(choose_test_values(10, TestFamily::Plain).empty());      // Shaped is already plain
  EXPECT_EQ(choose_test_values(6, TestFamily::Near), (std::vector<int64_t>{7, 5, 8, 4, 9, 3}));
  EXPECT_EQ(choose_test_values(2, TestFamily::Near), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_TRUE(choose_test_values(std::nullopt, TestFamily::Near).empty());
  EXPECT_EQ(choose_test_values(10, TestFamily::Shaped), choose_test_values(10));
}

}  // namespace
}  // namespace kx
