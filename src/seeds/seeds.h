// Finding seeds (paper §3.3.2): the instructions whose immediate or
// displacement carries the constant. Seeds are taken from immediate-only
// diffs between test builds, their T = f(V) fitted over those builds, and
// each mapped onto the ORIGINAL build by alignment, which tolerates the
// register renaming and layout shifts a different value can cause there.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
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
  bool by_expression = false;  // the original has no T operand: matched by symbolic expression
};

// Seeds with no partner in the original: the original computes the same
// state with other instructions (e.g. x*1280 as lea+shl, the test builds
// with imul). The regions between the nearest aligned instructions, for
// matching by symbolic expression (synth/critical_span.h).
struct SeedRegion {
  std::string function;          // in the original
  std::string test_function;     // in the test build
  int64_t test_value = 0;        // which test build
  size_t test_first = 0, test_last = 0;  // instruction indices in the test build
  size_t orig_first = 0, orig_last = 0;  // and in the original
  std::vector<std::tuple<size_t, size_t, Relation>> seeds;  // (test insn, operand, relation)
  std::vector<std::string> unmapped;  // the unmapped messages these seeds produced
};

struct ObjectSeeds {
  std::vector<Seed> seeds;
  std::vector<std::string> structural;  // functions the test builds compile differently
  std::vector<std::string> unmapped;    // seeds with no partner in the original, with why
  std::vector<std::string> layout;      // why the constant changes layout
  std::vector<SeedRegion> regions;      // unmapped seeds, for symbolic matching
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
