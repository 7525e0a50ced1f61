// Finding seeds (paper §3.3.2): the instructions whose immediate or
// displacement carries the constant. Seeds are taken from immediate-only
// diffs between test builds, their T = f(V) fitted over those builds, and
// each mapped onto the ORIGINAL build by alignment, which tolerates the
// register renaming and layout shifts a different value can cause there.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "seeds/relation.h"
#include "util/result.h"

namespace kx {

struct Seed {
  std::string object;      // tree-relative .o
  std::string function;    // in the original object
  uint64_t offset = 0;     // of the instruction in the original function
  size_t operand = 0;      // visible operand index
  std::string insn;        // original instruction, AT&T
  int64_t original_t = 0;  // T in the original build
  Relation relation;
  bool renamed = false;    // registers differ between the original and the test builds here
};

struct ObjectSeeds {
  std::vector<Seed> seeds;
  std::vector<std::string> structural;  // functions the test builds compile differently
  std::vector<std::string> unmapped;    // seeds with no partner in the original, with why
  std::vector<std::string> layout;      // why the constant changes layout
  size_t functions_changed = 0;
  // Some function's values agree in fewer than three builds (or in none):
  // another test value may confirm the fit or reveal the seeds.
  bool wants_more_values = false;
};

struct Variant {
  int64_t value;
  std::filesystem::path object;
};

// `original` is the object as shipped; `variants` the same object rebuilt at
// test values (at least two). `v0` is the original value when known; the
// original build then counts as one more sample (design.md §3: a value can
// make the compiler pick another encoding, so which builds agree varies).
Result<ObjectSeeds> find_object_seeds(const std::string &object, const std::filesystem::path &original,
                                      const std::vector<Variant> &variants, std::optional<int64_t> v0);

}  // namespace kx
