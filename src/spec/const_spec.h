// A perf-const spec names one literal of the kernel source: FILE:LINE:TOKEN,
// FILE relative to the source root, LINE 1-based, TOKEN the 0-based index
// among the integer literals of that physical line once comments, strings
// and char literals are blanked (for a #define, after the name and
// parameters), or -1 for the whole body of a #define without a literal.
#pragma once
#include <string>
#include <string_view>

#include "util/result.h"

namespace kx {

struct ConstSpec {
  std::string file;  // normalised: "mm/vmscan.c", never absolute, never "..".
  int line = 0;
  int token = 0;     // -1: the whole macro body
  std::string str() const;  // the canonical FILE:LINE:TOKEN
};

Result<ConstSpec> parse_const_spec(std::string_view text);

}  // namespace kx
