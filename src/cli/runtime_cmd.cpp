// kx set SPEC|NAME=VALUE... · kx reset ID · kx status [--json]: the runtime
// (x-sie.ko) on the running kernel.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/runtime_common.h"
#include "util/files.h"

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

Result<int> set_consts(const Globals &g, const std::vector<std::string> &args, const std::vector<std::string> &report_files,
                       double settle_s, const std::string &transition, const DryRun &dry, bool probes_only) {
  KX_ASSIGN(given, read_reports(report_files));
  KX_ASSIGN(mode, parse_transition_mode(transition));
  std::vector<Assignment> assigns;
  for (auto &a : args) {
    KX_ASSIGN(x, parse_assignment(a));
    assigns.push_back(x);
  }
  KX_ASSIGN(ctx, dry.on ? open_plan_context(g) : open_runtime_context(g));
  std::vector<ConstRequest> requests;
  for (auto &a : assigns) {
    KX_ASSIGN(report, const_report(ctx, given, a.key));
    requests.push_back({report, a.value});
    requests.back().static_path = !probes_only;
  }
  std::string what;
  for (auto &a : assigns) what += (what.empty() ? "" : ", ") + a.key + "=" + std::to_string(a.value);
  if (dry.on) {
    KX_TRY(print_dry_run(ctx, requests, mode, what, dry.json));
    return 0;
  }
  KX_TRY(commit_transaction(ctx, requests, mode, settle_s, what));
  return 0;
}

}  // namespace

void add_transition_option(CLI::App *cmd, std::shared_ptr<std::string> transition) {
  cmd->add_option("--transition", *transition,
                  "global: switch when no task is inside a safe span; per-thread: also each task at its next "
                  "outermost safe-span entry; immediate: at once, ignoring safe spans")
      ->check(CLI::IsMember({"global", "per-thread", "immediate"}))
      ->capture_default_str();
}

void add_dry_run_options(CLI::App *cmd, std::shared_ptr<DryRun> dry) {
  cmd->add_flag("--dry-run", dry->on,
                "plan and check the transaction and print it (probes, spans, ranges, transition); attach nothing. "
                "Works where x-sie.ko cannot run");
  cmd->add_flag("--json", dry->json, "with --dry-run: the plan as JSON")->needs("--dry-run");
}

void add_unload_options(CLI::App *cmd, std::shared_ptr<UnloadOptions> opt) {
  cmd->add_option("--timeout", opt->timeout_ms, "milliseconds to wait for tasks to leave the safe spans")
      ->check(CLI::Range(0u, static_cast<unsigned>(X_SIE_MAX_TIMEOUT_MS)))
      ->capture_default_str();
  cmd->add_flag("--force", opt->force, "detach even if tasks stay inside safe spans (no side-effect safety)");
}

void add_runtime_commands(CLI::App &app, Globals &g, Action &action) {
  auto *set = app.add_subcommand(
      "set",
      "set perf-consts of the running kernel, all in one transaction (x-sie.ko; analyses what the scope table "
      "lacks). For a const compiled non-linearly (tunes_t), VALUE is T, the value the binary uses, not the "
      "source value.");
  auto assigns = std::make_shared<std::vector<std::string>>();
  auto settle = std::make_shared<double>(5.0);
  auto reports = std::make_shared<std::vector<std::string>>();
  auto transition = std::make_shared<std::string>("global");
  set->add_option("assignment", *assigns, "SPEC=VALUE or NAME=VALUE (FILE:LINE:TOKEN or a macro name)")->required();
  set->add_option("--settle", *settle, "seconds to wait for the kprobe optimizer and the transition before reporting")
      ->capture_default_str();
  set->add_option("--report", *reports, "a saved `kx build --json` report to take consts from first (repeatable)")
      ->allow_extra_args(false);  // one file per --report: the assignments follow
  add_transition_option(set, transition);
  auto probes_only = std::make_shared<bool>(false);
  set->add_flag("--probes-only", *probes_only,
                "keep every critical span on its kprobe: no immediate is rewritten in place (the static path)");
  auto dry = std::make_shared<DryRun>();
  add_dry_run_options(set, dry);
  set->callback([&g, &action, assigns, settle, reports, transition, dry, probes_only] {
    action = [&g, assigns, settle, reports, transition, dry, probes_only]() -> Result<int> {
      return set_consts(g, *assigns, *reports, *settle, *transition, *dry, *probes_only);
    };
  });

  auto *reset = app.add_subcommand(
      "reset", "detach a transaction: its consts switch back to their compiled values (safely, as they switched)");
  auto what = std::make_shared<std::string>();
  auto unload_opt = std::make_shared<UnloadOptions>();
  reset->add_option("what", *what, "the transaction id kx set or kx load printed, or a const it holds")->required();
  add_unload_options(reset, unload_opt);
  reset->callback([&action, what, unload_opt] {
    action = [what, unload_opt]() -> Result<int> {
      KX_ASSIGN(id, detach_transaction(*what, *unload_opt));
      printf("transaction %u detached\n", id);
      return 0;
    };
  });

  auto *status = app.add_subcommand("status", "active transactions: transitions, consts, critical span probes, hits");
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
      KX_ASSIGN(st, rt.status());
      if (*json) {
        std::cout << status_json(st).dump(2) << "\n";
        return 0;
      }
      if (st.spans.empty()) std::cout << "no active transactions\n";
      print_active_consts(st);
      print_status(st, true);
      return 0;
    };
  });
}

}  // namespace kx::cli
