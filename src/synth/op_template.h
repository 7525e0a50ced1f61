// Operation templates (paper §3.3–3.4, for the constants no seed carries).
//
// `x / 10` compiles to a multiply by a magic number and shifts; the magic
// number is no linear function of V, so no seed relation fits, and for other
// values the compiler may emit other instructions altogether (an add-and-
// shift fixup, a plain shift for a power of two): the function then differs
// "structurally" between builds. Where the builds differ in a straight-line
// region, we hypothesize that the region computes F(x, V) for F a C operation
// of a small table (unsigned/signed division and remainder, DIV_ROUND_UP, at
// 32 and 64 bits) on a register x live at the region's start, and accept it
// only if Z3 proves, for all x, that the ORIGINAL region leaves F(x, V0) in
// its output register and that EVERY test build's region leaves F(x, V_i) in
// one of its registers. Every other register the region writes must be dead
// after it, as must every flag it writes, and it must store nothing: the
// template then describes all of the region's effect that the code after it
// can see.
//
// The critical span is the original region; its update is dual (capture x
// at the region's start, write F(x, V') at its end), proven like every
// other update: for all entry states and V' in range, span(V0); update(V')
// equals the template's state at V' on every register still live, the flags
// and memory. V' ≥ 1 is part of the range, so no division is by zero.
#pragma once
#include <z3++.h>

#include <optional>
#include <string>
#include <vector>

#include "synth/critical_span.h"

namespace kx {

// One row of the table: F(x, v) on two bit-vectors of one width.
struct OpTemplate {
  const char *name;
  bool is_signed;  // V' stays within the signed range of the width
  z3::expr (*apply)(const z3::expr &x, const z3::expr &v);
};
const std::vector<OpTemplate> &op_templates();

// A straight-line region of the original where some test build differs, and
// the matching region of each test build: the instructions between two
// anchors every build aligns (seeds/function_diff.h, align_functions) with
// the same values. Indices inclusive.
struct DifferenceRegion {
  size_t first = 0, last = 0;                           // in the original
  std::vector<std::pair<size_t, size_t>> test;          // per test build, in order
  // How many instructions before `first` every build has alike, in the same
  // basic block, storing nothing: a region may take them in when its
  // template needs what they establish (`mov %edx, %ecx` zero-extends x).
  size_t lead = 0;
};

// The regions where the test builds differ from `orig`: instructions the
// alignment pairs with none, or with other immediates or displacements, and
// places where a test build has instructions the original lacks; close
// differences in one basic block join. Empty `why` when every difference
// lies in such a region; else why one does not (a branch differs, an
// anchor is missing).
std::vector<DifferenceRegion> difference_regions(const DecodedFunction &orig, const std::vector<TestBuild> &tests,
                                                 std::string &why);

// The critical span for region `rg` of `orig` if templates explain it (see
// the file comment), its update synthesized and proven; else empty, with
// `why`. `timeout_ms` bounds each Z3 query.
std::optional<CriticalSpan> build_template_span(const DecodedFunction &orig, const DifferenceRegion &rg,
                                                const std::vector<TestBuild> &tests, int64_t v0, std::string &why,
                                                unsigned timeout_ms = 10000);

// Every difference region of a function, each explained by templates: the
// spans (proven or not), or empty with `why` when a region is not.
std::vector<CriticalSpan> find_template_spans(const DecodedFunction &orig, const std::vector<TestBuild> &tests,
                                              int64_t v0, std::string &why, unsigned timeout_ms = 10000);

// Proves `update` for a span build_template_span made, as it proves its own:
// span(V0); update(V') == the span's templates at V', for every entry state
// and V' in [cs.v_min, cs.v_max]. For tests of the proof itself.
std::pair<ProofResult, std::string> prove_template_update(const DecodedFunction &orig, const CriticalSpan &cs,
                                                          const nlohmann::json &update, unsigned timeout_ms = 10000);

// For confirming a span's range by cross builds: does `build` (compiled with
// V = value) compute, in the region aligned with the span, each of the
// span's templates at V = value?
bool build_computes_templates(const DecodedFunction &orig, const CriticalSpan &cs, const DecodedFunction &build,
                              int64_t value, unsigned timeout_ms = 10000);

}  // namespace kx
