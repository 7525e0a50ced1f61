// What x-sie.ko's ABI numbers are called, in one table per kind: the span
// kinds (as `kx build` reports name them and the module numbers them) and
// the probe states (as `kx status --json` names them and as people read
// them). A new synthesis kind or probe state is added here, and only here
// on the user-space side.
#pragma once
#include <cstdint>
#include <string>

namespace kx {

// X_SIE_INSERTION… for a report's "kind" ("insertion", …); 0 if unknown.
uint32_t span_kind_from_name(const std::string &name);
// The report name of a module span kind; "?" if unknown.
const char *span_kind_name(uint32_t kind);

// "int3", "optimized", "static", …; "" for X_SIE_PROBE_NONE or unknown.
const char *probe_state_name(uint8_t state);
// For people: "not optimized (int3)", …, from a probe_state_name.
const char *probe_state_text(const std::string &name);

}  // namespace kx
