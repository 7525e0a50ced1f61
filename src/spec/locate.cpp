#include "spec/locate.h"

#include <algorithm>
#include <set>

#include "spec/c_structure.h"
#include "spec/c_tokens.h"
#include "util/files.h"

namespace kx {
namespace fs = std::filesystem;
namespace {

// The physical lines of a file: line n (1-based) is [starts[n-1], starts[n]).
struct Lines {
  std::vector<size_t> starts{0};
  explicit Lines(const std::string &src) {
    for (size_t i = 0; i < src.size(); i++)
      if (src[i] == '\n') starts.push_back(i + 1);
    if (starts.back() == src.size() && starts.size() > 1) starts.pop_back();  // no line after the final newline
  }
  int count() const { return static_cast<int>(starts.size()); }
  std::string text(const std::string &src, int line) const {
    size_t b = starts[line - 1], e = src.find('\n', b);
    std::string s = src.substr(b, e == std::string::npos ? std::string::npos : e - b);
    if (!s.empty() && s.back() == '\r') s.pop_back();
    return s;
  }
};

// `static const int halve_threshold = 25;`, `const u64 x __read_mostly = 2 * NSEC_PER_MSEC;`
// (static, or at file scope): the object's name when token k is in its initialiser.
std::optional<std::string> const_object_name(const std::vector<Token> &toks, const Statement &s, size_t k) {
  static const std::set<std::string> kNotConstInteger = {"struct", "union", "enum", "typedef", "extern", "volatile"};
  std::vector<std::string> words;
  size_t i = s.range.begin;
  for (; i < k && toks[i].kind == TokenKind::Identifier; i++) {
    if (kNotConstInteger.count(toks[i].text)) return std::nullopt;
    words.push_back(toks[i].text);
  }
  bool is_static = std::find(words.begin(), words.end(), "static") != words.end();
  bool is_const = std::find(words.begin(), words.end(), "const") != words.end();
  // Pointers, arrays and calls stop the walk before the '='.
  if (i >= k || toks[i].kind != TokenKind::Punct || toks[i].text != "=" || !is_const) return std::nullopt;
  if (!is_static && !s.file_scope) return std::nullopt;
  size_t n = words.size();
  while (n > 3 && words[n - 1].starts_with("__")) n--;  // trailing attributes: __read_mostly, __initconst
  size_t qualifiers = is_static + is_const;
  if (n < qualifiers + 2) return std::nullopt;  // a type and a name
  std::string name = words[n - 1];
  // `static const int a = 1, b = 2;`: the declarator whose initialiser holds k.
  int depth = 0;
  for (size_t j = i + 1; j < k; j++) {
    std::string_view t = toks[j].kind == TokenKind::Punct ? std::string_view(toks[j].text) : "";
    depth += (t == "(" || t == "[" || t == "{") - (t == ")" || t == "]" || t == "}");
    if (depth || t != ",") continue;
    if (j + 2 >= k || toks[j + 1].kind != TokenKind::Identifier || toks[j + 2].text != "=") return std::nullopt;
    name = toks[j + 1].text;
  }
  return name;
}

Result<ConstSite> whole_body(ConstSite site, const std::vector<Token> &toks, size_t first_on_line) {
  std::optional<MacroDefinition> def;
  if (first_on_line < toks.size() && toks[first_on_line].line == site.line) def = parse_define(toks, first_on_line);
  if (!def) return make_error(site.spec + ": token -1 (a whole macro body) needs a #define on this line");
  if (def->params) return make_error(site.spec + ": token -1 needs an object-like macro; " + def->name + " takes parameters");
  if (def->body.begin == def->body.end) return make_error(site.spec + ": " + def->name + " has an empty body");
  const Token &first = toks[def->body.begin], &last = toks[def->body.end - 1];
  site.offset = first.offset;
  site.length = last.offset + last.length - first.offset;
  site.token_text = join_tokens(toks, def->body);
  site.kind = SiteKind::Macro;
  site.name = def->name;
  site.definition = join_tokens(toks, def->whole);
  return site;
}

Result<ConstSite> site_in_source(const std::string &src, const ConstSpec &spec) {
  Lines lines(src);
  if (spec.line > lines.count())
    return make_error(spec.str() + ": line " + std::to_string(spec.line) + " is past the end of " + spec.file + " (" +
                      std::to_string(lines.count()) + " lines)");
  ConstSite site{spec.str(), spec.file, spec.line, spec.token};
  site.source_line = lines.text(src, spec.line);

  std::vector<Token> toks = tokenize(src);
  auto by_line = [](const Token &t, int line) { return t.line < line; };
  size_t first = std::lower_bound(toks.begin(), toks.end(), spec.line, by_line) - toks.begin();
  if (spec.token == -1) return whole_body(std::move(site), toks, first);
  std::vector<size_t> ints;
  for (size_t k = first; k < toks.size() && toks[k].line == spec.line; k++)
    if (toks[k].kind == TokenKind::Integer) ints.push_back(k);
  if (static_cast<size_t>(spec.token) >= ints.size()) {
    std::string msg = spec.str() + ": token index out of range: the line has " + std::to_string(ints.size()) +
                      " numeric token" + (ints.size() == 1 ? "" : "s");
    for (size_t n = 0; n < ints.size(); n++) msg += (n ? ", " : ": ") + std::to_string(n) + "=" + toks[ints[n]].text;
    return make_error(msg);
  }
  size_t k = ints[spec.token];
  const Token &tok = toks[k];
  auto lit = parse_int_literal(tok.text);
  if (!lit) return lit.error().context(spec.str());
  site.offset = tok.offset;
  site.length = tok.length;
  site.token_text = tok.text;
  site.value = lit->value;

  size_t line_begin = logical_line(toks, k).begin;
  if (toks[line_begin].kind == TokenKind::Directive) {
    auto def = parse_define(toks, line_begin);
    if (!def)
      return make_error(spec.str() + ": the literal is in a #" + directive_name(toks, line_begin) +
                        " directive, which only chooses what gets compiled; a perf-const lives in a #define or in code");
    site.kind = def->params ? SiteKind::Literal : SiteKind::Macro;  // a function-like macro's literal is code at each use
    site.name = def->name;
    site.macro_params = def->params;
    site.definition = join_tokens(toks, def->whole);
    return site;
  }
  Statement stmt = statement_at(toks, k);
  site.definition = join_tokens(toks, stmt.range);
  if (auto name = const_object_name(toks, stmt, k)) {
    site.kind = SiteKind::StaticConst;
    site.name = *name;
  } else if (stmt.enumerator && toks[stmt.range.begin].kind == TokenKind::Identifier) {
    site.name = toks[stmt.range.begin].text;
  }
  return site;
}

}  // namespace

const char *site_kind_name(SiteKind k) {
  switch (k) {
    case SiteKind::Macro: return "macro";
    case SiteKind::StaticConst: return "static_const";
    case SiteKind::Literal: return "literal";
  }
  return "?";
}

Result<ConstSite> locate_spec(const fs::path &tree, const ConstSpec &spec) {
  fs::path path = tree / spec.file;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return make_error(spec.str() + ": no file " + spec.file + " in " + tree.string());
  KX_ASSIGN(src, read_file(path));
  return site_in_source(src, spec);
}

}  // namespace kx
