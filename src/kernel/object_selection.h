// Which of the objects that can see a constant can compile differently when
// it changes (issue 14). find_affected_objects keeps every unit that
// includes the defining file and *mentions* the name somewhere it can see;
// for a header constant that is often every unit including the header
// (include/net/tcp.h's inline helpers mention TCP_RTO_MIN), far more than
// the few whose code depends on it. This narrows that set soundly: the
// constant's token is replaced by a sentinel, each unit is preprocessed with
// kbuild's own flags, and a unit is dropped only when its preprocessed text
// proves that no code it generates can depend on the token (judge_unit).
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/rebuild.h"
#include "util/result.h"

namespace kx {

// What replaces the token. A string literal, not a number or an identifier:
// preprocessing keeps it verbatim in the code it reaches, and a `#if` or
// `#elif` that evaluates the constant stops with an error ("token is not
// valid in preprocessor expressions") instead of silently reading an
// identifier as 0 — a unit that does not preprocess is kept.
inline constexpr std::string_view kSentinelName = "__kx_const_sentinel__";
std::string sentinel_literal();  // "\"__kx_const_sentinel__\""

struct UnitVerdict {
  bool affected = true;
  std::string why;
};

// Judges one unit from its preprocessed text (nullopt: it did not
// preprocess with the sentinel in place — kept). Dropped only when the
// sentinel appears nowhere, or only inside static functions no live code of
// the unit refers to (gcc emits no code for those), or only in enumerators
// of plain enum definitions that nothing else uses. Everything the judge
// cannot place (a declaration, a struct, a live function, a name it cannot
// parse) keeps the unit: over-approximation costs a rebuild, a wrong drop a
// missed use.
UnitVerdict judge_unit(const std::optional<std::string> &preprocessed);

struct ObjectSelection {
  std::vector<std::string> kept;     // sorted
  std::vector<std::string> dropped;  // sorted
  std::map<std::string, std::string> why;  // object -> the verdict's reason
  bool cached = false;
};

// The selection costs one preprocessing pass over the candidates: below
// this many it is cheaper to rebuild them all.
inline constexpr size_t kSelectAbove = 8;

// Preprocesses `objects` (tree-relative .o paths) with `token` (file,
// offset, length; its text is ignored) replaced by the sentinel, in one
// make -k of their .i targets under the tree's exclusive lock (the tree is
// restored on every path: rebuild.h), and judges each. Cached by build id,
// token and object list, so a second run costs nothing.
Result<ObjectSelection> select_expanding_objects(const PreparedKernel &k, const SourceEdit &token,
                                                 const std::vector<std::string> &objects);

}  // namespace kx
