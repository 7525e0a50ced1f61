// The scope table (paper §3.1): what the offline analysis found for each
// perf-const of one kernel build, kept in SQLite, one database per build-id
// under $KX_HOME/scope/. Each `kx build` writes one const in one
// transaction, so analyses run in parallel (xargs -P, a batch scheduler)
// can share a database.
#pragma once
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "util/result.h"

struct sqlite3;

namespace kx {

class ScopeTable {
 public:
  static Result<ScopeTable> open(const std::filesystem::path &db);
  static std::filesystem::path path_for(const std::string &build_id);  // $KX_HOME/scope/<id>.sqlite
  ScopeTable(ScopeTable &&) noexcept;
  ~ScopeTable();

  // Stores a const's report (the `kx build --json` object), replacing any
  // earlier analysis of the same spec. Returns the id it is stored under
  // (the report's id, made unique if another spec already holds it).
  Result<std::string> put(const nlohmann::json &report);
  // By id, by canonical spec, or by name when that is unambiguous.
  Result<nlohmann::json> get(const std::string &id_or_spec) const;
  Result<std::vector<nlohmann::json>> list() const;

 private:
  ScopeTable() = default;
  sqlite3 *db_ = nullptr;
};

// The human-readable form of a report (kx build, kx show).
std::string report_text(const nlohmann::json &report);

// A report's compiled value V; empty for a whole definition whose uses did
// not give it back.
std::optional<int64_t> report_value(const nlohmann::json &report);

// The analysis version a report was made by ("" for reports from before
// reports carried one), and whether that is this kx's (util/analysis_version.h).
std::string report_analysis(const nlohmann::json &report);
bool report_is_current(const nlohmann::json &report);
// Refuses a report made by another analysis: its proofs are not this kx's.
// One line naming the const, both versions and the fix (kx build).
Status require_current_analysis(const nlohmann::json &report);

}  // namespace kx
