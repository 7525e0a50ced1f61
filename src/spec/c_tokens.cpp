// The lexer works on the source with backslash-newlines spliced out (C
// translation phase 2) and maps every token back to its raw bytes and line.
#include "spec/c_tokens.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace kx {
namespace {

bool ident_char(unsigned char c) { return isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

// Longest first: the lexer takes the first entry that matches.
constexpr std::array<std::string_view, 29> kPuncts = {
    "%:%:", "...", "<<=", ">>=", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||",
    "*=",   "/=",  "%=",  "+=",  "-=", "&=", "^=", "|=", "##", "<:", ":>", "<%", "%>", "%:"};

class Lexer {
 public:
  explicit Lexer(std::string_view raw) : raw_(raw) { splice(); }

  std::vector<Token> run() {
    std::vector<Token> out;
    bool line_start = true;
    size_t i = 0;
    while (i < s_.size()) {
      unsigned char c = s_[i];
      if (c == '\n') {
        line_start = true;
        i++;
      } else if (isspace(c)) {
        i++;
      } else if (s_.compare(i, 2, "/*") == 0) {
        size_t end = s_.find("*/", i + 2);  // newlines inside do not end a directive
        i = end == std::string_view::npos ? s_.size() : end + 2;
      } else if (s_.compare(i, 2, "//") == 0) {
        i = std::min(s_.find('\n', i), s_.size());
      } else {
        size_t end = lex_one(i, out, line_start);
        out.back().line_start = line_start;
        line_start = false;
        i = end;
      }
    }
    return out;
  }

 private:
  // Appends the token starting at i; returns its end.
  size_t lex_one(size_t i, std::vector<Token> &out, bool line_start) {
    unsigned char c = s_[i];
    if (c == '"' || c == '\'') return push(out, c == '"' ? TokenKind::String : TokenKind::Char, i, quoted_end(i));
    if (isdigit(c) || (c == '.' && i + 1 < s_.size() && isdigit(static_cast<unsigned char>(s_[i + 1])))) {
      size_t end = pp_number_end(i);
      return push(out, number_kind(s_.substr(i, end - i)), i, end);
    }
    if (ident_char(c)) {
      size_t end = i;
      while (end < s_.size() && ident_char(s_[end])) end++;
      std::string_view word = s_.substr(i, end - i);
      bool prefix = word == "L" || word == "u" || word == "U" || word == "u8";
      if (prefix && end < s_.size() && (s_[end] == '"' || s_[end] == '\''))
        return push(out, s_[end] == '"' ? TokenKind::String : TokenKind::Char, i, quoted_end(end));
      return push(out, TokenKind::Identifier, i, end);
    }
    if (c == '<' && !line_start && after_include(out)) {
      size_t end = s_.find_first_of(">\n", i);
      return push(out, TokenKind::HeaderName, i, end == std::string_view::npos || s_[end] == '\n' ? end : end + 1);
    }
    size_t len = 1;
    for (std::string_view p : kPuncts)
      if (s_.compare(i, p.size(), p) == 0) {
        len = p.size();
        break;
      }
    std::string_view text = s_.substr(i, len);
    bool directive = line_start && (text == "#" || text == "%:");
    return push(out, directive ? TokenKind::Directive : TokenKind::Punct, i, i + len);
  }

  static bool after_include(const std::vector<Token> &out) {
    size_t n = out.size();
    return n >= 2 && out[n - 2].kind == TokenKind::Directive && !out[n - 1].line_start &&
           (out[n - 1].text == "include" || out[n - 1].text == "include_next");
  }

  // End of a '…' or "…" literal opening at q; an unterminated one stops at the newline.
  size_t quoted_end(size_t q) const {
    char quote = s_[q];
    size_t i = q + 1;
    while (i < s_.size() && s_[i] != quote && s_[i] != '\n') i += s_[i] == '\\' ? 2 : 1;
    return i < s_.size() && s_[i] == quote ? i + 1 : std::min(i, s_.size());
  }

  // C11 6.4.8: digit or .digit, then digits, letters, _, ., and e+ e- p+ p- E+ …
  size_t pp_number_end(size_t i) const {
    size_t end = i + 1;
    while (end < s_.size()) {
      char c = s_[end];
      if ((c == '+' || c == '-') && std::string_view("eEpP").find(s_[end - 1]) != std::string_view::npos) end++;
      else if (ident_char(c) || c == '.') end++;
      else break;
    }
    return end;
  }

  size_t push(std::vector<Token> &out, TokenKind kind, size_t begin, size_t end) {
    size_t raw_begin = raw_offset(begin), raw_end = raw_offset(end - 1) + 1;
    out.push_back({kind, std::string(s_.substr(begin, end - begin)), line_of(raw_begin), raw_begin,
                   raw_end - raw_begin});
    return end;
  }

  void splice() {
    if (raw_.find("\\\n") == std::string_view::npos && raw_.find("\\\r\n") == std::string_view::npos) {
      s_ = raw_;
      return;
    }
    spliced_.reserve(raw_.size());
    size_t removed = 0;
    for (size_t i = 0; i < raw_.size(); i++) {
      size_t n = raw_.compare(i, 2, "\\\n") == 0 ? 2 : raw_.compare(i, 3, "\\\r\n") == 0 ? 3 : 0;
      if (n) {
        removed += n;
        splices_.push_back({spliced_.size(), removed});
        i += n - 1;
      } else {
        spliced_ += raw_[i];
      }
    }
    s_ = spliced_;
  }

  // Splices are (spliced position, bytes removed up to there), ascending.
  size_t raw_offset(size_t i) const {
    auto it = std::upper_bound(splices_.begin(), splices_.end(), i,
                               [](size_t v, const std::pair<size_t, size_t> &sp) { return v < sp.first; });
    return it == splices_.begin() ? i : i + std::prev(it)->second;
  }

  // Tokens arrive in order, so one forward scan counts the newlines.
  int line_of(size_t raw) {
    line_ += std::count(raw_.begin() + line_pos_, raw_.begin() + raw, '\n');
    line_pos_ = raw;
    return line_;
  }

  std::string_view raw_;
  std::string spliced_;
  std::string_view s_;
  std::vector<std::pair<size_t, size_t>> splices_;
  int line_ = 1;
  size_t line_pos_ = 0;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace kx
