// kx gen's stub and the X_TUNE markers kx load and kx unload read.
#include <gtest/gtest.h>

#include <fstream>

#include "policy/x_tune.h"

namespace kx {
namespace {

using json = nlohmann::json;

json fixture(const std::string &id) {
  std::ifstream in(std::string(KX_FIXTURES) + "/runtime/cached_consts.json");
  for (auto &r : json::parse(in))
    if (r["id"] == id) return r;
  ADD_FAILURE() << "no fixture " << id;
  return {};
}

TEST(XTune, CIdentifiers) {
  EXPECT_EQ(c_identifier("BLK_MAX_REQUEST_COUNT"), "BLK_MAX_REQUEST_COUNT");
  EXPECT_EQ(c_identifier("blk-mq_385_1"), "blk_mq_385_1");
  EXPECT_EQ(c_identifier("4x"), "c_4x");
}

TEST(XTune, StubHasOneProgramPerConstWithItsFacts) {
  auto text = generate_x_tune({fixture("SHRINK_BATCH"), fixture("HYSTART_MIN_SAMPLES")});
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_NE(text->find("#include \"x_tune.h\""), std::string::npos);
  EXPECT_NE(text->find("X_TUNE(\"SHRINK_BATCH\")\nint x_tune_SHRINK_BATCH(struct pt_regs *ctx)"), std::string::npos);
  EXPECT_NE(text->find("SHRINK_BATCH = 128 by default"), std::string::npos);
  EXPECT_NE(text->find("mm/vmscan.c:"), std::string::npos);
  EXPECT_NE(text->find("do_shrink_slab"), std::string::npos);
  EXPECT_NE(text->find("X_TUNE(\"HYSTART_MIN_SAMPLES\")"), std::string::npos);
  EXPECT_NE(text->find("SEC(\"license\") = \"GPL\""), std::string::npos);
  EXPECT_EQ(x_tune_ids(*text), (std::vector<std::string>{"SHRINK_BATCH", "HYSTART_MIN_SAMPLES"}));
}

TEST(XTune, NonLinearConstsSayTheValueIsT) {
  auto text = generate_x_tune({fixture("MAX_SOFTIRQ_TIME")});
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("x_set() takes T"), std::string::npos);
  auto linear = generate_x_tune({fixture("SHRINK_BATCH")});
  EXPECT_EQ(linear->find("x_set() takes T"), std::string::npos);
}

TEST(XTune, TheCommentSaysWhatBoundsEachSpansRange) {
  json r = fixture("HYSTART_MIN_SAMPLES");
  r["critical_spans"][0]["value_range"] = {2, 254};
  r["critical_spans"][0]["value_range_basis"] = {"8-bit unsigned compare (jbe) at cmp $0x7, %al",
                                                 "cross builds at V=2 and V=254 compile the span's shape with T = f(V)"};
  auto text = generate_x_tune({r});
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_NE(text->find("Proven for values in [2, 254]"), std::string::npos) << *text;
  EXPECT_NE(text->find(" *     8-bit unsigned compare (jbe) at cmp $0x7, %al\n"), std::string::npos) << *text;
  EXPECT_NE(text->find(" *     cross builds at V=2 and V=254"), std::string::npos) << *text;
}

TEST(XTune, RefusesUntunableAndMixedKernels) {
  json u = fixture("SHRINK_BATCH");
  u["status"] = "untunable";
  u["reason"] = "strength-reduced";
  auto r = generate_x_tune({u});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not tunable: strength-reduced"), std::string::npos);
  json other = fixture("HYSTART_MIN_SAMPLES");
  other["kernel"]["build_id"] = "00";
  EXPECT_FALSE(generate_x_tune({fixture("SHRINK_BATCH"), other}));
  EXPECT_FALSE(generate_x_tune({}));
}

TEST(XTune, MarkersIgnoreCommentsAndOtherText) {
  std::string src =
      "// X_TUNE(\"IN_A_COMMENT\") is not at a line start\n"
      "X_TUNE(\"A\")\nint a(struct pt_regs *ctx) { return 0; }\n"
      "  X_TUNE( \"B_2\" )\nint b(struct pt_regs *ctx) { return 0; }\n"
      "SEC(\"kprobe/foo\") int c(void *ctx) { return 0; }\n";
  EXPECT_EQ(x_tune_ids(src), (std::vector<std::string>{"A", "B_2"}));
}

}  // namespace
}  // namespace kx
