#include "kernel/affected_objects.h"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "util/files.h"

namespace kx {
namespace fs = std::filesystem;

namespace {

bool is_ident(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Offsets where `name` occurs as a whole identifier.
std::vector<size_t> mentions(const std::string &text, const std::string &name) {
  std::vector<size_t> out;
  for (size_t p = text.find(name); p != std::string::npos; p = text.find(name, p + 1)) {
    bool left = p == 0 || !is_ident(text[p - 1]);
    bool right = p + name.size() >= text.size() || !is_ident(text[p + name.size()]);
    if (left && right) out.push_back(p);
  }
  return out;
}

// The logical line around `pos` (joined over backslash continuations).
std::string logical_line(const std::string &text, size_t pos) {
  size_t start = text.rfind('\n', pos);
  start = start == std::string::npos ? 0 : start + 1;
  while (start >= 2 && text[start - 2] == '\\') {
    size_t prev = text.rfind('\n', start - 2);
    start = prev == std::string::npos ? 0 : prev + 1;
  }
  size_t end = pos;
  while ((end = text.find('\n', end)) != std::string::npos && end > 0 && text[end - 1] == '\\') ++end;
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// `text` with comments and string and character literals blanked (newlines
// kept, so offsets and lines stay): a name in a comment is not a use. A
// header that only *talks* about a macro (mmzone.h's comment on
// DEF_PRIORITY) would otherwise make every unit including it affected.
std::string code_only(std::string text) {
  enum { Code, Line, Block, Str, Chr } st = Code;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i], n = i + 1 < text.size() ? text[i + 1] : '\0';
    switch (st) {
      case Code:
        if (c == '/' && n == '/') st = Line;
        else if (c == '/' && n == '*') st = Block;
        else if (c == '"') st = Str;
        else if (c == '\'') st = Chr;
        else continue;
        text[i] = ' ';
        if (st == Line || st == Block) text[++i] = ' ';
        continue;
      case Line:  // ends at a newline not escaped by a backslash
        if (c == '\n' && text[i - 1] != '\\') st = Code;
        break;
      case Block:
        if (c == '*' && n == '/') {
          text[i] = text[i + 1] = ' ';
          ++i;
          st = Code;
          continue;
        }
        break;
      case Str:
      case Chr:
        if (c == '\\' && n != '\n') {
          text[i] = text[i + 1] = ' ';
          ++i;
          continue;
        }
        if (c == (st == Str ? '"' : '\'') || c == '\n') st = Code;  // an unterminated literal ends its line
        break;
    }
    if (c != '\n') text[i] = ' ';
  }
  return text;
}

// One object can be a unit of several modules (kbuild links a shared
// object into each module that lists it); it is rebuilt once.
void sort_unique(std::vector<std::string> &v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

class SourceCache {
 public:
  explicit SourceCache(fs::path tree) : tree_(std::move(tree)) {}
  // The file's code, comments and literals blanked (code_only).
  const std::string &get(const std::string &rel) {
    auto it = text_.find(rel);
    if (it != text_.end()) return it->second;
    auto r = read_file(tree_ / rel);
    return text_.emplace(rel, r ? code_only(*r) : std::string()).first->second;
  }

 private:
  fs::path tree_;
  std::map<std::string, std::string> text_;
};

}  // namespace

AffectedObjects find_affected_objects(const fs::path &tree, const std::vector<CompileUnit> &cus,
                                      const std::string &def_file, const std::string &macro) {
  AffectedObjects out;
  std::vector<const CompileUnit *> seeing;
  std::set<std::string> visible;  // every file a unit that includes def_file sees
  for (auto &cu : cus) {
    if (std::find(cu.files.begin(), cu.files.end(), def_file) == cu.files.end()) continue;
    seeing.push_back(&cu);
    visible.insert(cu.files.begin(), cu.files.end());
  }
  if (macro.empty()) {
    for (auto *cu : seeing) out.objects.push_back(cu->object);
    sort_unique(out.objects);
    return out;
  }

  // Follow macros defined in terms of the constant, to a fixpoint.
  SourceCache src(tree);
  static const std::regex define_re(R"(^\s*#\s*define\s+(\w+))");
  std::set<std::string> names = {macro};
  std::vector<std::string> frontier = {macro};
  while (!frontier.empty()) {
    std::string name = frontier.back();
    frontier.pop_back();
    for (auto &f : visible) {
      const std::string &text = src.get(f);
      for (size_t p : mentions(text, name)) {
        std::smatch m;
        std::string line = logical_line(text, p);
        if (std::regex_search(line, m, define_re) && names.insert(m[1]).second) frontier.push_back(m[1]);
      }
    }
  }
  out.macros.assign(names.begin(), names.end());

  // A unit is affected when one of its files uses one of the names other
  // than in the names' own definitions.
  std::set<std::string> using_files;
  for (auto &f : visible) {
    const std::string &text = src.get(f);
    for (auto &name : names) {
      for (size_t p : mentions(text, name)) {
        std::smatch m;
        std::string line = logical_line(text, p);
        if (std::regex_search(line, m, define_re) && names.count(m[1])) continue;
        using_files.insert(f);
        break;
      }
      if (using_files.count(f)) break;
    }
  }
  for (auto *cu : seeing)
    if (std::any_of(cu->files.begin(), cu->files.end(), [&](auto &f) { return using_files.count(f); }))
      out.objects.push_back(cu->object);
  sort_unique(out.objects);
  return out;
}

}  // namespace kx
