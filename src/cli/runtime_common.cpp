#include "cli/runtime_common.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "analysis/const_build.h"
#include "runtime/running_kernel.h"
#include "runtime/uapi_names.h"
#include "spec/const_spec.h"
#include "util/files.h"
#include "util/hex.h"
#include "util/progress.h"
#include "util/stopwatch.h"

namespace kx::cli {

Result<RuntimeContext> open_scope_context(const Globals &g) {
  RuntimeContext ctx;
  KX_ASSIGN(p, resolve_profile(g.profile));
  ctx.profile = p;
  KX_ASSIGN(k, load_prepared(p));
  ctx.kernel = k;
  KX_ASSIGN(table, ScopeTable::open(ScopeTable::path_for(k.build_id)));
  ctx.table = std::make_unique<ScopeTable>(std::move(table));
  return ctx;
}

Result<RuntimeContext> open_runtime_context(const Globals &g) {
  KX_TRY(resolve_profile(g.profile));  // a bad --profile is said before anything about this kernel
  if (!x_sie_loaded())
    if (auto why = runtime_unsupported_reason(); !why.empty()) return make_error(why);
  KX_ASSIGN(ctx, open_scope_context(g));
  KX_ASSIGN(image, VmlinuxImage::open(ctx.profile.debug_vmlinux));
  uint64_t base = image->text_base() ? image->text_base() : kDefaultTextBase;
  KX_ASSIGN(running, inspect_running_kernel(base));
  if (running.build_id != ctx.kernel.build_id)
    return make_error("the running kernel (build-id " + running.build_id + ") is not the profile's " +
                      ctx.profile.name + " (build-id " + ctx.kernel.build_id + "): pick its profile with --profile");
  ctx.image = std::move(image);
  ctx.build_id = running.build_id;
  ctx.slide = running.slide;
  return ctx;
}

Result<RuntimeContext> open_plan_context(const Globals &g) {
  KX_ASSIGN(ctx, open_scope_context(g));
  KX_ASSIGN(image, VmlinuxImage::open(ctx.profile.debug_vmlinux));
  uint64_t base = image->text_base() ? image->text_base() : kDefaultTextBase;
  ctx.image = std::move(image);
  ctx.build_id = ctx.kernel.build_id;
  auto running = inspect_running_kernel(base);
  if (!running)
    ctx.not_running = running.error().message;
  else if (running->build_id != ctx.kernel.build_id)
    ctx.not_running = "the running kernel (build-id " + running->build_id + ") is not the profile's";
  else
    ctx.slide = running->slide;
  return ctx;
}

Result<nlohmann::json> const_report(RuntimeContext &ctx, const std::vector<nlohmann::json> &given,
                                    const std::string &key) {
  std::string canonical = key;
  if (auto spec = parse_const_spec(key)) canonical = spec->str();
  // A report of another analysis version is refused, not re-proven here:
  // re-analysis rebuilds kernel objects, which kx build does knowingly.
  for (auto &r : given)
    if (r.value("id", "") == key || r.value("spec", "") == canonical) {
      KX_TRY(require_current_analysis(r));
      return r;
    }
  if (auto r = ctx.table->get(canonical)) {
    KX_TRY(require_current_analysis(*r));
    return *r;
  }
  note(key + " is not in the scope table: analysing it");
  auto r = build_const(ctx.kernel, key);
  if (!r) return r.error().context(key);
  nlohmann::json j = to_json(*r);
  KX_ASSIGN(id, ctx.table->put(j));
  j["id"] = id;
  return j;
}

namespace {

void print_spans(const std::vector<SpanStatus> &spans, bool counters) {
  for (auto &s : spans) {
    printf("    %-32s %-9s %s  %s", s.label.c_str(), s.kind.c_str(), hex(s.probe).c_str(),
           probe_state_text(s.probe_state));
    if (counters) printf(", %llu hits", static_cast<unsigned long long>(s.hits));
    if (s.capture) {
      printf("; capture at %s %s", hex(s.capture).c_str(), probe_state_text(s.capture_state));
      if (counters)
        printf(", %llu captures, %llu hits without one", static_cast<unsigned long long>(s.captures),
               static_cast<unsigned long long>(s.skipped));
    }
    if (counters && s.missed) printf(", %llu missed", static_cast<unsigned long long>(s.missed));
    if (counters && s.faults) printf(", %llu faulted reads or writes", static_cast<unsigned long long>(s.faults));
    if (counters && s.policy)
      printf("; policy ran %llu times (%llu kept the compiled value, %llu out of the proven range)",
             static_cast<unsigned long long>(s.policy_runs), static_cast<unsigned long long>(s.policy_unset),
             static_cast<unsigned long long>(s.policy_rejected));
    if (counters && s.policy_busy)
      printf(", %llu not run (another BPF program was running)", static_cast<unsigned long long>(s.policy_busy));
    printf("\n");
  }
}

std::string ms(uint64_t ns) {
  char b[32];
  snprintf(b, sizeof b, "%.2f ms", ns / 1e6);
  return b;
}

// A task's name, or "exited" once it is gone.
std::string task_comm(int pid) {
  auto comm = read_file("/proc/" + std::to_string(pid) + "/comm");
  if (!comm) return "exited";
  std::string c = *comm;
  while (!c.empty() && c.back() == '\n') c.pop_back();
  return c;
}

void print_transition(const TxStatus &t) {
  printf("  transition: %s, %s", t.transition.c_str(), t.phase.c_str());
  if (t.transition == "immediate") {
    printf("\n");
    return;
  }
  if (t.transition_ns) printf(" after %s", ms(t.transition_ns).c_str());
  printf(" (stop_machine scan of %u tasks: %s, %u inside", t.scanned, ms(t.scan_ns).c_str(), t.seeded);
  if (t.unverified) printf(", %u unverifiable stacks", t.unverified);
  printf("); %u safe spans, %u monitors attached", t.safe_spans, t.monitors);
  if (t.phase != "active") printf(", %u tasks inside now", t.inside);
  if (t.switched) printf(", %llu per-thread switches", static_cast<unsigned long long>(t.switched));
  if (t.overflow) printf(", task table full: completion held back");
  if (t.lost) printf(", %llu monitor hits lost: waiting for a rescan", static_cast<unsigned long long>(t.lost));
  if (t.rescans) printf(", %u rescans", t.rescans);
  printf("\n");
  if (t.phase != "active" && !t.waiting.empty()) {
    printf("  waiting for:");
    for (int pid : t.waiting) printf(" %d (%s)", pid, task_comm(pid).c_str());
    printf("\n");
  }
}

}  // namespace

Result<uint32_t> detach_transaction(const std::string &what, const UnloadOptions &opt) {
  if (!x_sie_loaded()) {
    bool id = !what.empty() && what.find_first_not_of("0123456789") == std::string::npos;
    return make_error((id ? "no active transaction " : "no active transaction holds ") + what +
                      " (x-sie.ko is not loaded)");
  }
  KX_ASSIGN(rt, XRuntime::open());
  KX_ASSIGN(st, rt.status());
  KX_ASSIGN(id, transaction_for(st, what));
  KX_TRY(rt.unload(id, opt));
  return id;
}

void print_active_consts(const RuntimeStatus &st) {
  for (auto &c : active_consts(st)) {
    if (c.policy)
      printf("%s: set by an X-tune policy", c.name.c_str());
    else
      printf("%s = %lld", c.name.c_str(), static_cast<long long>(c.value));
    printf("  (transaction %u%s)\n", c.tx, c.phase.empty() ? "" : (", " + c.phase).c_str());
  }
}

Status print_dry_run(RuntimeContext &ctx, const std::vector<ConstRequest> &requests, TransitionMode mode,
                     const std::string &what, bool json) {
  const bool thunks = ctx.not_running.empty() && return_thunks_in_use();
  KX_ASSIGN(t, plan_transaction(requests, *ctx.image, ctx.build_id, ctx.slide, mode, thunks));
  print_plan(t, {ctx.profile.name, ctx.build_id, ctx.slide, ctx.not_running}, what, json);
  return {};
}

namespace {

// "(jump-optimized)" or "(int3: RULE, DETAIL)": the predicted kprobe kind.
std::string predicted_text(const nlohmann::json &p) {
  if (!p.is_object()) return "(kind unknown)";
  std::string kind = p.value("kind", "?");
  if (!p.contains("rule")) return "(" + kind + ")";
  return "(" + kind + ": " + p.value("rule", "") + ", " + p.value("detail", "") + ")";
}

}  // namespace

void print_plan(const Transaction &t, const PlanPlace &place, const std::string &what, bool json) {
  nlohmann::json plan = plan_json(t, place.slide);
  if (json) {
    plan["dry_run"] = true;
    plan["what"] = what;
    plan["kernel"] = place.kernel;
    plan["addresses"] = place.not_running.empty() ? "running" : "link";
    if (!place.not_running.empty()) plan["why_link_addresses"] = place.not_running;
    printf("%s\n", plan.dump(2).c_str());
    return;
  }
  printf("dry run: %s, planned and checked; nothing attached\n", what.c_str());
  printf("kernel: %s (build-id %s)\n", place.kernel.c_str(), place.build_id.c_str());
  if (place.not_running.empty())
    printf("addresses: the running kernel's (KASLR slide %s)\n", hex(place.slide).c_str());
  else
    printf("addresses: link addresses, %s (at run time KASLR adds its slide)\n", place.not_running.c_str());
  printf("transition: %s\n", plan["transition"].get<std::string>().c_str());
  for (auto &c : plan["consts"]) {
    if (c["policy"].get<bool>())
      printf("%s: set by an X-tune policy, proven for [%lld, %lld] (compiled value %lld)\n",
             c["name"].get<std::string>().c_str(), c["proven_range"][0].get<long long>(),
             c["proven_range"][1].get<long long>(), c["compiled_value"].get<long long>());
    else
      printf("%s = %lld, proven for [%lld, %lld] (compiled value %lld)\n", c["name"].get<std::string>().c_str(),
             c["value"].get<long long>(), c["proven_range"][0].get<long long>(), c["proven_range"][1].get<long long>(),
             c["compiled_value"].get<long long>());
    for (auto &sp : c["critical_spans"]) {
      printf("  critical span %-28s %-9s probe %s [%s] %s", sp["label"].get<std::string>().c_str(),
             sp["kind"].get<std::string>().c_str(), sp["probe_address"].get<std::string>().c_str(),
             sp["probe_bytes"].get<std::string>().c_str(), predicted_text(sp["probe_predicted"]).c_str());
      if (sp.contains("capture_address"))
        printf(", capture %s [%s] %s", sp["capture_address"].get<std::string>().c_str(),
               sp["capture_bytes"].get<std::string>().c_str(), predicted_text(sp["capture_predicted"]).c_str());
      if (sp["path"] == "static")
        printf("; static path: its immediate is rewritten once every task runs the new value");
      printf("\n");
    }
    for (auto &ss : c["safe_spans"]) {
      std::string exits;
      for (size_t e = 0; e < ss["exits"].size(); ++e)
        exits += " " + ss["exits"][e].get<std::string>() + " " + predicted_text(ss["exits_predicted"][e]);
      printf("  safe span entry %s %s, exits%s, %zu code range(s)\n", ss["entry"].get<std::string>().c_str(),
             predicted_text(ss["entry_predicted"]).c_str(), exits.c_str(), ss["ranges"].size());
    }
    if (c["safe_spans"].empty()) printf("  no safe-span monitors (transition immediate)\n");
  }
  printf("probe kinds: predicted by Linux 6.1's x86 optprobe rules on the code, with return thunks %s "
         "(kx status shows what the kernel made)\n",
         t.return_thunks                ? "in use"
         : place.not_running.empty() ? "patched out"
                                     : "patched out (assumed: not the running kernel)");
  for (auto &n : t.notes) printf("note: %s\n", n.c_str());
}

void print_status(const RuntimeStatus &st, bool counters, bool headers) {
  std::vector<SpanStatus> group;
  auto flush = [&] {
    if (!group.empty()) print_spans(group, counters);
    group.clear();
  };
  uint32_t tx = 0;
  std::string c;
  for (auto &s : st.spans) {
    if (s.tx != tx) {
      flush();
      tx = s.tx, c.clear();
      if (headers) printf("transaction %u\n", tx);
      for (auto &t : st.txs)
        if (t.tx == tx) print_transition(t);
    }
    if (s.const_name != c) {
      flush();
      c = s.const_name;
      if (s.policy)
        printf("  %s: set by its X-tune policy (compiled value %lld)\n", c.c_str(), static_cast<long long>(s.value));
      else
        printf("  %s = %lld\n", c.c_str(), static_cast<long long>(s.value));
    }
    group.push_back(s);
  }
  flush();
}

// The kprobe optimizer runs a moment after registration, and the
// transition completes as tasks leave the safe spans: wait (bounded) so
// the report says how each probe runs and whether everyone switched.
Result<RuntimeStatus> settle_transaction(XRuntime &rt, uint32_t id, double settle_s, double *optimized_ms) {
  Stopwatch step;
  RuntimeStatus mine;
  for (;;) {
    KX_ASSIGN(all, rt.status());
    mine = {};
    for (auto &s : all.spans)
      if (s.tx == id) mine.spans.push_back(s);
    for (auto &x : all.txs)
      if (x.tx == id) mine.txs.push_back(x);
    bool optimizing = std::any_of(mine.spans.begin(), mine.spans.end(), [](auto &s) {
      return s.probe_state == "pending" || s.capture_state == "pending";
    });
    bool switching = std::any_of(mine.txs.begin(), mine.txs.end(), [](auto &x) { return x.phase == "switching"; });
    if (!optimizing && optimized_ms && *optimized_ms < 0) *optimized_ms = step.ms();
    if ((!optimizing && !switching) || step.ms() >= settle_s * 1000) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return mine;
}

Result<uint32_t> commit_transaction(RuntimeContext &ctx, const std::vector<ConstRequest> &requests,
                                    TransitionMode mode, double settle_s, const std::string &what,
                                    std::vector<Timing> timings) {
  Stopwatch step;
  KX_ASSIGN(t, plan_transaction(requests, *ctx.image, ctx.build_id, ctx.slide, mode));
  timings.push_back({"plan", step.ms()});
  KX_ASSIGN(ko, x_sie_module_path(ctx.kernel));
  KX_TRY(ensure_x_sie(ko));
  KX_ASSIGN(rt, XRuntime::open());
  step.restart();
  KX_ASSIGN(id, rt.load(t));
  timings.push_back({"attach", step.ms()});

  double optimized_ms = -1;
  KX_ASSIGN(mine, settle_transaction(rt, id, settle_s, &optimized_ms));
  printf("transaction %u: %s\n", id, what.c_str());
  print_status(mine, false, false);
  for (auto &n : t.notes) printf("note: %s\n", n.c_str());
  // Where the time went (paper Fig. 17): user-space steps, then the module's own.
  std::string line;
  char b[96];
  for (auto &[step, ms] : timings) {
    snprintf(b, sizeof b, "%s%s %.1f ms", line.empty() ? "" : ", ", step.c_str(), ms);
    line += b;
  }
  if (!mine.txs.empty()) {
    const auto &x = mine.txs[0];
    snprintf(b, sizeof b, " (kprobes %.1f ms, monitors %.1f ms, scan %.2f ms)", x.attach_ns / 1e6,
             x.monitor_ns / 1e6, x.scan_ns / 1e6);
    line += b;
  }
  snprintf(b, sizeof b, optimized_ms < 0 ? ", optimizer still pending" : ", all optimizable probes optimized after %.0f ms",
           optimized_ms);
  line += b;
  if (!mine.txs.empty() && mine.txs[0].transition_ns)  // the module says 0 while switching
    snprintf(b, sizeof b, ", switched %.1f ms after the load began", mine.txs[0].transition_ns / 1e6);
  else
    snprintf(b, sizeof b, ", still switching");
  line += b;
  printf("time: %s\n", line.c_str());
  return id;
}

}  // namespace kx::cli
