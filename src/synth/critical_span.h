// Critical spans and their indirections (paper §3.4, design.md §1).
//
// A critical span (CS) is a single-entry, single-exit instruction range of
// the ORIGINAL function that starts at the first seed of a group and ends
// where the state it defines is first consumed (or the basic block ends).
// Symbolic execution of the span with V symbolic gives the symbolic state
// expression S' = f(S_in, V). The indirection is an update the runtime runs
// at the instruction after the span, in one of three kinds:
//   insertion — the span's inputs survive it: recompute its outputs there;
//   inverse   — an input is clobbered reversibly (add/sub/xor/neg/not/odd
//               imul/inc/dec/lea-add): undo it from the outputs, then redo;
//   dual      — an input is clobbered irreversibly (and/or/shifts/mov):
//               capture it at the span's start, recompute at its end.
// Every update is proven with Z3: for all entry states and all new values in
// the recorded range, span(V0) ; update(V') == span(V') on all registers,
// defined flags and memory.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "seeds/function_diff.h"
#include "seeds/relation.h"
#include "synth/value_range.h"

namespace kx {

enum class SynthKind { Insertion, Inverse, Dual };
const char *synth_kind_name(SynthKind k);

enum class ProofResult { Proved, Failed, Timeout, NotSynthesized };
const char *proof_name(ProofResult p);

// An output of a region recognised as a C operation on a region input and
// the constant (synth/op_template.h): register `output` at the region's end
// holds F(x, V), x the low `width` bits of register `input` at its start.
struct TemplateMatch {
  std::string op;           // a row of op_templates(): "udiv", "urem", …
  unsigned width = 32;      // of x, V and F
  int input = -1, output = -1;  // register indices (sym_state.h order)
  bool sign_extended = false;   // a 32-bit F widened to 64 bits by sign, not zero
  std::string describe() const;  // "rdi = udiv32(rcx, V)"
};

struct CriticalSpan {
  std::string function;
  size_t first = 0, last = 0;        // instruction indices, inclusive
  uint64_t start = 0, end = 0;       // offsets of the first and last instruction
  uint64_t probe = 0;                // offset of the update's kprobe (after the span)
  std::optional<uint64_t> capture;   // dual: offset of the capture kprobe (the span's start)
  std::vector<std::string> defines;  // registers, flags ("zf"), "mem"
  std::vector<std::string> undefined_flags;  // flags the span leaves undefined (ISA): no one may read them
  std::string expression;            // the symbolic state expression, readable
  bool tunes_t = false;              // non-linear relation: the value set is T itself
  SynthKind kind = SynthKind::Insertion;
  nlohmann::json update;             // {"captures": [...], "assign": [{"dest", "expr"}]}
  ProofResult proof = ProofResult::NotSynthesized;
  std::string detail;                // why not proved / counterexample
  // The proof's range of new values: candidate_range() of the seeds; the
  // caller narrows it further by the literal's C type and cross builds
  // (synth/value_range.h) — a sub-range of a proven one stays proven.
  int64_t v_min = 0, v_max = 0;
  std::vector<std::string> range_basis;  // what bounds [v_min, v_max]
  std::vector<SpanSeed> seeds;           // the span's seeds, in the function its spec is taken from
  // A span matched by its symbolic expression: the test build's
  // instructions its spec is taken from (build_region_span may grow them).
  std::optional<std::pair<size_t, size_t>> spec_region;
  std::vector<std::string> notes;    // probe placement remarks
  // The symbolic state expression checked against each test build: Z3 shows
  // the ORIGINAL span instantiated at V = test value equals the span the
  // compiler generated for that value (canonicalization-aware: shl vs mul,
  // lea chains and imm8/imm32 encodings compare equal when they compute the
  // same state). value -> "same" | "differs" | "not comparable: …".
  std::vector<std::pair<int64_t, std::string>> cross_builds;
  // Set when the span was matched by operation templates rather than seeds:
  // its outputs, each F(x, V) of a template (synth/op_template.h).
  std::vector<TemplateMatch> op_templates;
};

// A test build of the function, for the cross-build check.
struct TestBuild {
  int64_t value;
  const DecodedFunction *function;
};

// A span found by its symbolic state expression where the original has no
// instruction carrying T (paper §3.3.1, Fig. 3: x*V compiled as lea+shl for
// one value and imul for another). The test build computes the state from T
// in test[test_first..test_last]; the original, with other instructions, in
// orig[orig_first..orig_last]. Z3 must show the two equal at V0; then the
// update recomputes the test build's expression for V', and is proven
// against it like any other. `seeds` index the test build. Empty, with
// `why`, when the regions do not compute the same state.
std::optional<CriticalSpan> build_region_span(const DecodedFunction &orig, size_t orig_first, size_t orig_last,
                                              const DecodedFunction &test, size_t test_first, size_t test_last,
                                              const std::vector<SpanSeed> &seeds, int64_t v0, std::string &why,
                                              unsigned timeout_ms = 10000);

// Proves `update` for the span f[first..last] over new values in [v_min,
// v_max], as build_critical_spans does for the update it synthesizes:
// "proved", or a counterexample. For the proof checker's own tests.
std::pair<ProofResult, std::string> prove_update(const DecodedFunction &f, size_t first, size_t last,
                                                 const std::vector<SpanSeed> &seeds, const nlohmann::json &update,
                                                 int64_t v_min, int64_t v_max, unsigned timeout_ms = 10000);

// Z3: the span spec[first..last], with its seeds' T = f(value), against the
// same instructions of `build` (the function compiled with V = value, aligned
// by shape): "same", "differs" or "not comparable: why".
std::string same_expression(const DecodedFunction &spec, size_t first, size_t last, const std::vector<SpanSeed> &seeds,
                            const DecodedFunction &build, int64_t value, unsigned timeout_ms = 10000);

// How another build's region computes what a test build's region computes
// from V: the register each value of V is in there (found by the aligned
// instruction that first reads it after the region, so register renaming
// is only naming), and whether flags are read after it. An error says why
// they do not correspond at `value` (the other build's V).
struct RegionMatch {
  std::vector<std::pair<int, int>> rename;  // spec GPR -> other build's GPR, for each value of V read later
  bool flags_live = true;
};
Result<RegionMatch> match_region(const DecodedFunction &spec, size_t spec_first, size_t spec_last,
                                 const std::vector<SpanSeed> &seeds, const DecodedFunction &other, size_t other_first,
                                 size_t other_last, int64_t value, unsigned timeout_ms = 10000);

// The same for a span matched by its symbolic state expression
// (build_region_span): spec[first..last] is a test build's region, and the
// build at `value` may compute it with other instructions (lea for 3, imul
// for 37), so its region is whatever lies between the partners of the
// region's aligned neighbours. "same" when Z3 shows both compute the same
// state (flags only where read after).
std::string same_region_expression(const DecodedFunction &spec, size_t first, size_t last,
                                   const std::vector<SpanSeed> &seeds, const DecodedFunction &build, int64_t value,
                                   unsigned timeout_ms = 10000);

// Groups a function's seeds into critical spans, synthesizes and proves each
// update, and checks each span against the test builds given. `timeout_ms`
// bounds each proof.
std::vector<CriticalSpan> build_critical_spans(const DecodedFunction &f, std::vector<SpanSeed> seeds,
                                               const std::vector<TestBuild> &tests = {},
                                               unsigned timeout_ms = 10000);

}  // namespace kx
