// Value ranges (synth/value_range.h) on compiled fixtures: the candidate the
// instructions allow, then cross builds with gcc at its ends and bisection,
// as kx build does with kernel objects (analysis/const_build.cpp).
#include <gtest/gtest.h>

#include <map>

#include "seeds/seeds.h"
#include "spec/c_tokens.h"
#include "synth/critical_span.h"
#include "synth/value_range.h"
#include "test_util.h"

namespace kx {
namespace {

namespace fs = std::filesystem;

struct RangeFixture : ::testing::Test {
  test::TempDir d;
  std::string src;
  std::map<int64_t, std::optional<DecodedFunction>> builds;  // value -> f, or none when it does not compile
  std::vector<int64_t> built;                                // values built for a cross check, in order

  fs::path object(int64_t value) { return d / (src + "." + std::to_string(value) + ".o"); }
  const std::optional<DecodedFunction> &build(int64_t value) {
    auto it = builds.find(value);
    if (it != builds.end()) return it->second;
    auto r = run_checked({"gcc-12", "-O2", "-w", "-c", KX_FIXTURES "/spans/" + src, "-DVALUE=" + std::to_string(value),
                          "-o", object(value).string()});
    std::optional<DecodedFunction> f;
    if (r) {
      auto e = ElfFile::open(object(value));
      auto fns = decode_functions(*e);
      if (fns && fns->count("f")) f = fns->at("f");
    }
    return builds[value] = f;
  }
  // The spans of the build at v0, with their candidate ranges.
  std::vector<CriticalSpan> spans(const std::string &fixture, int64_t v0) {
    src = fixture;
    std::vector<Variant> vs;
    auto values = choose_test_values(v0);
    for (size_t i = 0; i < 3; ++i) {
      build(values[i]);
      vs.push_back({values[i], object(values[i])});
    }
    const DecodedFunction &f = *build(v0);
    auto found = find_object_seeds(src, object(v0), vs, v0);
    EXPECT_TRUE(found) << found.error().message;
    std::vector<SpanSeed> seeds;
    for (auto &s : found->seeds)
      for (size_t i = 0; i < f.insns.size(); ++i)
        if (f.insns[i].offset == s.offset) seeds.push_back({i, s.operand, s.relation});
    return build_critical_spans(f, seeds);
  }
  // The cross check kx build runs: the fixture compiled at `v` against the span with T = f(v).
  SameAt same_at(int64_t v0, const CriticalSpan &cs) {
    return [this, v0, cs](int64_t v) -> Result<bool> {
      built.push_back(v);
      const auto &b = build(v);
      return b && same_expression(*build(v0), cs.first, cs.last, cs.seeds, *b, v) == "same";
    };
  }
  ValueRange confirm(int64_t v0, const CriticalSpan &cs, unsigned max_builds = 12) {
    auto r = confirm_range({cs.v_min, cs.v_max, cs.range_basis}, v0, same_at(v0, cs), max_builds);
    EXPECT_TRUE(r) << r.error().message;
    return *r;
  }
  // Both ends of a confirmed range were compiled and agree.
  void expect_confirmed_ends(int64_t v0, const CriticalSpan &cs, const ValueRange &r) {
    for (int64_t end : {r.lo, r.hi}) {
      ASSERT_TRUE(build(end)) << end;
      EXPECT_EQ(same_expression(*build(v0), cs.first, cs.last, cs.seeds, *build(end), end), "same") << end;
    }
  }
};

TEST_F(RangeFixture, PackedImmediateKeepsNewValuesInTheirOwnField) {
  auto cs = spans("packed_imm.c", 16);
  ASSERT_EQ(cs.size(), 1u);
  ASSERT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
  // The width alone allowed [-2^63, 2^63 - 1 - 117·2^32]: 2^32 would make imbalance_pct 118.
  EXPECT_EQ(cs[0].v_min, 0);
  EXPECT_EQ(cs[0].v_max, 0xffffffffll);
  ValueRange r = confirm(16, cs[0]);
  EXPECT_EQ(r.lo, 0);
  EXPECT_EQ(r.hi, 0xffffffffll);
  expect_confirmed_ends(16, cs[0], r);
  // And beyond it the compiler agrees: 2^32 is busy_factor 0, not the span with T = 2^32 + 117·2^32.
  EXPECT_EQ(same_expression(*build(16), cs[0].first, cs[0].last, cs[0].seeds, *build(1ll << 32), 1ll << 32),
            "differs");
}

TEST_F(RangeFixture, BisectionFindsTheFieldsEndFromAWiderCandidate) {
  auto cs = spans("packed_imm.c", 16);
  ASSERT_EQ(cs.size(), 1u);
  CriticalSpan wide = cs[0];
  wide.v_max = (1ll << 34) + 12345;  // as if only the width bounded it
  ValueRange r = confirm(16, wide, 64);
  EXPECT_EQ(r.hi, 0xffffffffll);
  EXPECT_EQ(r.lo, 0);
}

TEST_F(RangeFixture, UnsignedByteCompareExcludesZeroAndTheFoldedExtremes) {
  auto cs = spans("cmp_unsigned.c", 8);
  ASSERT_EQ(cs.size(), 1u);
  ASSERT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
  // jbe reads T = V - 1 unsigned: T in [0, 255]. The width allowed V' = 0 (T = -1, "x <= 255").
  EXPECT_EQ(cs[0].v_min, 1);
  EXPECT_EQ(cs[0].v_max, 256);
  ValueRange r = confirm(8, cs[0]);
  // V = 1 compiles to x == 0 (test; je), V = 256 to nothing, V = 255 to
  // x != 255 and V = 128 to a sign test (test; jns): bisection, trying type
  // limits first, stops below the first of those.
  EXPECT_EQ(r.lo, 2);
  EXPECT_EQ(r.hi, 127);
  EXPECT_FALSE(r.contains(0));
  expect_confirmed_ends(8, cs[0], r);
}

TEST_F(RangeFixture, SignedIntCompareStaysWithinInt) {
  auto cs = spans("cmp_signed.c", 8);
  ASSERT_EQ(cs.size(), 1u);
  ASSERT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
  // jle reads T = V - 1 signed: T in [-2^31, 2^31 - 1]; the width allowed V' up to 2^32.
  EXPECT_EQ(cs[0].v_min, -2147483647ll);
  EXPECT_EQ(cs[0].v_max, 2147483648ll);
  ValueRange r = confirm(8, cs[0]);
  // x < INT_MIN + 1 compiles to cmp $INT_MIN; je: the same flags as the span's.
  EXPECT_EQ(r.lo, -2147483647ll);
  // x < 2^31 folds (a long), x < INT_MAX becomes x != INT_MAX.
  EXPECT_LE(r.hi, 2147483646ll);
  EXPECT_GT(r.hi, 1ll << 30) << "bisection stops near the end";
  EXPECT_TRUE(r.contains(8));
  expect_confirmed_ends(8, cs[0], r);
}

TEST_F(RangeFixture, ANegativeAndADoubledSeedEndWhereTheCompilerChangesTheAddsWidth) {
  auto cs = spans("plug_max.c", 32);
  ASSERT_EQ(cs.size(), 1u);
  ASSERT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
  ASSERT_EQ(cs[0].seeds.size(), 2u);  // and $-V (T = -V), add $2V (T = 2V)
  // 32-bit operands hold T in [-2^31, 2^32 - 1]: 2V bounds V to [-2^30, 2^31 - 1], -V no further.
  EXPECT_EQ(cs[0].v_min, -1073741824ll);
  EXPECT_EQ(cs[0].v_max, 2147483647ll);
  ValueRange r = confirm(32, cs[0]);
  EXPECT_EQ(r.hi, 63);
  EXPECT_GE(r.lo, 1);
  EXPECT_TRUE(r.contains(32));
  expect_confirmed_ends(32, cs[0], r);
}

TEST(ConfirmRange, ReportsOnlyEndsItChecked) {
  // The compiler's shape holds on [-5, 100]; the candidate is far wider.
  std::vector<int64_t> asked;
  SameAt same = [&](int64_t v) -> Result<bool> {
    asked.push_back(v);
    return v >= -5 && v <= 100;
  };
  auto r = confirm_range({-1000000, 1ll << 40, {}}, 10, same, 64);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->lo, -5);
  EXPECT_EQ(r->hi, 100);
  // With few builds the ends stay inside, and each was asked (or is the anchor).
  asked.clear();
  auto few = confirm_range({-1000000, 1ll << 40, {}}, 10, same, 4);
  ASSERT_TRUE(few);
  EXPECT_TRUE(few->lo >= -5 && few->hi <= 100 && few->contains(10));
  for (int64_t end : {few->lo, few->hi})
    EXPECT_TRUE(end == 10 || std::find(asked.begin(), asked.end(), end) != asked.end()) << end;
}

TEST(ConfirmRange, AnExtremeThatFoldsCostsOneBuild) {
  std::vector<int64_t> asked;
  SameAt same = [&](int64_t v) -> Result<bool> {
    asked.push_back(v);
    return v >= 1 && v <= 65535;
  };
  auto r = confirm_range({1, 65536, {}}, 32, same);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->lo, 1);
  EXPECT_EQ(r->hi, 65535);
  EXPECT_EQ(asked, (std::vector<int64_t>{1, 65536, 65535}));
}

TEST(ConfirmRange, AnEndAtATypesLimitIsFoundInAFewBuilds) {
  // blk_add_rq_to_plug: 2·V must fit a signed 16-bit add, so V <= 32767.
  std::vector<int64_t> asked;
  SameAt same = [&](int64_t v) -> Result<bool> {
    asked.push_back(v);
    return v >= 2 && v <= 32767;
  };
  auto r = confirm_range({0, 2147483647, {}}, 32, same);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->lo, 2);
  EXPECT_EQ(r->hi, 32767);
  EXPECT_LE(asked.size(), 16u);
}

TEST(ConfirmRange, EmptyOrAnchorOutsideStaysEmpty) {
  SameAt never = [](int64_t) -> Result<bool> { return false; };
  auto e = confirm_range({5, 4, {}}, 4, never);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->empty());
  auto out = confirm_range({0, 255, {}}, 300, never);
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->empty());
  EXPECT_FALSE(out->basis.empty());
  // Nothing but V0 confirmed: [V0, V0], never lo > hi.
  auto only = confirm_range({0, 255, {}}, 7, never);
  ASSERT_TRUE(only);
  EXPECT_EQ(only->lo, 7);
  EXPECT_EQ(only->hi, 7);
}

TEST(LiteralTypeRange, KeepsTheLiteralsCType) {
  auto r = [](const char *t) { return *literal_type_range(t); };
  EXPECT_EQ(r("32").hi, 2147483647);
  EXPECT_EQ(r("32").type, "int");
  EXPECT_EQ(r("32").lo, 0);
  EXPECT_EQ(r("0x10").type, "int");
  EXPECT_EQ(r("0x80000000").type, "unsigned int");
  EXPECT_EQ(r("0x80000000").hi, 4294967295ll);
  EXPECT_EQ(r("2147483648").type, "long");
  EXPECT_EQ(r("32U").hi, 4294967295ll);
  EXPECT_EQ(r("8UL").hi, INT64_MAX);
  EXPECT_EQ(r("1ull").type, "unsigned long long");
  EXPECT_FALSE(literal_type_range("x"));
}

}  // namespace
}  // namespace kx
