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
};

const char *probe_state_name(uint8_t state);

class XRuntime {
 public:
  static Result<XRuntime> open();  // the module must be loaded
  XRuntime(XRuntime &&) noexcept;
  ~XRuntime();

  // Loads the transaction; the error is the module's own reason.
  Result<uint32_t> load(const Transaction &t);
  Status unload(uint32_t id);
  Result<std::vector<SpanStatus>> status();

 private:
  XRuntime() = default;
  int fd_ = -1;
};

// kx status --json: transactions -> consts -> spans.
nlohmann::json status_json(const std::vector<SpanStatus> &spans);

}  // namespace kx
