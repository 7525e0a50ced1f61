// The static path's planner (src/runtime/static_patch.h): which spans get an
// in-place immediate rewrite, and the bytes, from the Debian 6.1 fixture and
// from small hand-assembled functions.
#include <gtest/gtest.h>

#include "fixture_image.h"
#include "runtime/static_patch.h"
#include "runtime/transaction.h"

namespace kx {
namespace {

using nlohmann::json;

const std::string kBuildId = "3b43fad5034874490492495d552c0af6a5fab235";
constexpr uint64_t kSlide = 0x21000000;

json report(const std::string &id) {
  for (auto &r : test::load_runtime_fixture("cached_consts.json"))
    if (r["id"] == id) return r;
  ADD_FAILURE() << "no fixture report " << id;
  return {};
}

std::vector<uint8_t> v(const uint8_t *b, size_t n) { return {b, b + n}; }

TEST(StaticPatch, BlkMaxRequestCountsMovGetsItsImmediateRewritten) {
  test::FixtureImage img;
  auto t = plan_transaction({{report("BLK_MAX_REQUEST_COUNT"), 8}}, img, kBuildId, kSlide);
  ASSERT_TRUE(t) << t.error().message;
  // blk_start_plug_nr_ios+0x1d: mov $0x20,%edx (ba 20 00 00 00), T = V.
  const x_sie_patch &p = t->spans[0].patch;
  EXPECT_EQ(p.addr, 0xffffffff81543e4dull + kSlide);
  EXPECT_EQ(p.addr + p.len, t->spans[0].probe.addr);
  EXPECT_EQ(p.imm_off, 1);
  EXPECT_EQ(p.imm_len, 4);
  EXPECT_EQ(v(p.old_bytes, p.len), (std::vector<uint8_t>{0xba, 0x20, 0x00, 0x00, 0x00}));
  EXPECT_EQ(v(p.new_bytes, p.len), (std::vector<uint8_t>{0xba, 0x08, 0x00, 0x00, 0x00}));
  // The dual span (and/add on a captured register) stays on its probes.
  EXPECT_EQ(t->spans[1].patch.len, 0);
  EXPECT_EQ(t->planned[1].static_why, "not an insertion span");
  EXPECT_EQ(plan_json(*t, kSlide)["consts"][0]["critical_spans"][0]["path"], "static");
}

TEST(StaticPatch, APolicyNeverGetsOne) {
  test::FixtureImage img;
  ConstRequest c{report("BLK_MAX_REQUEST_COUNT"), 0};
  c.policy_fd = 3, c.slot_fd = 4;
  auto t = plan_transaction({c}, img, kBuildId, kSlide);
  ASSERT_TRUE(t) << t.error().message;
  for (auto &s : t->spans) EXPECT_EQ(s.patch.len, 0);
}

// A function of one `and $-0x20,%eax` (83 e0 e0: imm8, sign-extended to 32
// bits) and a ret, where T = -V: the span the test builds around it.
struct Imm8Fixture {
  test::FixtureImage img;
  json report, span;
  Imm8Fixture(json relation = {{"a", -1}, {"b", 0}, {"confirmed", true}}) {
    const uint64_t start = 0xffffffff81002000ull;
    img.fns["masks"] = {start, {0x83, 0xe0, 0xe0, 0xc3}};
    span = {{"kind", "insertion"},          {"start", 0},    {"end", 0},
            {"address", "0xffffffff81002000"}, {"function", "masks"},
            {"probe_address", "0xffffffff81002003"}};
    report = {{"uses", json::array({{{"address", "0xffffffff81002000"},
                                     {"matched", "operand"},
                                     {"operand", 1},
                                     {"t", -32},
                                     {"relation", relation}}})}};
  }
  StaticPlan at(int64_t value) { return plan_static_patch(report, span, value, img, 0); }
};

TEST(StaticPatch, AnImm8TakesWhatSignExtendsToTPrime) {
  Imm8Fixture f;
  auto p = f.at(63).patch;  // T' = -63 = 0xc1
  ASSERT_EQ(p.len, 3) << f.at(63).why_not;
  EXPECT_EQ(v(p.new_bytes, 3), (std::vector<uint8_t>{0x83, 0xe0, 0xc1}));
  EXPECT_EQ(f.at(128).patch.len, 3);  // -128: the last that fits
}

TEST(StaticPatch, AValueTheEncodingCannotHoldStaysOnTheProbe) {
  Imm8Fixture f;
  auto p = f.at(129);  // -129 needs an imm32 form: other bytes, another length
  EXPECT_EQ(p.patch.len, 0);
  EXPECT_NE(p.why_not.find("does not fit its 8-bit immediate"), std::string::npos) << p.why_not;
  EXPECT_EQ(f.at(-200).patch.len, 0);  // T' = 200 > 127
}

TEST(StaticPatch, NeedsAConfirmedLinearRelationAndTheImmediateToBeT0) {
  Imm8Fixture unconfirmed(json{{"a", -1}, {"b", 0}, {"confirmed", false}});
  EXPECT_EQ(unconfirmed.at(8).patch.len, 0);
  Imm8Fixture other;
  other.report["uses"][0]["t"] = -31;  // the bytes hold -32: not this seed
  EXPECT_EQ(other.at(8).why_not, "its immediate is not T0");
  Imm8Fixture shifted;
  shifted.report["uses"][0]["relation"] = {{"a", 2}, {"b", -96}, {"confirmed", true}};  // T = 2V - 96: -32 at 32
  auto p = shifted.at(40).patch;                                                   // T' = -16 = 0xf0
  ASSERT_EQ(p.len, 3);
  EXPECT_EQ(p.new_bytes[2], 0xf0);
}

TEST(StaticPatch, OnlyOneInstructionRightBeforeItsProbe) {
  Imm8Fixture longer;
  longer.span["end"] = 3;
  EXPECT_EQ(longer.at(8).why_not, "more than one instruction");
  Imm8Fixture later;
  later.span["probe_address"] = "0xffffffff81002004";
  EXPECT_EQ(later.at(8).why_not, "the probe is not right after its instruction");
  Imm8Fixture by_expression;
  by_expression.report["uses"][0]["matched"] = "expression";
  EXPECT_EQ(by_expression.at(8).patch.len, 0);
  Imm8Fixture register_operand;
  register_operand.report["uses"][0]["operand"] = 0;  // %eax
  EXPECT_EQ(register_operand.at(8).why_not, "its seed is not an immediate operand");
}

}  // namespace
}  // namespace kx
