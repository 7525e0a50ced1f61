// Just enough C structure over a token stream to say what a literal belongs
// to: the #define it sits in, or the statement, declaration, enumerator or
// initialiser element around it. No parsing beyond brace and paren nesting.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "spec/c_tokens.h"

namespace kx {

// Token range [begin, end) of the logical line holding token i.
struct TokenRange {
  size_t begin = 0, end = 0;
};
TokenRange logical_line(const std::vector<Token> &toks, size_t i);

// The directive's name (`define`, `if`, …) if tokens[i] starts one, else "".
std::string directive_name(const std::vector<Token> &toks, size_t i);

struct MacroDefinition {
  std::string name;
  std::optional<std::vector<std::string>> params;  // set for function-like macros
  TokenRange body;                                 // the replacement list
  TokenRange whole;                                // from the `#` on
};
// The #define starting at tokens[hash], if it is one.
std::optional<MacroDefinition> parse_define(const std::vector<Token> &toks, size_t hash);

struct Statement {
  TokenRange range;  // directive tokens inside it excluded by join_tokens
  bool enumerator = false;  // an element of an enum body
  bool file_scope = false;  // outside every brace
};
// The statement, declaration, enumerator or initialiser element holding
// token i (outside directives). #if branches each start from the nesting at
// the #if, so branches that open braces differently do not derail the rest.
Statement statement_at(const std::vector<Token> &toks, size_t i);

// Tokens [r.begin, r.end) outside directives (unless the range is one), one
// space where the source had whitespace or a comment: "#define X ((u32)(HZ/5))".
std::string join_tokens(const std::vector<Token> &toks, TokenRange r);

}  // namespace kx
