// A C tokenizer for locating perf-consts in kernel source: every token keeps
// its physical line and byte extent so a spec (FILE:LINE:TOKEN) can name one
// literal exactly, and comments, strings and char literals can never be
// mistaken for code. Preprocessing-number rules are those of C11 6.4.8, so
// `1UL`, `0x7f` and `1.5e-3` are single tokens and `u64` is an identifier.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace kx {

enum class TokenKind {
  Identifier,  // keywords included
  Integer,     // a valid integer literal, suffix included
  Float,
  PpNumber,    // any other preprocessing number (`8abc`): lexically a number, not a value
  String,      // prefix included: L"…", u8"…"
  Char,        // '0', L'x'
  HeaderName,  // <linux/foo.h> after #include
  Punct,
  Directive,   // the `#` (or `%:`) that starts a preprocessor directive
};

struct Token {
  TokenKind kind;
  std::string text;       // spelling, backslash-newlines removed
  int line = 0;           // 1-based physical line of the first byte
  size_t offset = 0;      // byte extent in the file, backslash-newlines included
  size_t length = 0;
  bool line_start = false;  // first token of a logical line: a directive ends before the next one
};

// Integer, Float or PpNumber for one preprocessing number.
TokenKind number_kind(std::string_view pp_number);

// Whole-file tokenization; comments vanish. Never fails: an unterminated
// literal ends at its line's end, as in GCC's skipped #if 0 text.
std::vector<Token> tokenize(std::string_view source);

struct IntLiteral {
  uint64_t value = 0;
  int base = 10;          // 10, 16, 8, or 2 (the GNU 0b extension)
  std::string prefix;     // "", "0x", "0X", "0" (octal), "0b", "0B"
  std::string digits;     // as written, between prefix and suffix
  std::string suffix;     // "", "U", "ul", "LLU", …
};

// `16U` → {16, 10, "", "16", "U"}; errors for non-integers and values above 2^64-1.
Result<IntLiteral> parse_int_literal(std::string_view text);

// The values a literal written like `text` takes without changing its C
// type (C11 6.4.4.1): `32` is an int, so [0, INT_MAX] — 2^31 would be a long,
// and the expression around it would mean something else; `0x10` is an int
// too (unsigned int from 2^31), `32U` an unsigned int, `8UL` an unsigned
// long (capped at INT64_MAX, the widest V kx handles). `type` names it.
struct LiteralRange {
  int64_t lo = 0, hi = 0;
  std::string type;
};
Result<LiteralRange> literal_type_range(std::string_view text);

// `value` written in the style of `text`: same base, prefix, hex-digit case,
// zero padding and suffix (`16U`, 64 → `64U`; `0x7f`, 255 → `0xff`).
Result<std::string> render_int_literal(std::string_view text, uint64_t value);

}  // namespace kx
