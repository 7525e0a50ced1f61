// locate_macro: a bare name to its spec. Several #defines (often #if
// branches) are never guessed between: the preprocessor conditions are not
// evaluated here, so the user picks with FILE:LINE:TOKEN.
#include <algorithm>
#include <cctype>
#include <tuple>

#include "spec/c_structure.h"
#include "spec/c_tokens.h"
#include "spec/locate.h"
#include "spec/source_scan.h"

namespace kx {
namespace {

// An error stays one readable line even for pr_fmt's 2000 definitions.
constexpr size_t kMaxListed = 20;

struct Definition {
  std::string file;
  int line = 0;
  std::vector<std::pair<ConstSpec, std::string>> literals;  // spec and text of each literal in the body
};

bool is_identifier(const std::string &s) {
  auto head = [](unsigned char c) { return isalpha(c) || c == '_'; };
  return !s.empty() && head(s[0]) &&
         std::all_of(s.begin(), s.end(), [&](unsigned char c) { return head(c) || isdigit(c); });
}

// Cheap and never wrong by omission: some whole-word `name` is preceded,
// across blanks and backslash-newlines, by the word `define` or by the end
// of a comment. Only such files are tokenized: `HZ` or `NULL` fill thousands.
bool may_define(const std::string &src, const std::string &name) {
  auto ident = [](unsigned char c) { return isalnum(c) || c == '_' || c == '$' || c >= 0x80; };
  for (size_t p = src.find(name); p != std::string::npos; p = src.find(name, p + 1)) {
    size_t after = p + name.size();
    if ((p > 0 && ident(src[p - 1])) || (after < src.size() && ident(src[after]))) continue;
    size_t j = p;
    while (j > 0) {
      if (src[j - 1] != '\n' && isspace(static_cast<unsigned char>(src[j - 1]))) j--;
      else if (j >= 2 && src.compare(j - 2, 2, "\\\n") == 0) j -= 2;
      else if (j >= 3 && src.compare(j - 3, 3, "\\\r\n") == 0) j -= 3;
      else break;
    }
    if (j >= 2 && src.compare(j - 2, 2, "*/") == 0) return true;
    if (j >= 6 && src.compare(j - 6, 6, "define") == 0 && (j == 6 || !ident(src[j - 7]))) return true;
  }
  return false;
}

void collect(const std::string &name, const std::string &rel, const std::string &src, std::vector<Definition> &out) {
  if (!may_define(src, name)) return;
  std::vector<Token> toks = tokenize(src);
  for (size_t k = 0; k < toks.size(); k++) {
    if (toks[k].kind != TokenKind::Directive) continue;
    auto def = parse_define(toks, k);
    if (!def || def->name != name) continue;
    Definition d{rel, toks[k].line, {}};
    for (size_t b = def->body.begin; b < def->body.end; b++) {
      if (toks[b].kind != TokenKind::Integer) continue;
      int index = 0;  // among the integer literals of its physical line
      for (size_t j = b; j-- > 0 && toks[j].line == toks[b].line;) index += toks[j].kind == TokenKind::Integer;
      d.literals.push_back({ConstSpec{rel, toks[b].line, index}, toks[b].text});
    }
    out.push_back(std::move(d));
  }
}

}  // namespace

Result<ConstSite> locate_macro(const std::filesystem::path &tree, const std::string &name) {
  if (!is_identifier(name)) return make_error("'" + name + "' is not a macro name");
  std::vector<Definition> defs;
  KX_TRY(scan_sources(tree, name, [&](const std::string &rel, const std::string &src) { collect(name, rel, src, defs); }));
  std::sort(defs.begin(), defs.end(), [](auto &a, auto &b) { return std::tie(a.file, a.line) < std::tie(b.file, b.line); });
  if (defs.empty())
    return make_error("no #define " + name + " in " + tree.string() +
                      " (searched .c/.h files outside tools/, Documentation/, samples/, scripts/, usr/ and non-x86 arch/)");
  if (defs.size() > 1) {
    std::string msg = name + " is defined " + std::to_string(defs.size()) + " times:";
    for (size_t i = 0; i < defs.size() && i < kMaxListed; i++) msg += " " + defs[i].file + ":" + std::to_string(defs[i].line);
    if (defs.size() > kMaxListed) msg += " and " + std::to_string(defs.size() - kMaxListed) + " more";
    return make_error(msg + "; pass the active one as FILE:LINE:TOKEN");
  }
  const Definition &d = defs[0];
  if (d.literals.size() > 1) {
    std::string msg = name + " has " + std::to_string(d.literals.size()) + " numeric literals:";
    for (const auto &[spec, text] : d.literals) msg += " " + spec.str() + " (" + text + ")";
    return make_error(msg + "; pass the one to tune as FILE:LINE:TOKEN");
  }
  return locate_spec(tree, d.literals.empty() ? ConstSpec{d.file, d.line, -1} : d.literals[0].first);
}

}  // namespace kx
