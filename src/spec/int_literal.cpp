// Integer-literal grammar (C11 6.4.4.1 plus GNU 0b), value and re-rendering.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <vector>

#include "spec/c_tokens.h"

namespace kx {
namespace {

struct Parts {
  std::string_view prefix, digits, suffix;
  int base = 10;
};

bool is_digit_in(char c, int base) {
  switch (base) {
    case 2: return c == '0' || c == '1';
    case 8: return c >= '0' && c <= '7';
    case 10: return isdigit(static_cast<unsigned char>(c));
    default: return isxdigit(static_cast<unsigned char>(c));
  }
}

// u/U at most once, before or after l, L, ll or LL (never lL).
bool valid_suffix(std::string_view s) {
  bool u = false;
  if (!s.empty() && (s[0] == 'u' || s[0] == 'U')) u = true, s.remove_prefix(1);
  if (s.starts_with("ll") || s.starts_with("LL")) s.remove_prefix(2);
  else if (!s.empty() && (s[0] == 'l' || s[0] == 'L')) s.remove_prefix(1);
  if (!u && !s.empty() && (s[0] == 'u' || s[0] == 'U')) s.remove_prefix(1);
  return s.empty();
}

bool split_int(std::string_view t, Parts &p) {
  if (t.empty() || !isdigit(static_cast<unsigned char>(t[0]))) return false;
  size_t pre = 0;
  if (t.size() > 1 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) p.base = 16, pre = 2;
  else if (t.size() > 1 && t[0] == '0' && (t[1] == 'b' || t[1] == 'B')) p.base = 2, pre = 2;
  // A lone 0 is decimal, so re-rendering it never turns 5 into "05".
  else if (t.size() > 1 && t[0] == '0' && isdigit(static_cast<unsigned char>(t[1]))) p.base = 8, pre = 1;
  size_t end = pre;
  while (end < t.size() && is_digit_in(t[end], p.base)) end++;
  if (end == pre) return false;
  p.prefix = t.substr(0, pre);
  p.digits = t.substr(pre, end - pre);
  p.suffix = t.substr(end);
  return valid_suffix(p.suffix);
}

size_t skip_digits(std::string_view t, size_t i, int base) {
  while (i < t.size() && is_digit_in(t[i], base)) i++;
  return i;
}

// Decimal: digits with a point and/or exponent. Hex: 0x, digits, optional point, mandatory p-exponent.
bool is_float(std::string_view t) {
  bool hex = t.starts_with("0x") || t.starts_with("0X");
  int base = hex ? 16 : 10;
  size_t i = hex ? 2 : 0;
  size_t mantissa = skip_digits(t, i, base);
  size_t ndigits = mantissa - i;
  bool point = mantissa < t.size() && t[mantissa] == '.';
  i = mantissa;
  if (point) {
    size_t frac = skip_digits(t, i + 1, base);
    ndigits += frac - (i + 1);
    i = frac;
  }
  if (ndigits == 0) return false;
  bool exponent = i < t.size() && (hex ? (t[i] == 'p' || t[i] == 'P') : (t[i] == 'e' || t[i] == 'E'));
  if (exponent) {
    i++;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) i++;
    size_t e = skip_digits(t, i, 10);
    if (e == i) return false;
    i = e;
  }
  if (hex ? !exponent : !(point || exponent)) return false;
  if (i < t.size() && (t[i] == 'f' || t[i] == 'F' || t[i] == 'l' || t[i] == 'L')) i++;
  return i == t.size();
}

}  // namespace

TokenKind number_kind(std::string_view t) {
  Parts p;
  if (split_int(t, p)) return TokenKind::Integer;
  return is_float(t) ? TokenKind::Float : TokenKind::PpNumber;
}

Result<IntLiteral> parse_int_literal(std::string_view text) {
  Parts p;
  if (!split_int(text, p)) return make_error("'" + std::string(text) + "' is not an integer literal");
  uint64_t v = 0;
  for (char c : p.digits) {
    int d = isdigit(static_cast<unsigned char>(c)) ? c - '0' : tolower(c) - 'a' + 10;
    if (__builtin_mul_overflow(v, static_cast<uint64_t>(p.base), &v) ||
        __builtin_add_overflow(v, static_cast<uint64_t>(d), &v))
      return make_error("integer literal '" + std::string(text) + "' does not fit in 64 bits");
  }
  return IntLiteral{v, p.base, std::string(p.prefix), std::string(p.digits), std::string(p.suffix)};
}

Result<LiteralRange> literal_type_range(std::string_view text) {
  KX_ASSIGN(lit, parse_int_literal(text));
  std::string sfx;
  for (char c : lit.suffix) sfx += static_cast<char>(tolower(static_cast<unsigned char>(c)));
  const bool u = sfx.find('u') != std::string::npos;
  const size_t longs = std::count(sfx.begin(), sfx.end(), 'l');
  const bool decimal = lit.base == 10;
  // The candidate types in order (6.4.4.1p5); the first that holds the value is its type.
  struct Type {
    const char *name;
    uint64_t max;
  };
  constexpr uint64_t kInt = INT32_MAX, kUint = UINT32_MAX, kLong = INT64_MAX, kUlong = UINT64_MAX;
  std::vector<Type> types;
  auto add = [&](const char *n, uint64_t m) { types.push_back({n, m}); };
  if (longs == 0) {
    if (u) add("unsigned int", kUint), add("unsigned long", kUlong);
    else if (decimal) add("int", kInt), add("long", kLong);
    else add("int", kInt), add("unsigned int", kUint), add("long", kLong), add("unsigned long", kUlong);
  } else if (longs == 1) {
    if (u) add("unsigned long", kUlong);
    else if (decimal) add("long", kLong);
    else add("long", kLong), add("unsigned long", kUlong);
  } else {
    if (u) add("unsigned long long", kUlong);
    else if (decimal) add("long long", kLong);
    else add("long long", kLong), add("unsigned long long", kUlong);
  }
  for (auto &t : types)
    if (lit.value <= t.max)
      return LiteralRange{0, static_cast<int64_t>(std::min<uint64_t>(t.max, INT64_MAX)), t.name};
  return make_error("integer literal '" + std::string(text) + "' has no type (too large for its suffix)");
}

Result<std::string> render_int_literal(std::string_view text, uint64_t value) {
  KX_ASSIGN(lit, parse_int_literal(text));
  auto letter = std::find_if(lit.digits.begin(), lit.digits.end(),
                             [](unsigned char c) { return isalpha(c); });
  // With no letter written (`0x10`), the prefix's case decides.
  bool upper = letter != lit.digits.end() ? isupper(static_cast<unsigned char>(*letter)) : lit.prefix == "0X";
  const char *alphabet = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string digits;
  do {
    digits.insert(digits.begin(), alphabet[value % lit.base]);
    value /= lit.base;
  } while (value);
  // Zero padding is style (`0x00ff`); an unpadded literal stays unpadded.
  bool padded = lit.digits.size() > 1 && lit.digits[0] == '0';
  if (padded && digits.size() < lit.digits.size()) digits.insert(0, lit.digits.size() - digits.size(), '0');
  return lit.prefix + digits + lit.suffix;
}

}  // namespace kx
