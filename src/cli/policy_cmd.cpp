// kx gen SPEC|ID... -o FILE.bpf.c · kx load FILE.bpf.c · kx unload ID|FILE:
// X-tune policies (paper §3.6) on the running kernel.
#include <cstdio>
#include <set>

#include "cli/commands.h"
#include "cli/runtime_common.h"
#include "policy/x_tune.h"
#include "util/files.h"
#include "util/stopwatch.h"

namespace kx::cli {

namespace {

// The policy's build directory, removed whichever way the command returns.
struct RemovedOnReturn {
  std::filesystem::path dir;
  ~RemovedOnReturn() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Result<int> gen(const Globals &g, const std::vector<std::string> &keys, const std::string &out) {
  KX_ASSIGN(ctx, open_scope_context(g));
  std::vector<nlohmann::json> reports;
  for (auto &k : keys) {
    KX_ASSIGN(r, const_report(ctx, {}, k));
    reports.push_back(r);
  }
  KX_ASSIGN(text, generate_x_tune(reports));
  if (out == "-") {
    fputs(text.c_str(), stdout);
    return 0;
  }
  if (std::filesystem::exists(out)) return make_error(out + " exists: kx gen never overwrites a policy");
  KX_TRY(write_file_atomic(out, text));
  printf("wrote %s: %zu X-tune(s); edit the policies, then: kx load %s\n", out.c_str(), reports.size(), out.c_str());
  return 0;
}

// The consts' analysis versions as the scope table has them, for a stamp;
// refuses a const that is not tunable or named otherwise than by its ID.
Result<std::map<std::string, std::string>> analyses_of(RuntimeContext &ctx, const std::vector<std::string> &ids) {
  std::map<std::string, std::string> out;
  for (auto &id : ids) {
    KX_ASSIGN(report, const_report(ctx, {}, id));
    if (report.value("id", "") != id)
      return make_error("X_TUNE(\"" + id + "\") names " + report.value("id", std::string("?")) +
                        ": use the scope table's ID (kx list)");
    if (report.value("status", "") != "tunable")
      return make_error(id + " is not tunable: " + report.value("reason", std::string("no reason recorded")));
    out[id] = report.value("analysis", "");
  }
  return out;
}

// kx compile: the policy compiled once, on the build host, stamped with the
// kernel build and the analyses it is for (docs/bundle.md).
Result<int> compile(const Globals &g, const std::string &file, std::string out) {
  KX_ASSIGN(source, read_file(file));
  auto ids = x_tune_ids(source);
  if (ids.empty()) return make_error(file + " has no X_TUNE(\"ID\") program (write one with kx gen)");
  KX_ASSIGN(ctx, open_scope_context(g));
  KX_ASSIGN(analyses, analyses_of(ctx, ids));
  if (out.empty()) out = std::filesystem::path(file).stem().string() + ".o";  // plug.bpf.c -> plug.bpf.o
  KX_ASSIGN(tmp, make_temp_dir(std::filesystem::temp_directory_path(), "kx-policy-"));
  RemovedOnReturn cleanup{tmp};
  KX_ASSIGN(obj, compile_x_tune(ctx.profile, file, tmp));
  PolicyStamp stamp{ctx.kernel.build_id, analyses, std::filesystem::path(file).filename().string(), KX_VERSION};
  KX_TRY(stamp_x_tune(obj, stamp, out));
  // What kx apply will check, checked once here.
  KX_ASSIGN(compiled, inspect_x_tune(out));
  printf("wrote %s: %zu X-tune(s) for %s (build-id %s); ship it with the bundle, name it in a config: policy = %s\n",
         out.c_str(), compiled.ids.size(), ctx.profile.name.c_str(), stamp.build_id.c_str(),
         std::filesystem::path(out).filename().c_str());
  return 0;
}

// kx load --dry-run: compiles the policy (so a broken one fails here too)
// but loads nothing into the kernel: its programs stand in as fd 0.
Result<int> dry_load(const Globals &g, const std::string &file, TransitionMode mode, const DryRun &dry,
                     const std::vector<std::string> &ids) {
  KX_ASSIGN(ctx, open_plan_context(g));
  KX_ASSIGN(tmp, make_temp_dir(std::filesystem::temp_directory_path(), "kx-policy-"));
  RemovedOnReturn cleanup{tmp};
  KX_TRY(compile_x_tune(ctx.profile, file, tmp));
  std::vector<ConstRequest> requests;
  std::string what;
  for (auto &id : ids) {
    KX_ASSIGN(report, const_report(ctx, {}, id));
    if (report.value("id", "") != id)
      return make_error("X_TUNE(\"" + id + "\") names " + report.value("id", std::string("?")) +
                        ": use the scope table's ID (kx list)");
    requests.push_back({report, 0, 0, 0});
    what += (what.empty() ? "" : ", ") + id;
  }
  KX_TRY(print_dry_run(ctx, requests, mode, file + " (" + what + ")", dry.json));
  return 0;
}

// A policy object from kx compile (FILE.bpf.o) rather than its source.
bool is_compiled(const std::string &file) { return std::filesystem::path(file).extension() == ".o"; }

// kx load FILE.bpf.o: the object kx compile made, loaded as it will be on
// the fleet (no compiler); its stamp must be for this profile's kernel and
// the scope table's analyses of its consts.
Result<int> load_compiled(const Globals &g, const std::string &file, TransitionMode mode, double settle_s,
                          const DryRun &dry) {
  KX_ASSIGN(compiled, inspect_x_tune(file));
  KX_ASSIGN(ctx, dry.on ? open_plan_context(g) : open_runtime_context(g));
  KX_ASSIGN(analyses, analyses_of(ctx, compiled.ids));
  KX_TRY(check_policy_stamp(compiled, ctx.kernel.build_id, analyses, "the scope table of " + ctx.profile.name));
  std::vector<ConstRequest> requests;
  std::string what;
  for (auto &id : compiled.ids) {
    KX_ASSIGN(report, const_report(ctx, {}, id));
    requests.push_back({report, 0, 0, 0});  // dry run: the programs stand in as fd 0
    what += (what.empty() ? "" : ", ") + id;
  }
  if (dry.on) {
    KX_TRY(print_dry_run(ctx, requests, mode, file + " (" + what + ")", dry.json));
    return 0;
  }
  Stopwatch step;
  KX_ASSIGN(policy, LoadedPolicy::load(file));
  std::vector<Timing> timings = {{"verify+load", step.ms()}};
  for (auto &r : requests) {
    r.policy_fd = policy.programs().at(r.report.value("id", ""));
    r.slot_fd = policy.slot_fd();
  }
  KX_TRY(commit_transaction(ctx, requests, mode, settle_s, file + " (" + what + ")", timings));
  return 0;
}

Result<int> load(const Globals &g, const std::string &file, const std::string &transition, double settle_s,
                 const DryRun &dry) {
  KX_ASSIGN(mode, parse_transition_mode(transition));
  if (is_compiled(file)) return load_compiled(g, file, mode, settle_s, dry);
  KX_ASSIGN(source, read_file(file));
  if (x_tune_ids(source).empty()) return make_error(file + " has no X_TUNE(\"ID\") program (write one with kx gen)");
  if (dry.on) return dry_load(g, file, mode, dry, x_tune_ids(source));
  KX_ASSIGN(ctx, open_runtime_context(g));
  KX_ASSIGN(tmp, make_temp_dir(std::filesystem::temp_directory_path(), "kx-policy-"));
  RemovedOnReturn cleanup{tmp};
  Stopwatch step;
  KX_ASSIGN(obj, compile_x_tune(ctx.profile, file, tmp));
  std::vector<Timing> timings = {{"compile", step.ms()}};
  step.restart();
  KX_ASSIGN(policy, LoadedPolicy::load(obj));
  timings.push_back({"verify+load", step.ms()});
  std::vector<ConstRequest> requests;
  std::string what;
  for (auto &[id, fd] : policy.programs()) {
    KX_ASSIGN(report, const_report(ctx, {}, id));
    if (report.value("id", "") != id)
      return make_error("X_TUNE(\"" + id + "\") names " + report.value("id", std::string("?")) +
                        ": use the scope table's ID (kx list)");
    requests.push_back({report, 0, fd, policy.slot_fd()});
    what += (what.empty() ? "" : ", ") + id;
  }
  // The module holds the programs from here on; closing ours is fine.
  KX_TRY(commit_transaction(ctx, requests, mode, settle_s, file + " (" + what + ")", timings));
  return 0;
}

// The transaction holding the consts of a policy file, or "" to let
// detach_transaction read `arg` as an id or a const name.
Result<std::string> policy_transaction(const std::string &arg) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(arg, ec)) return arg;
  std::vector<std::string> ids;
  if (is_compiled(arg)) {
    KX_ASSIGN(compiled, inspect_x_tune(arg));
    ids = compiled.ids;
  } else {
    KX_ASSIGN(source, read_file(arg));
    ids = x_tune_ids(source);
  }
  if (ids.empty()) return make_error(arg + " has no X_TUNE(\"ID\") program");
  if (!x_sie_loaded()) return make_error("x-sie.ko is not loaded: nothing to unload");
  KX_ASSIGN(rt, XRuntime::open());
  KX_ASSIGN(st, rt.status());
  std::set<uint32_t> txs;
  for (auto &s : st.spans)
    if (std::find(ids.begin(), ids.end(), s.const_name) != ids.end()) txs.insert(s.tx);
  if (txs.empty()) return make_error("no active transaction holds the consts of " + arg);
  if (txs.size() > 1) return make_error("the consts of " + arg + " are in several transactions: unload them by id");
  return std::to_string(*txs.begin());
}

}  // namespace

void add_policy_commands(CLI::App &app, Globals &g, Action &action) {
  auto *gen_cmd = app.add_subcommand("gen", "write an X-tune policy stub (eBPF C) for analysed perf-consts");
  auto keys = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  gen_cmd->add_option("const", *keys, "SPEC or ID (analysed first if the scope table lacks it)")->required();
  gen_cmd->add_option("-o,--output", *out, "the .bpf.c file to write (- for stdout)")->required();
  gen_cmd->callback([&g, &action, keys, out] {
    action = [&g, keys, out]() -> Result<int> { return gen(g, *keys, *out); };
  });

  auto *compile_cmd = app.add_subcommand(
      "compile", "compile an X-tune policy once, on the build host, into an object kx apply loads on machines "
                 "without a compiler (stamped with this kernel build and the consts' analyses)");
  auto source = std::make_shared<std::string>();
  auto object = std::make_shared<std::string>();
  compile_cmd->add_option("file", *source, "the policy (.bpf.c, see kx gen)")->required();
  compile_cmd->add_option("-o,--output", *object, "the object to write (default: FILE.bpf.o in this directory)");
  compile_cmd->callback([&g, &action, source, object] {
    action = [&g, source, object]() -> Result<int> { return compile(g, *source, *object); };
  });

  auto *load_cmd = app.add_subcommand(
      "load", "compile an X-tune policy, load its programs and attach all its consts as one transaction");
  auto file = std::make_shared<std::string>();
  auto transition = std::make_shared<std::string>("global");
  auto settle = std::make_shared<double>(5.0);
  load_cmd->add_option("file", *file, "the policy (.bpf.c, see kx gen; or .bpf.o from kx compile)")->required();
  add_transition_option(load_cmd, transition);
  load_cmd->add_option("--settle", *settle, "seconds to wait for the kprobe optimizer and the transition")
      ->capture_default_str();
  auto dry = std::make_shared<DryRun>();
  add_dry_run_options(load_cmd, dry);
  load_cmd->callback([&g, &action, file, transition, settle, dry] {
    action = [&g, file, transition, settle, dry]() -> Result<int> {
      return load(g, *file, *transition, *settle, *dry);
    };
  });

  auto *unload_cmd = app.add_subcommand(
      "unload", "switch a policy's consts back to their compiled values (safely) and detach it");
  auto what = std::make_shared<std::string>();
  auto opt = std::make_shared<UnloadOptions>();
  unload_cmd->add_option("what", *what, "a transaction id, the policy file loaded (.bpf.c or .bpf.o), or a const it holds")
      ->required();
  add_unload_options(unload_cmd, opt);
  unload_cmd->callback([&action, what, opt] {
    action = [what, opt]() -> Result<int> {
      KX_ASSIGN(tx, policy_transaction(*what));
      KX_ASSIGN(id, detach_transaction(tx, *opt));
      printf("transaction %u detached\n", id);
      return 0;
    };
  });
}

}  // namespace kx::cli
