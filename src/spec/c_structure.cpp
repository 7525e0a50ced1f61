#include "spec/c_structure.h"

namespace kx {
namespace {

constexpr size_t npos = static_cast<size_t>(-1);

struct Frame {
  char open = 0;             // 0 (file scope), '{', '(' or '['
  bool list = false;         // enum body or initialiser: elements end at ','
  bool enumeration = false;
  size_t start = npos;       // brace frames: first token of the current statement
  size_t before = npos;      // paren frames: the token before the '('
};

bool is_brace(const Frame &f) { return f.open == 0 || f.open == '{'; }

bool is_punct(const Token &t, std::string_view text) { return t.kind == TokenKind::Punct && t.text == text; }

// `enum`, `enum tag`, `enum __packed tag` right before the '{' at k.
bool opens_enum(const std::vector<Token> &toks, size_t k) {
  for (size_t j = k, n = 0; j-- > 0 && n < 4 && toks[j].kind == TokenKind::Identifier; n++)
    if (toks[j].text == "enum") return true;
  return false;
}

// Whether the '{' at k opens an initialiser or enum list rather than a block.
// A '{' after ')' is a compound literal `(type){…}` when the '(' follows an
// operator or `return`; after `if (…)` or `f(…)` it is a block.
Frame brace_frame(const std::vector<Token> &toks, size_t k, const Frame &top, size_t prev, size_t closed_before) {
  Frame f{'{'};
  if (top.open == '{' && top.list) f.list = true;
  else if (opens_enum(toks, k)) f.list = f.enumeration = true;
  else if (prev != npos && is_punct(toks[prev], "=")) f.list = true;
  else if (prev != npos && is_punct(toks[prev], ")") && closed_before != npos) {
    const Token &b = toks[closed_before];
    f.list = (b.kind == TokenKind::Punct && b.text != ")" && b.text != "]") || b.text == "return";
  }
  return f;
}

}  // namespace

TokenRange logical_line(const std::vector<Token> &toks, size_t i) {
  TokenRange r{i, i + 1};
  while (r.begin > 0 && !toks[r.begin].line_start) r.begin--;
  while (r.end < toks.size() && !toks[r.end].line_start) r.end++;
  return r;
}

std::string directive_name(const std::vector<Token> &toks, size_t i) {
  bool named = toks[i].kind == TokenKind::Directive && i + 1 < toks.size() && !toks[i + 1].line_start &&
               toks[i + 1].kind == TokenKind::Identifier;
  return named ? toks[i + 1].text : "";
}

std::optional<MacroDefinition> parse_define(const std::vector<Token> &toks, size_t hash) {
  if (directive_name(toks, hash) != "define") return std::nullopt;
  TokenRange line = logical_line(toks, hash);
  size_t p = hash + 2;
  if (p >= line.end || toks[p].kind != TokenKind::Identifier) return std::nullopt;
  MacroDefinition def{toks[p].text, std::nullopt, {}, line};
  const Token &name = toks[p++];
  // Function-like only when '(' touches the name: `#define F (x)` is object-like.
  if (p < line.end && is_punct(toks[p], "(") && toks[p].offset == name.offset + name.length) {
    def.params.emplace();
    for (p++; p < line.end && !is_punct(toks[p], ")"); p++)
      if (!is_punct(toks[p], ",")) def.params->push_back(toks[p].text);
    if (p == line.end) return std::nullopt;
    p++;
  }
  def.body = {p, line.end};
  return def;
}

Statement statement_at(const std::vector<Token> &toks, size_t target) {
  struct Conditional {
    std::vector<Frame> at_if;
    std::optional<std::vector<Frame>> after_first;  // nesting after the first branch, kept at #endif
  };
  std::vector<Frame> st{Frame{}};
  std::vector<Conditional> conds;
  size_t prev = npos, closed_before = npos, level = npos;
  Statement s{{target, target + 1}};
  auto finish = [&](size_t end) {
    s.range.end = end;
    return s;
  };
  for (size_t k = 0; k < toks.size(); k++) {
    const Token &t = toks[k];
    if (t.kind == TokenKind::Directive && t.line_start) {
      std::string d = directive_name(toks, k);
      if (d == "if" || d == "ifdef" || d == "ifndef") {
        conds.push_back({st, std::nullopt});
      } else if ((d == "elif" || d == "else" || d == "elifdef" || d == "elifndef") && !conds.empty()) {
        if (!conds.back().after_first) conds.back().after_first = st;
        st = conds.back().at_if;
      } else if (d == "endif" && !conds.empty()) {
        if (conds.back().after_first) st = *conds.back().after_first;
        conds.pop_back();
      }
      k = logical_line(toks, k).end - 1;
      continue;
    }
    if (is_brace(st.back()) && st.back().start == npos) st.back().start = k;
    if (k == target) {
      level = st.size() - 1;
      while (!is_brace(st[level])) level--;
      s.range.begin = st[level].start;
      s.enumerator = st[level].enumeration;
      s.file_scope = level == 0;
    }
    bool at_level = level != npos && k > target && st.size() - 1 == level;
    Frame &top = st.back();
    if (t.kind == TokenKind::Punct) {
      if (t.text == "(" || t.text == "[") {
        st.push_back(Frame{t.text[0], false, false, npos, prev});
      } else if (t.text == ")" || t.text == "]") {
        if (!is_brace(top)) closed_before = top.before, st.pop_back();
      } else if (t.text == "{") {
        Frame f = brace_frame(toks, k, top, prev, closed_before);
        if (at_level && !f.list) return finish(k);
        st.push_back(f);
      } else if (t.text == "}") {
        if (at_level) return finish(k);
        while (st.size() > 1 && !is_brace(st.back())) st.pop_back();
        if (st.size() > 1) {
          bool block = !st.back().list;
          st.pop_back();
          if (block && !st.back().list) st.back().start = npos;  // `if (…) { … } x = 1;`
        }
      } else if (is_brace(top) && (top.list ? t.text == "," : t.text == ";")) {
        if (at_level) return finish(top.list ? k : k + 1);  // a ';' belongs to its statement
        top.start = npos;
      }
    }
    prev = k;
  }
  return level == npos ? s : finish(toks.size());
}

std::string join_tokens(const std::vector<Token> &toks, TokenRange r) {
  bool directive = r.begin < r.end && toks[r.begin].kind == TokenKind::Directive;
  std::string out;
  size_t last = npos;
  for (size_t k = r.begin; k < r.end && k < toks.size();) {
    if (!directive && toks[k].kind == TokenKind::Directive && toks[k].line_start) {
      k = logical_line(toks, k).end;
      continue;
    }
    if (last != npos && toks[last].offset + toks[last].length < toks[k].offset) out += ' ';
    out += toks[k].text;
    last = k++;
  }
  return out;
}

}  // namespace kx
