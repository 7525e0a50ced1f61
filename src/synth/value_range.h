// The range of new values V' a critical span's update is proven for (paper
// §3.4). A proof over the encoding width alone says what the instructions
// compute, not what the source means: a value the compiler would never emit
// this code for, or one that spills into the other field of a packed
// immediate, is proven "correct" for the wrong program. So the range is
// found in two steps:
//   candidate — from the instructions: the seed's own field of a packed
//               immediate, the width and signedness of the compare that
//               reads T (jb/ja read it unsigned, jl/jg signed);
//   confirmed — the caller intersects it with the C type of the literal
//               and rebuilds at both ends; an end whose build is not the
//               span's shape with T = f(V') is moved inwards by bisection,
//               so every end reported was compiled and compared.
// Between two confirmed ends T = aV + b moves monotonically, so no value in
// between wraps out of the type both ends stay in.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "seeds/function_diff.h"
#include "seeds/relation.h"
#include "util/result.h"

namespace kx {

struct SpanSeed {
  size_t insn = 0;     // index in the function the span's spec is taken from
  size_t operand = 0;  // visible operand carrying T
  Relation relation;
};

// [lo, hi] in V; empty when lo > hi. `basis` says what bounds each end, for
// the report ("8-bit unsigned compare (jbe)", "cross build at V=256 …").
struct ValueRange {
  int64_t lo = 0, hi = -1;
  std::vector<std::string> basis;
  bool empty() const { return lo > hi; }
  bool contains(int64_t v) const { return lo <= v && v <= hi; }
  // Narrows to [lo, hi] ∩ [l, h], noting `why` when that moved an end.
  void intersect(int64_t l, int64_t h, const std::string &why);
};

// The values whose T each seed's operand can carry with its meaning intact
// (see the file comment), in V. A non-linear seed bounds T itself.
ValueRange candidate_range(const DecodedFunction &f, const std::vector<SpanSeed> &seeds);

// Does the build compiled with V = value have the span's shape with T = f(value)?
// False also when that value does not compile. Errors stop the search.
using SameAt = std::function<Result<bool>(int64_t value)>;

// Confirms `r` at both ends by cross builds, moving a failing end towards
// `anchor` (a value known to compile to the span: V0) until a build agrees:
// first one step in (a folded extreme, x < 256 on a byte), then bisection,
// geometric while the ends are orders of magnitude apart, each probe moved to
// a C type's limit (±2^k, ±2^k - 1) near it when one is in reach. At most
// `max_builds` values are tried per end; the end reported is always one
// that was checked (or `anchor`).
Result<ValueRange> confirm_range(ValueRange r, int64_t anchor, const SameAt &same_at, unsigned max_builds = 16);

}  // namespace kx
