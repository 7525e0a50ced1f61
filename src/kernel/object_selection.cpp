#include "kernel/object_selection.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "util/files.h"
#include "util/progress.h"

namespace kx {
namespace fs = std::filesystem;

std::string sentinel_literal() { return "\"" + std::string(kSentinelName) + "\""; }

namespace {

// Bump when judge_unit changes what it drops: cached selections of another
// version are redone.
constexpr int kJudgeVersion = 1;
// Targets per make run (see the loop in select_expanding_objects).
constexpr size_t kChunk = 128;

enum class TokKind { Ident, Literal, Punct, Number };
struct Tok {
  TokKind kind;
  std::string_view text;
};

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }

// The tokens of preprocessed C. Directive lines (line markers, #pragma) are
// skipped; preprocessed text has no comments.
std::vector<Tok> tokenize(std::string_view s) {
  std::vector<Tok> out;
  size_t i = 0, n = s.size();
  bool line_start = true;
  while (i < n) {
    char c = s[i];
    if (c == '\n') {
      line_start = true;
      ++i;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (line_start && c == '#') {
      while (i < n && s[i] != '\n') ++i;
      continue;
    }
    line_start = false;
    size_t b = i;
    if (ident_start(c)) {
      while (i < n && ident_char(s[i])) ++i;
      out.push_back({TokKind::Ident, s.substr(b, i - b)});
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < n && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      // A pp-number: digits, letters, dots, and signs after an exponent.
      ++i;
      while (i < n && (ident_char(s[i]) || s[i] == '.' ||
                       ((s[i] == '+' || s[i] == '-') && std::strchr("eEpP", s[i - 1]))))
        ++i;
      out.push_back({TokKind::Number, s.substr(b, i - b)});
    } else if (c == '"' || c == '\'') {
      ++i;
      while (i < n && s[i] != c && s[i] != '\n') i += s[i] == '\\' ? 2 : 1;
      i = std::min(n, i + 1);
      out.push_back({TokKind::Literal, s.substr(b, i - b)});
    } else {
      // One character is enough: only brackets, ';', ',' and '=' matter, and
      // a '=' inside "==" or "<=" is never at a place the judge looks at.
      ++i;
      out.push_back({TokKind::Punct, s.substr(b, 1)});
    }
  }
  return out;
}

bool is(const Tok &t, char c) { return t.kind == TokKind::Punct && t.text[0] == c; }
bool opens(const Tok &t) { return is(t, '(') || is(t, '[') || is(t, '{'); }
bool closes(const Tok &t) { return is(t, ')') || is(t, ']') || is(t, '}'); }

// Index of the bracket matching the opening one at `i` (or tokens.size()).
size_t match_forward(const std::vector<Tok> &t, size_t i) {
  int depth = 0;
  for (size_t j = i; j < t.size(); ++j) {
    if (opens(t[j])) ++depth;
    else if (closes(t[j]) && --depth == 0) return j;
  }
  return t.size();
}

// Index of the bracket matching the closing one at `i`, not before `lo`.
std::optional<size_t> match_backward(const std::vector<Tok> &t, size_t i, size_t lo) {
  int depth = 0;
  for (size_t j = i + 1; j-- > lo;) {
    if (closes(t[j])) ++depth;
    else if (opens(t[j]) && --depth == 0) return j;
  }
  return std::nullopt;
}

// Words that put a parenthesised group after them without being a
// function's name.
const std::unordered_set<std::string_view> &not_names() {
  static const std::unordered_set<std::string_view> s = {
      "__attribute__", "__attribute", "__asm__", "__asm", "asm", "_Alignas", "__typeof__", "__typeof", "typeof",
      "sizeof", "_Alignof", "__alignof__", "_Static_assert", "__declspec", "void", "char", "short", "int", "long",
      "float", "double", "signed", "unsigned", "_Bool", "struct", "union", "enum", "const", "volatile", "return",
      "if", "while", "for", "switch", "do", "else"};
  return s;
}

// Attributes that make gcc emit a static function nobody calls.
const std::unordered_set<std::string_view> &emitting_attributes() {
  static const std::unordered_set<std::string_view> s = {
      "used", "__used__", "constructor", "__constructor__", "destructor", "__destructor__",
      "externally_visible", "__externally_visible__", "retain", "__retain__"};
  return s;
}

// One top-level declaration or function definition, tokens [begin, end].
struct Item {
  size_t begin = 0, end = 0;
  bool function = false;  // a definition with a body
  size_t body = 0;        // its '{'
  std::string_view name;  // a function's name, when there is a plain one
  bool droppable = false; // static, without an attribute that emits it anyway
  bool enum_def = false;  // `enum [tag] { … };` and nothing else
};

// A function body starts at a top-level '{' right after a parameter list:
// `name ( … ) {`. A struct or an initializer never has that shape (an
// attributed struct has `__attribute__ ( … ) {`, excluded by not_names).
std::optional<std::string_view> function_name_before(const std::vector<Tok> &t, size_t begin, size_t brace) {
  if (brace == begin || !is(t[brace - 1], ')')) return std::nullopt;
  auto open = match_backward(t, brace - 1, begin);
  if (!open || *open == begin) return std::nullopt;
  const Tok &before = t[*open - 1];
  if (before.kind != TokKind::Ident || not_names().count(before.text)) return std::nullopt;
  return before.text;
}

bool plain_enum(const std::vector<Tok> &t, const Item &it) {
  if (t[it.begin].kind != TokKind::Ident || t[it.begin].text != "enum") return false;
  size_t i = it.begin + 1;
  while (i <= it.end && !is(t[i], '{')) {
    if (t[i].kind == TokKind::Ident && (t[i].text == "__attribute__" || t[i].text == "__attribute")) {
      if (i + 1 > it.end || !is(t[i + 1], '(')) return false;
      i = match_forward(t, i + 1) + 1;
    } else if (t[i].kind == TokKind::Ident) {
      ++i;  // the tag
    } else {
      return false;
    }
  }
  if (i > it.end) return false;
  size_t close = match_forward(t, i);
  // Only attributes may follow the closing brace: a declarator would make
  // this a variable or typedef, which the judge does not follow.
  for (size_t j = close + 1; j < it.end; ++j) {
    if (t[j].kind == TokKind::Ident && (t[j].text == "__attribute__" || t[j].text == "__attribute") &&
        j + 1 < it.end && is(t[j + 1], '(')) {
      j = match_forward(t, j + 1);
      continue;
    }
    return false;
  }
  return close < it.end && is(t[it.end], ';');
}

std::vector<Item> split_items(const std::vector<Tok> &t) {
  std::vector<Item> items;
  size_t start = 0;
  int depth = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (depth == 0 && is(t[i], '{')) {
      if (auto name = function_name_before(t, start, i)) {
        Item it;
        it.begin = start;
        it.body = i;
        it.end = std::min(match_forward(t, i), t.size() - 1);
        it.function = true;
        it.name = *name;
        bool is_static = false, emitted = false;
        int d = 0;
        for (size_t j = start; j < i; ++j) {
          if (opens(t[j])) ++d;
          else if (closes(t[j])) --d;
          else if (t[j].kind == TokKind::Ident) {
            if (d == 0 && t[j].text == "static") is_static = true;
            if (emitting_attributes().count(t[j].text)) emitted = true;
          }
        }
        it.droppable = is_static && !emitted;
        items.push_back(it);
        i = it.end;
        start = i + 1;
        continue;
      }
    }
    if (opens(t[i])) ++depth;
    else if (closes(t[i])) depth = std::max(0, depth - 1);
    else if (depth == 0 && is(t[i], ';')) {
      Item it;
      it.begin = start;
      it.end = i;
      it.enum_def = plain_enum(t, it);
      items.push_back(it);
      start = i + 1;
    }
  }
  if (start < t.size()) items.push_back({start, t.size() - 1});
  return items;
}

bool carries_sentinel(const Tok &t) {
  // Stringified (#x) it is still in a literal, with escaped quotes.
  return t.kind != TokKind::Punct && t.text.find(kSentinelName) != std::string_view::npos;
}

// The names a token refers to: an identifier, or the identifier-like words
// in a literal (an asm string or an alias attribute names functions).
template <typename F>
void names_in(const Tok &t, F &&f) {
  if (t.kind == TokKind::Ident) {
    f(t.text);
  } else if (t.kind == TokKind::Literal) {
    std::string_view s = t.text;
    for (size_t i = 0; i < s.size();) {
      if (ident_start(s[i]) && (i == 0 || !ident_char(s[i - 1]))) {
        size_t b = i;
        while (i < s.size() && ident_char(s[i])) ++i;
        f(s.substr(b, i - b));
      } else {
        ++i;
      }
    }
  }
}

std::string excerpt(const std::vector<Tok> &t, const Item &it) {
  std::string s;
  for (size_t i = it.begin; i <= it.end && s.size() < 60; ++i) s += (s.empty() ? "" : " ") + std::string(t[i].text);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

}  // namespace

UnitVerdict judge_unit(const std::optional<std::string> &preprocessed) {
  if (!preprocessed)
    return {true, "does not preprocess with the constant replaced (a #if may test it): kept"};
  if (preprocessed->find(kSentinelName) == std::string::npos) return {false, "does not expand it"};
  std::vector<Tok> t = tokenize(*preprocessed);
  std::vector<Item> items = split_items(t);

  // Names whose value carries the constant: enumerators defined from it
  // (and the tags of their enums: an enum's type follows its values).
  std::unordered_set<std::string_view> tainted;
  auto reaches = [&](size_t b, size_t e) {
    for (size_t i = b; i <= e; ++i) {
      if (carries_sentinel(t[i])) return true;
      if (tainted.empty()) continue;
      bool hit = false;
      names_in(t[i], [&](std::string_view n) { hit = hit || tainted.count(n); });
      if (hit) return true;
    }
    return false;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (auto &it : items) {
      if (!it.enum_def) continue;
      size_t open = it.begin;
      while (!is(t[open], '{')) ++open;
      size_t close = match_forward(t, open);
      bool prev = false, any = false;
      // Enumerators, split at the top-level commas of the braces.
      for (size_t b = open + 1; b < close;) {
        size_t e = b;
        int d = 0;
        while (e < close && !(d == 0 && is(t[e], ','))) {
          if (opens(t[e])) ++d;
          else if (closes(t[e])) --d;
          ++e;
        }
        size_t eq = b;
        while (eq < e && !is(t[eq], '=')) ++eq;
        // An enumerator without a value is the previous one plus one.
        bool carries = eq < e ? reaches(eq, e - 1) : prev;
        if (carries && t[b].kind == TokKind::Ident && tainted.insert(t[b].text).second) changed = true;
        prev = carries;
        any = any || carries;
        b = e + 1;
      }
      for (size_t i = it.begin + 1; any && i < open; ++i)
        if (t[i].kind == TokKind::Ident && t[i].text != "__attribute__" && tainted.insert(t[i].text).second)
          changed = true;
    }
  }

  // What the constant reaches: a declaration keeps the unit; functions are
  // judged by whether gcc emits them.
  std::vector<const Item *> reached_fns;
  for (auto &it : items) {
    if (it.enum_def || !reaches(it.begin, it.end)) continue;
    if (!it.function) return {true, "it reaches a declaration: " + excerpt(t, it)};
    if (!it.droppable) return {true, "function " + std::string(it.name) + " uses it"};
    reached_fns.push_back(&it);
  }
  if (reached_fns.empty()) return {false, "only enumerators nothing uses carry it"};

  // Liveness: everything but a droppable static function is a root; a
  // static function is emitted when a live item refers to it by name (an
  // over-approximation: any identifier with its name counts, a local
  // variable or a member too).
  std::unordered_map<std::string_view, std::vector<const Item *>> statics;
  for (auto &it : items)
    if (it.function && it.droppable) statics[it.name].push_back(&it);
  std::unordered_set<std::string_view> live;
  std::vector<const Item *> work;
  auto visit = [&](const Item &it) {
    for (size_t i = it.begin; i <= it.end; ++i)
      names_in(t[i], [&](std::string_view n) {
        // Only the static functions' names matter (and this keeps it fast).
        auto s = statics.find(n);
        if (s == statics.end() || !live.insert(n).second) return;
        for (auto *f : s->second) work.push_back(f);
      });
  };
  for (auto &it : items)
    if (!(it.function && it.droppable)) visit(it);
  std::unordered_set<const Item *> visited;
  while (!work.empty()) {
    const Item *f = work.back();
    work.pop_back();
    if (visited.insert(f).second) visit(*f);
  }
  std::string dead;
  for (auto *f : reached_fns) {
    if (live.count(f->name)) return {true, "static function " + std::string(f->name) + " uses it and is referred to"};
    if (dead.find(std::string(f->name)) == std::string::npos)
      dead += (dead.empty() ? "" : ", ") + std::string(f->name);
  }
  return {false, "only static functions nothing refers to use it (" + dead + ")"};
}

Result<ObjectSelection> select_expanding_objects(const PreparedKernel &k, const SourceEdit &token,
                                                 const std::vector<std::string> &objects) {
  std::string key = "judge " + std::to_string(kJudgeVersion) + "\n" + k.build_id + "\n" + token.file + ":" +
                    std::to_string(token.offset) + ":" + std::to_string(token.length);
  for (auto &o : objects) key += "\n" + o;
  fs::path dir = profile_cache_dir(k.profile) / "selection";
  fs::path cache = dir / (hash_hex(key) + ".json");
  if (auto text = read_file(cache)) {
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_discarded() && j.value("key", "") == key) {
      ObjectSelection s;
      s.cached = true;
      for (auto &[o, why] : j["kept"].items()) s.kept.push_back(o), s.why[o] = why;
      for (auto &[o, why] : j["dropped"].items()) s.dropped.push_back(o), s.why[o] = why;
      return s;
    }
  }

  std::vector<std::string> targets;
  std::map<std::string, std::string> object_of;
  ObjectSelection s;
  for (auto &o : objects) {
    if (o.size() > 2 && o.ends_with(".o")) {
      targets.push_back(o.substr(0, o.size() - 2) + ".i");
      object_of[targets.back()] = o;
    } else {
      s.kept.push_back(o);
      s.why[o] = "not a C object: kept";
    }
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  KX_ASSIGN(out, make_temp_dir(dir, "pp-"));
  Progress prog("preprocessing " + std::to_string(targets.size()) + " unit(s) that see " + token.file +
                " with the constant replaced");
  // In chunks: a preprocessed unit is several MB (tcp.h's 85 units: 400 MB),
  // so each chunk is judged and deleted before the next is made; between
  // chunks the tree is restored and other kx builds may take their turn.
  size_t made_any = 0;
  std::string first_error;
  Status status;
  for (size_t c = 0; c < targets.size() && status; c += kChunk) {
    std::vector<std::string> chunk(targets.begin() + c, targets.begin() + std::min(targets.size(), c + kChunk));
    auto made = make_scratch_variant(k, {{token.file, token.offset, token.length, sentinel_literal()}}, chunk, out);
    if (!made) {
      status = made.error();
      break;
    }
    made_any += made->made.size();
    if (first_error.empty()) first_error = made->first_error;
    std::set<std::string> ok(made->made.begin(), made->made.end());
    for (auto &t : chunk) {
      const std::string &o = object_of[t];
      std::optional<std::string> text;
      if (ok.count(t)) {
        auto r = read_file(out / t);
        if (!r) {
          status = r.error();
          break;
        }
        text = std::move(*r);
        fs::remove(out / t, ec);
      }
      UnitVerdict v = judge_unit(text);
      (v.affected ? s.kept : s.dropped).push_back(o);
      s.why[o] = v.why;
    }
  }
  fs::remove_all(out, ec);
  if (!status) return status.error().context("preprocessing the units that see it");
  // Not one unit preprocessed: the tree or the toolchain is broken, and
  // keeping them all would hide it.
  if (made_any == 0 && !targets.empty())
    return make_error("preprocessing the units that see it: make made none of " + std::to_string(targets.size()) +
                      " targets" + (first_error.empty() ? "" : ": " + first_error));
  std::sort(s.kept.begin(), s.kept.end());
  std::sort(s.dropped.begin(), s.dropped.end());
  prog.done(std::to_string(s.kept.size()) + " of " + std::to_string(objects.size()) + " expand it");

  nlohmann::json j = {{"key", key}, {"kept", nlohmann::json::object()}, {"dropped", nlohmann::json::object()}};
  for (auto &o : s.kept) j["kept"][o] = s.why[o];
  for (auto &o : s.dropped) j["dropped"][o] = s.why[o];
  KX_TRY(write_file_atomic(cache, j.dump(1)));
  return s;
}

}  // namespace kx
