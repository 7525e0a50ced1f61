// The one table of x-sie.ko's ABI names (src/runtime/uapi_names.h): every
// synthesis kind a report can name reaches the module and comes back by
// name; every probe state the module can report has a name and a text.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "runtime/uapi_names.h"
#include "synth/critical_span.h"
#include "x_sie_uapi.h"

namespace kx {
namespace {

TEST(UapiNames, EverySynthesisKindHasAModuleKindAndBack) {
  std::set<uint32_t> seen;
  for (auto k : {SynthKind::Insertion, SynthKind::Inverse, SynthKind::Dual}) {
    uint32_t u = span_kind_from_name(synth_kind_name(k));
    EXPECT_TRUE(u >= X_SIE_INSERTION && u < X_SIE_KIND_END) << synth_kind_name(k);
    EXPECT_STREQ(span_kind_name(u), synth_kind_name(k));
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), size_t{X_SIE_KIND_END - X_SIE_INSERTION}) << "a module kind no synthesis kind names";
  EXPECT_EQ(span_kind_from_name("bogus"), 0u);
}

TEST(UapiNames, EveryProbeStateHasANameAndAText) {
  std::set<std::string> names;
  for (uint8_t s = X_SIE_PROBE_INT3; s <= X_SIE_PROBE_STATIC_DIFFERS; ++s) {
    std::string n = probe_state_name(s);
    EXPECT_FALSE(n.empty()) << int(s);
    EXPECT_TRUE(names.insert(n).second) << n;
  }
  EXPECT_STREQ(probe_state_name(X_SIE_PROBE_NONE), "");
  EXPECT_STREQ(probe_state_text("static"), "static (immediate rewritten in place, no probe)");
  EXPECT_STREQ(probe_state_text("optimized"), "optimized");
}

}  // namespace
}  // namespace kx
