#include "scope/scope_table.h"

#include "util/hex.h"

#include <sqlite3.h>

#include <cstdio>

#include "kernel/profile.h"
#include "util/analysis_version.h"

namespace kx {
namespace fs = std::filesystem;

namespace {

// Schema version 1: consts, their uses and critical spans. The full report
// is kept as JSON too, so readers never need to reassemble it.
const char *kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS consts (
  id TEXT PRIMARY KEY, spec TEXT UNIQUE NOT NULL, name TEXT, value INTEGER, kind TEXT,
  definition TEXT, status TEXT NOT NULL, reason TEXT, analysed_at TEXT NOT NULL, report TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS uses (
  const_id TEXT NOT NULL REFERENCES consts(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
  object TEXT, function TEXT, offset INTEGER, address TEXT, insn TEXT, source TEXT, relation TEXT,
  PRIMARY KEY (const_id, idx));
CREATE TABLE IF NOT EXISTS critical_spans (
  const_id TEXT NOT NULL REFERENCES consts(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
  function TEXT, start INTEGER, "end" INTEGER, address TEXT, probe_address TEXT, capture_address TEXT,
  kind TEXT, defines TEXT, "update" TEXT, proof TEXT, v_min INTEGER, v_max INTEGER, detail TEXT,
  PRIMARY KEY (const_id, idx));
CREATE TABLE IF NOT EXISTS safe_spans (
  const_id TEXT NOT NULL REFERENCES consts(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
  function TEXT, entry TEXT, exits TEXT, callees TEXT, size_insns INTEGER, merged_from TEXT,
  conservative INTEGER, detail TEXT,
  PRIMARY KEY (const_id, idx));
)SQL";

class Stmt {
 public:
  Stmt(sqlite3 *db, const char *sql) { sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  bool ok() const { return s_ != nullptr; }
  Stmt &text(int i, const std::string &v) {
    sqlite3_bind_text(s_, i, v.c_str(), -1, SQLITE_TRANSIENT);
    return *this;
  }
  Stmt &integer(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt &null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  int step() { return sqlite3_step(s_); }
  std::string column(int i) const {
    auto *t = sqlite3_column_text(s_, i);
    return t ? reinterpret_cast<const char *>(t) : "";
  }

 private:
  sqlite3_stmt *s_ = nullptr;
};

Error sql_error(sqlite3 *db, const std::string &what) { return make_error(what + ": " + sqlite3_errmsg(db)); }

Status exec(sqlite3 *db, const char *sql) {
  char *err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "?";
    sqlite3_free(err);
    return make_error("scope table: " + m);
  }
  return {};
}

std::string str(const nlohmann::json &j, const char *key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

}  // namespace

fs::path ScopeTable::path_for(const std::string &build_id) { return kx_home() / "scope" / (build_id + ".sqlite"); }

ScopeTable::ScopeTable(ScopeTable &&o) noexcept : db_(o.db_) { o.db_ = nullptr; }
ScopeTable::~ScopeTable() {
  if (db_) sqlite3_close(db_);
}

Result<ScopeTable> ScopeTable::open(const fs::path &path) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  ScopeTable t;
  if (sqlite3_open(path.c_str(), &t.db_) != SQLITE_OK)
    return make_error("cannot open scope table " + path.string() + ": " + sqlite3_errmsg(t.db_));
  // Parallel kx builds: wait for each other's write transactions.
  sqlite3_busy_timeout(t.db_, 120000);
  KX_TRY(exec(t.db_, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;"));
  KX_TRY(exec(t.db_, kSchema));
  KX_TRY(exec(t.db_, "PRAGMA user_version=1;"));
  return t;
}

Result<std::string> ScopeTable::put(const nlohmann::json &r) {
  std::string spec = str(r, "spec"), id = str(r, "id");
  if (spec.empty() || id.empty()) return make_error("scope table: a report needs an id and a spec");
  KX_TRY(exec(db_, "BEGIN IMMEDIATE"));
  auto fail = [&](Error e) -> Result<std::string> {
    (void)exec(db_, "ROLLBACK");  // the first error is the one to report
    return e;
  };
  {
    Stmt del(db_, "DELETE FROM consts WHERE spec = ?");
    del.text(1, spec);
    if (del.step() != SQLITE_DONE) return fail(sql_error(db_, "scope table"));
  }
  {
    Stmt taken(db_, "SELECT spec FROM consts WHERE id = ?");
    taken.text(1, id);
    if (taken.step() == SQLITE_ROW) id += "@" + spec;  // the same name defined elsewhere
  }
  nlohmann::json stored = r;
  stored["id"] = id;
  char now[32];
  time_t t = time(nullptr);
  strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
  {
    Stmt ins(db_, "INSERT INTO consts VALUES (?,?,?,?,?,?,?,?,?,?)");
    ins.text(1, id).text(2, spec).text(3, str(r, "name")).text(5, str(r, "kind")).text(6, str(r, "definition"));
    if (auto v = report_value(r)) ins.integer(4, *v);
    else ins.null(4);
    ins.text(7, str(r, "status")).text(8, str(r, "reason")).text(9, now).text(10, stored.dump());
    if (ins.step() != SQLITE_DONE) return fail(sql_error(db_, "scope table"));
  }
  int idx = 0;
  for (auto &u : r.value("uses", nlohmann::json::array())) {
    Stmt ins(db_, "INSERT INTO uses VALUES (?,?,?,?,?,?,?,?,?)");
    ins.text(1, id).integer(2, idx++).text(3, str(u, "object")).text(4, str(u, "function"));
    ins.integer(5, u.value("offset", 0)).text(6, str(u, "address")).text(7, str(u, "insn")).text(8, str(u, "source"));
    ins.text(9, u.contains("relation") ? u["relation"].dump() : str(u, "nonlinear"));
    if (ins.step() != SQLITE_DONE) return fail(sql_error(db_, "scope table"));
  }
  idx = 0;
  for (auto &cs : r.value("critical_spans", nlohmann::json::array())) {
    Stmt ins(db_, "INSERT INTO critical_spans VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    ins.text(1, id).integer(2, idx++).text(3, str(cs, "function")).integer(4, cs.value("start", 0));
    ins.integer(5, cs.value("end", 0)).text(6, str(cs, "address")).text(7, str(cs, "probe_address"));
    ins.text(8, str(cs, "capture_address")).text(9, str(cs, "kind")).text(10, cs.value("defines", nlohmann::json()).dump());
    ins.text(11, cs.value("update", nlohmann::json()).dump()).text(12, str(cs, "proof"));
    auto range = cs.value("value_range", nlohmann::json::array({0, 0}));
    ins.integer(13, range[0].get<int64_t>()).integer(14, range[1].get<int64_t>()).text(15, str(cs, "detail"));
    if (ins.step() != SQLITE_DONE) return fail(sql_error(db_, "scope table"));
  }
  idx = 0;
  for (auto &ss : r.value("safe_spans", nlohmann::json::array())) {
    Stmt ins(db_, "INSERT INTO safe_spans VALUES (?,?,?,?,?,?,?,?,?,?)");
    ins.text(1, id).integer(2, idx++).text(3, str(ss, "function")).text(4, str(ss, "entry"));
    ins.text(5, ss.value("exits", nlohmann::json()).dump()).text(6, ss.value("callees", nlohmann::json()).dump());
    ins.integer(7, ss.value("size_insns", 0)).text(8, ss.value("merged_from", nlohmann::json()).dump());
    ins.integer(9, ss.value("conservative", false) ? 1 : 0).text(10, str(ss, "conservative_reason"));
    if (ins.step() != SQLITE_DONE) return fail(sql_error(db_, "scope table"));
  }
  KX_TRY(exec(db_, "COMMIT"));
  return id;
}

Result<nlohmann::json> ScopeTable::get(const std::string &key) const {
  for (const char *sql : {"SELECT report FROM consts WHERE id = ?", "SELECT report FROM consts WHERE spec = ?"}) {
    Stmt q(db_, sql);
    q.text(1, key);
    if (q.step() == SQLITE_ROW) return nlohmann::json::parse(q.column(0));
  }
  Stmt q(db_, "SELECT report, id FROM consts WHERE name = ?");
  q.text(1, key);
  std::vector<std::string> ids;
  nlohmann::json found;
  while (q.step() == SQLITE_ROW) {
    found = nlohmann::json::parse(q.column(0));
    ids.push_back(q.column(1));
  }
  if (ids.size() == 1) return found;
  if (ids.size() > 1) {
    std::string list;
    for (auto &i : ids) list += " " + i;
    return make_error("'" + key + "' names several analysed consts:" + list);
  }
  return make_error("'" + key + "' is not in the scope table (run kx build " + key + ")");
}

Result<std::vector<nlohmann::json>> ScopeTable::list() const {
  Stmt q(db_, "SELECT report FROM consts ORDER BY id");
  std::vector<nlohmann::json> out;
  while (q.step() == SQLITE_ROW) out.push_back(nlohmann::json::parse(q.column(0)));
  return out;
}

std::optional<int64_t> report_value(const nlohmann::json &r) {
  if (!r.contains("value") || !r["value"].is_number()) return std::nullopt;
  return r["value"].get<int64_t>();
}

std::string report_analysis(const nlohmann::json &r) { return str(r, "analysis"); }

bool report_is_current(const nlohmann::json &r) { return report_analysis(r) == analysis_version(); }

Status require_current_analysis(const nlohmann::json &r) {
  if (report_is_current(r)) return {};
  std::string by = report_analysis(r).empty() ? "an unversioned kx" : "kx " + report_analysis(r);
  std::string name = str(r, "name").empty() ? str(r, "id") : str(r, "name");
  // kx build takes a macro's name; any other const by its spec.
  std::string arg = str(r, "kind") == "macro" && !str(r, "name").empty() ? str(r, "name") : str(r, "spec");
  return make_error(name + " was analysed by " + by + ", not this kx (" + analysis_version() +
                    "): its spans are not proven by this code; re-run kx build " + arg);
}

std::string report_text(const nlohmann::json &r) {
  std::string o;
  auto line = [&](const std::string &s) { o += s + "\n"; };
  line(str(r, "id") + "  " + str(r, "spec") + "  " + str(r, "definition"));
  auto v = report_value(r);
  std::string value = v ? std::to_string(*v) : "(whole definition)";
  line("  value " + value + ", " + str(r, "status") + (str(r, "reason").empty() ? "" : ": " + str(r, "reason")));
  if (!report_is_current(r))
    line("  STALE: analysed by " + (report_analysis(r).empty() ? "an unversioned kx" : "kx " + report_analysis(r)) +
         ", this kx is " + analysis_version() + ": kx set and kx load refuse it until kx build runs again");
  std::string objs, values;
  for (auto &x : r.value("objects", nlohmann::json::array())) objs += " " + x.get<std::string>();
  for (auto &x : r.value("test_values", nlohmann::json::array())) values += (values.empty() ? "" : ", ") + x.dump();
  std::string family = str(r, "test_family");
  line("  objects rebuilt:" + objs + " (test values " + values +
       (family.empty() || family == "shaped" ? "" : ", " + family + " family") + ")");
  // Older reports lack the count; a selection that dropped nothing is not worth a line.
  size_t seeing = r.value("objects_seeing", size_t{0}), rebuilt = r.value("objects", nlohmann::json::array()).size();
  if (seeing > rebuilt)
    line("  objects: " + std::to_string(seeing) + " include it, " + std::to_string(rebuilt) + " expand it");
  for (auto &t : r.value("families_tried", nlohmann::json::array()))
    line("  also tried " + t.get<std::string>());
  for (auto &u : r.value("uses", nlohmann::json::array())) {
    std::string rel = u.contains("relation") ? "" : str(u, "nonlinear");
    if (u.contains("relation")) {
      int64_t a = u["relation"]["a"], b = u["relation"]["b"];
      rel = "T = " + (a == 1 ? std::string("V") : a == -1 ? std::string("-V") : std::to_string(a) + "·V");
      if (b) rel += (b > 0 ? " + " : " - ") + std::to_string(b > 0 ? b : -b);
    }
    line("  use " + str(u, "object") + " " + str(u, "function") + "+" + hex(u.value("offset", 0)) + " [" +
         str(u, "address") + "] " + str(u, "insn") + "   " + rel + (u.value("renamed", false) ? " (registers renamed)" : ""));
    std::string chain;
    for (auto &f : u.value("inline_chain", nlohmann::json::array()))
      chain += (chain.empty() ? "" : " <- ") + str(f, "function") + " " + str(f, "source");
    line("      " + (chain.empty() ? str(u, "source") : chain));
  }
  for (auto &cs : r.value("critical_spans", nlohmann::json::array())) {
    std::string defs;
    for (auto &d : cs.value("defines", nlohmann::json::array())) defs += " " + d.get<std::string>();
    std::string s = "  span " + str(cs, "function") + "+" + hex(cs.value("start", 0)) + ".." +
                    hex(cs.value("end", 0)) + " [" + str(cs, "address") + "] " + str(cs, "kind") +
                    " defines" + defs + ", update at " + str(cs, "probe_address") + ", " + str(cs, "proof");
    if (str(cs, "proof") == "proved")
      s += " for V' in [" + cs["value_range"][0].dump() + ", " + cs["value_range"][1].dump() + "]";
    if (!str(cs, "detail").empty()) s += " (" + str(cs, "detail") + ")";
    line(s);
    for (auto &why : cs.value("value_range_basis", nlohmann::json::array()))
      if (why.is_string()) line("      range: " + why.get<std::string>());
    for (auto &n : cs.value("notes", nlohmann::json::array())) line("      note: " + n.get<std::string>());
  }
  for (auto &ss : r.value("safe_spans", nlohmann::json::array())) {
    std::string exits, callees;
    for (auto &e : ss.value("exits", nlohmann::json::array())) exits += " " + e.get<std::string>();
    for (auto &c : ss.value("callees", nlohmann::json::array())) callees += " " + c.get<std::string>();
    line("  safe span " + str(ss, "function") + " entry " + str(ss, "entry") + ", " +
         std::to_string(ss.value("size_insns", 0)) + " instructions, exits" + exits +
         (callees.empty() ? "" : ", callees" + callees) +
         (ss.value("conservative", false) ? " (conservative: " + str(ss, "conservative_reason") + ")" : ""));
  }
  if (r.contains("timing")) {
    char b[64];
    std::string t = "  time:";
    for (const char *k : {"locate", "objects", "select", "rebuild", "diff", "map", "spans", "safe_spans", "total"}) {
      if (!r["timing"].contains(k)) continue;
      snprintf(b, sizeof b, " %s %.1fs", k, r["timing"][k].get<double>());
      t += b;
    }
    line(t);
  }
  return o;
}

}  // namespace kx
