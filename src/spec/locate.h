// Resolving a perf-const to the exact bytes of its literal in a kernel source
// tree, and saying what the literal is: an object-like macro's body, a const
// integer object's initialiser, or a literal in code (function bodies,
// enumerators, function-like macros, initialisers).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "spec/const_spec.h"
#include "util/result.h"

namespace kx {

enum class SiteKind { Macro, StaticConst, Literal };
const char *site_kind_name(SiteKind k);  // "macro", "static_const", "literal"

struct ConstSite {
  std::string spec;  // canonical FILE:LINE:TOKEN
  std::string file;  // relative to the tree
  int line = 0;
  int token = 0;     // -1: the whole body of an object-like macro
  size_t offset = 0;              // the literal's bytes in the file (for -1: the body's)
  size_t length = 0;
  std::string token_text;         // "128", "32UL"; for -1 the body, "HPAGE_PMD_NR"
  std::optional<uint64_t> value;  // empty for -1: not known from the source alone
  SiteKind kind = SiteKind::Literal;
  std::string name;  // the macro, the const object or the enumerator; "" for other literals
  std::optional<std::vector<std::string>> macro_params;  // set for a function-like macro
  std::string definition;   // the #define or statement, comments dropped, one logical line
  std::string source_line;  // the physical line as written
};

Result<ConstSite> locate_spec(const std::filesystem::path &tree, const ConstSpec &spec);

// A bare macro name: its one #define among the C sources an x86 build can
// see; the token is its body's only literal, or -1 when it has none. Refuses
// (listing the candidates as specs) several definitions or several literals.
Result<ConstSite> locate_macro(const std::filesystem::path &tree, const std::string &name);

}  // namespace kx
