// Safe spans (paper §3.5): the instructions during which values derived from
// a perf-const are in flight, found by a forward thin slice (data
// dependencies only) from each critical span's defined state, on the linked
// kernel itself.
//
// What is tracked: registers, flags and stack slots (by offset from the
// function's entry stack pointer), through calls (arguments into callees,
// return values back to callers).
//
// THE RULE for memory: a derived value stored anywhere but the current stack
// frame ESCAPES, and the span ends there for it. The object it was stored in
// keeps the value it was given, exactly as it would if the kernel had been
// rebooted with a new constant while the object lived on: the transition
// makes new computations use the new value, it does not rewrite old objects.
// The store itself is inside the span (it consumes the value).
//
// Bounds: callees are followed 3 calls deep and callers 1 level up (at most
// 16 call sites), 20,000 instructions in all. Hitting a bound, an indirect
// call receiving a derived value, or an indirect jump makes the result
// conservative: the span is widened to the whole function concerned, and
// says so.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "slice/kernel_code.h"

namespace kx {

struct SpanStart {
  uint64_t function = 0;              // link address of the function holding the critical span
  size_t first = 0, last = 0;         // the critical span's instruction indices
  std::vector<std::string> defines;   // its defined registers/flags ("mem": escapes at once)
};

struct Range {
  std::string function;
  uint64_t start = 0, end = 0;  // link addresses, [start, end)
};

struct ProbePoint {
  uint64_t address = 0;
  std::string kind;        // "entry", "exit", "return"
  bool probeable = true;
  std::string why_not;     // when not
  std::optional<uint64_t> fallback;  // widened to the function boundary
};

struct SafeSpan {
  std::string function;                // top-level frame
  uint64_t entry = 0;                  // the critical span's start
  std::vector<uint64_t> exits;         // top frame: where the last derived value dies, or returns
  std::vector<Range> ranges;           // every range of the span, top frame, callees and callers
  std::vector<std::string> callees;    // entered with a derived value
  std::vector<std::string> callers;    // a derived return value flows into them
  size_t size_insns = 0;
  std::vector<size_t> merged_from;     // indices of the critical spans it covers
  bool conservative = false;
  std::string conservative_reason;
  std::vector<std::string> escapes;    // "function+0xOFF: store to non-stack memory"
  std::vector<ProbePoint> probes;      // entry and exit probes for the transition monitor

  // Every instruction of the span: address -> (function, length). Ranges
  // and size are derived from it.
  std::map<uint64_t, std::pair<std::string, uint8_t>> members;
};

// One safe span per critical span, then overlapping ones of the same
// function merged.
std::vector<SafeSpan> build_safe_spans(KernelCode &code, const std::vector<SpanStart> &spans);

}  // namespace kx
