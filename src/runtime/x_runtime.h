// The user-space side of the X-runtime (paper §4): talks to x-sie.ko through
// /dev/x-sie, loading the module first when a transaction needs it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernel/tree_cache.h"
#include "runtime/transaction.h"
#include "util/result.h"

namespace kx {

inline constexpr const char *kXSieModuleName = "x_sie";

// Is x-sie.ko loaded in the running kernel?
bool x_sie_loaded();

// Why this kernel cannot run x-sie.ko (no loadable modules, no kprobes), or
// "" when it can.
std::string runtime_unsupported_reason();

// The x-sie.ko to insert: $KX_XSIE_MODULE, else the module built from the
// checkout's kmod/ for the profile (built now if missing or older than its
// sources).
Result<std::filesystem::path> x_sie_module_path(const PreparedKernel &k);

// Inserts the module at `ko` unless it is loaded already.
Status ensure_x_sie(const std::filesystem::path &ko);

// One span of an active transaction, as the module reports it.
struct SpanStatus {
  uint32_t tx = 0;
  std::string const_name, label, kind;
  uint64_t value = 0;
  uint64_t probe = 0, capture = 0;
  std::string probe_state, capture_state;  // "optimized", "boosted", "int3", "pending", ""
  uint64_t hits = 0, skipped = 0, captures = 0, faults = 0, missed = 0;
  bool policy = false;  // an X-tune picks the value
  uint64_t policy_runs = 0, policy_unset = 0, policy_rejected = 0, policy_busy = 0;
};

// A transaction's transition (paper §3.6), as the module reports it.
struct TxStatus {
  uint32_t tx = 0;
  std::string phase;       // "switching", "active", "reverting"
  std::string transition;  // "global", "per-thread", "immediate"
  uint32_t safe_spans = 0, monitors = 0, inside = 0, seeded = 0, scanned = 0, unverified = 0, overflow = 0;
  uint64_t switched = 0, entries = 0, exits = 0, attach_ns = 0, monitor_ns = 0, scan_ns = 0, transition_ns = 0;
  uint64_t policy_runs = 0;
  uint32_t rescans = 0;       // stop_machine scans after the first
  uint64_t lost = 0;          // monitor hits lost since the last scan (a rescan follows)
  std::vector<int> waiting;   // pids of some tasks inside a safe span now
};

struct RuntimeStatus {
  std::vector<SpanStatus> spans;
  std::vector<TxStatus> txs;
};

struct UnloadOptions {
  uint32_t timeout_ms = 10000;  // for tasks to leave the safe spans
  bool force = false;           // detach even if they do not
};

class XRuntime {
 public:
  static Result<XRuntime> open();  // the module must be loaded
  XRuntime(XRuntime &&) noexcept;
  ~XRuntime();

  // Loads the transaction; the error is the module's own reason.
  Result<uint32_t> load(const Transaction &t);
  Status unload(uint32_t id, const UnloadOptions &opt = {});
  Result<RuntimeStatus> status();

 private:
  XRuntime() = default;
  int fd_ = -1;
};

// kx status --json: transactions (with their transition) -> consts -> spans,
// and every active const by name.
nlohmann::json status_json(const RuntimeStatus &st);

// An active const, as kx status lists it and kx reset/unload look it up.
struct ActiveConst {
  std::string name;
  int64_t value = 0;  // the compiled value when a policy picks it
  bool policy = false;
  uint32_t tx = 0;
  std::string phase;  // of its transaction: "switching", "active", "reverting"
};

// Each const of each transaction once, in the module's order.
std::vector<ActiveConst> active_consts(const RuntimeStatus &st);

// The transaction kx reset/unload ARG means: ARG is its id (digits, passed
// on unchecked: the module names an id it lacks), or the name of a const an
// active transaction holds. An unknown name is an error naming the active
// consts.
Result<uint32_t> transaction_for(const RuntimeStatus &st, const std::string &arg);

}  // namespace kx
