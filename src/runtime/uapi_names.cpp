#include "runtime/uapi_names.h"

#include <iterator>

#include "x_sie_uapi.h"

namespace kx {

namespace {

struct SpanKind {
  uint32_t uapi;
  const char *name;  // synth_kind_name's, in reports
};
constexpr SpanKind kSpanKinds[] = {
    {X_SIE_INSERTION, "insertion"},
    {X_SIE_INVERSE, "inverse"},
    {X_SIE_DUAL, "dual"},
};

struct ProbeState {
  uint8_t uapi;
  const char *name;  // kx status --json
  const char *text;  // kx status
};
constexpr ProbeState kProbeStates[] = {
    {X_SIE_PROBE_INT3, "int3", "not optimized (int3)"},
    {X_SIE_PROBE_BOOSTED, "boosted", "not optimized (int3, boosted)"},
    {X_SIE_PROBE_PENDING, "pending", "not optimized (int3; optimization pending)"},
    {X_SIE_PROBE_OPTIMIZED, "optimized", "optimized"},
    {X_SIE_PROBE_STATIC, "static", "static (immediate rewritten in place, no probe)"},
    {X_SIE_PROBE_STATIC_DIFFERS, "static-differs", "static, but the live bytes are no longer the patched ones"},
};
static_assert(std::size(kProbeStates) == X_SIE_PROBE_STATIC_DIFFERS, "a probe state without a name");

}  // namespace

uint32_t span_kind_from_name(const std::string &name) {
  for (auto &k : kSpanKinds)
    if (name == k.name) return k.uapi;
  return 0;
}

const char *span_kind_name(uint32_t kind) {
  for (auto &k : kSpanKinds)
    if (kind == k.uapi) return k.name;
  return "?";
}

const char *probe_state_name(uint8_t state) {
  for (auto &s : kProbeStates)
    if (state == s.uapi) return s.name;
  return "";
}

const char *probe_state_text(const std::string &name) {
  for (auto &s : kProbeStates)
    if (name == s.name) return s.text;
  return "not optimized (int3)";
}

}  // namespace kx
