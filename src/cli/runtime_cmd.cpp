// kx set SPEC|NAME=VALUE... · kx reset ID · kx status [--json]: the runtime
// (x-sie.ko) on the running kernel.
#include <chrono>

#include "util/hex.h"
#include <cstdio>
#include <iostream>
#include <thread>

#include "analysis/const_build.h"
#include "cli/commands.h"
#include "runtime/running_kernel.h"
#include "runtime/transaction.h"
#include "runtime/x_runtime.h"
#include "scope/scope_table.h"
#include "spec/const_spec.h"
#include "util/files.h"
#include "util/progress.h"

namespace kx::cli {

namespace {

struct Assignment {
  std::string key;
  int64_t value = 0;
};

Result<Assignment> parse_assignment(const std::string &arg) {
  auto eq = arg.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
    return make_error("expected SPEC=VALUE or NAME=VALUE, got '" + arg + "'");
  Assignment a{arg.substr(0, eq), 0};
  std::string v = arg.substr(eq + 1);
  try {
    size_t used = 0;
    a.value = std::stoll(v, &used, 0);
    if (used != v.size()) throw std::invalid_argument(v);
  } catch (const std::exception &) {
    return make_error("'" + v + "' is not an integer (in '" + arg + "')");
  }
  return a;
}

// Reports saved from `kx build --json` (one object or an array per file).
Result<std::vector<nlohmann::json>> read_reports(const std::vector<std::string> &files) {
  std::vector<nlohmann::json> out;
  for (auto &f : files) {
    KX_ASSIGN(text, read_file(f));
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return make_error(f + " is not JSON");
    for (auto &r : j.is_array() ? j : nlohmann::json::array({j})) {
      if (!r.is_object() || !r.contains("id")) return make_error(f + " holds no kx build report");
      out.push_back(r);
    }
  }
  return out;
}

// The const's report: from --report files, the scope table, or a fresh
// analysis stored there.
Result<nlohmann::json> const_report(const PreparedKernel &k, ScopeTable &table, const std::vector<nlohmann::json> &given,
                                    const std::string &key) {
  std::string canonical = key;
  if (auto spec = parse_const_spec(key)) canonical = spec->str();
  for (auto &r : given)
    if (r.value("id", "") == key || r.value("spec", "") == canonical) return r;
  if (auto r = table.get(canonical)) return *r;
  note(key + " is not in the scope table: analysing it");
  auto r = build_const(k, key);
  if (!r) return r.error().context(key);
  nlohmann::json j = to_json(*r);
  KX_ASSIGN(id, table.put(j));
  j["id"] = id;
  return j;
}

std::string state_text(const std::string &s) {
  if (s == "optimized") return "optimized";
  if (s == "boosted") return "not optimized (int3, boosted)";
  if (s == "pending") return "not optimized (int3; optimization pending)";
  return "not optimized (int3)";
}

void print_spans(const std::vector<SpanStatus> &spans, bool counters) {
  for (auto &s : spans) {
    printf("    %-32s %-9s %s  %s", s.label.c_str(), s.kind.c_str(), hex(s.probe).c_str(),
           state_text(s.probe_state).c_str());
    if (counters) printf(", %llu hits", static_cast<unsigned long long>(s.hits));
    if (s.capture) {
      printf("; capture at %s %s", hex(s.capture).c_str(), state_text(s.capture_state).c_str());
      if (counters)
        printf(", %llu captures, %llu hits without one", static_cast<unsigned long long>(s.captures),
               static_cast<unsigned long long>(s.skipped));
    }
    if (counters && s.missed) printf(", %llu missed", static_cast<unsigned long long>(s.missed));
    if (counters && s.faults) printf(", %llu faulted writes", static_cast<unsigned long long>(s.faults));
    printf("\n");
  }
}

void print_transactions(const std::vector<SpanStatus> &spans, bool counters) {
  uint32_t tx = 0;
  std::string c;
  std::vector<SpanStatus> group;
  auto flush = [&] {
    if (!group.empty()) print_spans(group, counters);
    group.clear();
  };
  for (auto &s : spans) {
    if (s.tx != tx) {
      flush();
      tx = s.tx, c.clear();
      printf("transaction %u\n", tx);
    }
    if (s.const_name != c) {
      flush();
      c = s.const_name;
      printf("  %s = %lld\n", c.c_str(), static_cast<long long>(s.value));
    }
    group.push_back(s);
  }
  flush();
}

Result<int> set_consts(const Globals &g, const std::vector<std::string> &args, const std::vector<std::string> &report_files,
                       double settle_s) {
  KX_ASSIGN(given, read_reports(report_files));
  std::vector<Assignment> assigns;
  for (auto &a : args) {
    KX_ASSIGN(x, parse_assignment(a));
    assigns.push_back(x);
  }
  KX_ASSIGN(p, resolve_profile(g.profile));
  if (!x_sie_loaded())
    if (auto why = runtime_unsupported_reason(); !why.empty()) return make_error(why);
  KX_ASSIGN(k, load_prepared(p));
  KX_ASSIGN(image, VmlinuxImage::open(p.debug_vmlinux));
  uint64_t base = image->text_base() ? image->text_base() : kDefaultTextBase;
  KX_ASSIGN(running, inspect_running_kernel(base));
  if (running.build_id != k.build_id)
    return make_error("the running kernel (build-id " + running.build_id + ") is not the profile's " + p.name +
                      " (build-id " + k.build_id + "): pick its profile with --profile");

  KX_ASSIGN(table, ScopeTable::open(ScopeTable::path_for(k.build_id)));
  std::vector<ConstRequest> requests;
  for (auto &a : assigns) {
    KX_ASSIGN(report, const_report(k, table, given, a.key));
    requests.push_back({report, a.value});
  }
  KX_ASSIGN(t, plan_transaction(requests, *image, running.build_id, running.slide));
  KX_ASSIGN(ko, x_sie_module_path(k));
  KX_TRY(ensure_x_sie(ko));
  KX_ASSIGN(rt, XRuntime::open());
  KX_ASSIGN(id, rt.load(t));

  // The kprobe optimizer runs a moment after registration: wait (bounded)
  // so the report says how each probe will run.
  std::vector<SpanStatus> mine;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(settle_s);
  for (;;) {
    KX_ASSIGN(all, rt.status());
    mine.clear();
    for (auto &s : all)
      if (s.tx == id) mine.push_back(s);
    bool pending = std::any_of(mine.begin(), mine.end(),
                               [](auto &s) { return s.probe_state == "pending" || s.capture_state == "pending"; });
    if (!pending || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::string what;
  for (auto &a : assigns) what += (what.empty() ? "" : ", ") + a.key + "=" + std::to_string(a.value);
  printf("transaction %u: %s\n", id, what.c_str());
  print_transactions(mine, false);
  for (auto &n : t.notes) printf("note: %s\n", n.c_str());
  return 0;
}

}  // namespace

void add_runtime_commands(CLI::App &app, Globals &g, Action &action) {
  auto *set = app.add_subcommand(
      "set",
      "set perf-consts of the running kernel, all in one transaction (x-sie.ko; analyses what the scope table "
      "lacks). For a const compiled non-linearly (tunes_t), VALUE is T, the value the binary uses, not the "
      "source value.");
  auto assigns = std::make_shared<std::vector<std::string>>();
  auto settle = std::make_shared<double>(5.0);
  auto reports = std::make_shared<std::vector<std::string>>();
  set->add_option("assignment", *assigns, "SPEC=VALUE or NAME=VALUE (FILE:LINE:TOKEN or a macro name)")->required();
  set->add_option("--settle", *settle, "seconds to wait for the kprobe optimizer before reporting")
      ->capture_default_str();
  set->add_option("--report", *reports, "a saved `kx build --json` report to take consts from first (repeatable)")
      ->allow_extra_args(false);  // one file per --report: the assignments follow
  set->callback([&g, &action, assigns, settle, reports] {
    action = [&g, assigns, settle, reports]() -> Result<int> { return set_consts(g, *assigns, *reports, *settle); };
  });

  auto *reset = app.add_subcommand("reset", "detach a transaction: its consts return to their compiled values");
  auto id = std::make_shared<uint32_t>(0);
  reset->add_option("id", *id, "the transaction id kx set printed")->required();
  reset->callback([&action, id] {
    action = [id]() -> Result<int> {
      if (!x_sie_loaded()) return make_error("no active transaction " + std::to_string(*id) + " (x-sie.ko is not loaded)");
      KX_ASSIGN(rt, XRuntime::open());
      KX_TRY(rt.unload(*id));
      printf("transaction %u detached\n", *id);
      return 0;
    };
  });

  auto *status = app.add_subcommand("status", "active transactions: consts, critical span probes, hits");
  auto json = std::make_shared<bool>(false);
  status->add_flag("--json", *json, "machine-readable output");
  status->callback([&action, json] {
    action = [json]() -> Result<int> {
      if (!x_sie_loaded()) {
        std::string why = runtime_unsupported_reason();
        if (*json)
          std::cout << nlohmann::json{{"module_loaded", false}, {"transactions", nlohmann::json::array()}}.dump(2)
                    << "\n";
        else
          std::cout << "x-sie.ko is not loaded: no active transactions" << (why.empty() ? "" : " (" + why + ")")
                    << "\n";
        return 0;
      }
      KX_ASSIGN(rt, XRuntime::open());
      KX_ASSIGN(spans, rt.status());
      if (*json) {
        std::cout << status_json(spans).dump(2) << "\n";
        return 0;
      }
      if (spans.empty()) std::cout << "no active transactions\n";
      print_transactions(spans, true);
      return 0;
    };
  });
}

}  // namespace kx::cli
