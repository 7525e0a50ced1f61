// What kx set, kx load and kx status share: the running kernel checked
// against the profile, the consts' reports, one transaction committed, and
// the module's view of it printed.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "kernel/tree_cache.h"
#include "runtime/transaction.h"
#include "runtime/x_runtime.h"
#include "scope/scope_table.h"

namespace kx::cli {

struct RuntimeContext {
  KernelProfile profile;
  PreparedKernel kernel;
  std::unique_ptr<VmlinuxImage> image;
  std::string build_id;  // the running kernel's, equal to the profile's
  uint64_t slide = 0;
  std::unique_ptr<ScopeTable> table;
  // Dry runs only: why the addresses are link addresses ("" when they are
  // the running kernel's).
  std::string not_running;
};

// Refuses a kernel that cannot run x-sie.ko or is not the profile's build.
Result<RuntimeContext> open_runtime_context(const Globals &g);
// kx set/load --dry-run: the profile's kernel, planned at the running
// kernel's addresses when it is that build, else at link addresses. Works
// where x-sie.ko cannot run.
Result<RuntimeContext> open_plan_context(const Globals &g);
// Only the profile's prepared kernel and scope table (kx gen: no running kernel needed).
Result<RuntimeContext> open_scope_context(const Globals &g);

// The const's report: from `given` (saved kx build --json), the scope table,
// or a fresh analysis stored there. A report from another analysis version
// is refused (require_current_analysis).
Result<nlohmann::json> const_report(RuntimeContext &ctx, const std::vector<nlohmann::json> &given,
                                    const std::string &key);

struct Timing {
  std::string step;
  double ms = 0;
};

// Plans, inserts x-sie.ko if needed, loads; waits (bounded by settle_s) for
// the kprobe optimizer and the transition; prints the result and where the
// time went (`timings`: the caller's steps before, e.g. compile and verify).
Result<uint32_t> commit_transaction(RuntimeContext &ctx, const std::vector<ConstRequest> &requests,
                                    TransitionMode mode, double settle_s, const std::string &what,
                                    std::vector<Timing> timings = {});

// kx reset/unload: detaches the transaction `what` names (its id, or a
// const it holds; see transaction_for), switching back safely.
Result<uint32_t> detach_transaction(const std::string &what, const UnloadOptions &opt);

// One line per active const: name, value, transaction and its phase.
void print_active_consts(const RuntimeStatus &st);

// Where a dry run's plan is for: the kernel, and whose addresses.
struct PlanPlace {
  std::string kernel;       // profile or bundle
  std::string build_id;
  uint64_t slide = 0;
  std::string not_running;  // why these are link addresses ("": the running kernel's)
};

// Prints a planned transaction (JSON when `json`); attaches nothing.
void print_plan(const Transaction &t, const PlanPlace &place, const std::string &what, bool json);

// Plans the transaction and prints it (JSON when `json`); attaches nothing.
Status print_dry_run(RuntimeContext &ctx, const std::vector<ConstRequest> &requests, TransitionMode mode,
                     const std::string &what, bool json);

// After a load: waits (bounded by settle_s) for the kprobe optimizer and the
// transition, then returns the module's view of transaction `id`.
Result<RuntimeStatus> settle_transaction(XRuntime &rt, uint32_t id, double settle_s, double *optimized_ms = nullptr);

// headers: a "transaction N" line before each transaction.
void print_status(const RuntimeStatus &st, bool counters, bool headers = true);

}  // namespace kx::cli
