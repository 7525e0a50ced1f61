// kx bundle CONST...|--all -o FILE · kx apply [BUNDLE] --config DIR|FILE:
// analyse once per kernel build, apply on machines with only kx and the
// bundle (docs/bundle.md).
#include <cstdio>
#include <ctime>
#include <iostream>

#include "cli/commands.h"
#include "cli/runtime_common.h"
#include "deploy/bundle.h"
#include "deploy/config.h"
#include "policy/x_tune.h"
#include "runtime/running_kernel.h"
#include "util/files.h"
#include "util/hex.h"

namespace kx::cli {

namespace fs = std::filesystem;

namespace {

fs::path env_dir(const char *var, const char *dflt) {
  const char *e = getenv(var);
  return e && *e ? fs::path(e) : fs::path(dflt);
}

// Where kx apply keeps what it applied (gone at reboot, like the transactions).
fs::path run_dir() { return env_dir("KX_RUN_DIR", "/run/kernelx"); }
// Where kx apply without a BUNDLE looks for the running kernel's.
fs::path bundle_dir() { return env_dir("KX_BUNDLE_DIR", "/var/lib/kernelx/bundles"); }

Result<int> bundle(const Globals &g, const std::vector<std::string> &keys, bool all, const std::string &out) {
  if (keys.empty() && !all) return make_error("name the consts to bundle, or --all");
  KX_ASSIGN(ctx, open_scope_context(g));
  std::vector<nlohmann::json> reports;
  if (all) {
    KX_ASSIGN(rows, ctx.table->list());
    for (auto &r : rows)
      if (r.value("status", "") == "tunable") reports.push_back(r);
    if (reports.empty()) return make_error("the scope table of " + ctx.profile.name + " has no tunable const");
  }
  for (auto &k : keys) {
    KX_ASSIGN(r, const_report(ctx, {}, k));
    if (r.value("status", "") != "tunable")
      return make_error(k + " is not tunable: " + r.value("reason", std::string("no reason recorded")));
    reports.push_back(r);
  }
  KX_ASSIGN(image, VmlinuxImage::open(ctx.profile.debug_vmlinux));
  KX_ASSIGN(code, code_excerpt(*image, reports));
  KX_ASSIGN(ko, x_sie_module_path(ctx.kernel));
  KX_ASSIGN(module, read_file(ko));
  Bundle b;
  b.reports = reports;
  b.code = code;
  b.module = module;
  nlohmann::json ids = nlohmann::json::array();
  for (auto &r : reports) ids.push_back(r.value("id", ""));
  char when[32];
  time_t now = time(nullptr);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  b.manifest = {{"kx_version", kx_version()},
                {"created", when},
                {"kernel",
                 {{"build_id", ctx.kernel.build_id},
                  {"profile", ctx.profile.name},
                  {"release", ctx.profile.release},
                  {"text_base", hex(image->text_base() ? image->text_base() : kDefaultTextBase)}}},
                {"consts", ids}};
  KX_TRY(write_bundle(out, b));
  printf("wrote %s: %zu const(s) (%s) and x-sie.ko for %s (build-id %s)\n", out.c_str(), reports.size(),
         [&] {
           std::string s;
           for (auto &i : ids) s += (s.empty() ? "" : ", ") + i.get<std::string>();
           return s;
         }()
             .c_str(),
         ctx.profile.name.c_str(), ctx.kernel.build_id.c_str());
  return 0;
}

// The bundle named, or the one in bundle_dir() for `build_id`.
Result<fs::path> find_bundle(const std::string &given, const std::string &build_id) {
  if (!given.empty()) return fs::path(given);
  std::error_code ec;
  std::string seen;
  for (auto &e : fs::directory_iterator(bundle_dir(), ec)) {
    if (!e.is_regular_file()) continue;
    auto b = read_bundle(e.path());
    if (b && b->build_id() == build_id) return e.path();
    seen += (seen.empty() ? "" : ", ") + e.path().filename().string();
  }
  return make_error("no bundle for the running kernel (build-id " + (build_id.empty() ? "unknown" : build_id) +
                    ") in " + bundle_dir().string() + (seen.empty() ? "" : " (it has " + seen + ")") +
                    ": make one with kx bundle on a host with this kernel's profile");
}

struct Planned {
  ApplyConfig config;
  std::vector<ConstRequest> requests;
  std::vector<std::string> policy_ids;  // the consts its policy sets
  std::optional<LoadedPolicy> policy;   // loaded (verified) before anything is attached
  Transaction t;
  std::string what;
};

// The consts the bundle holds, by ID, with the analysis each was made by.
std::map<std::string, std::string> bundle_analyses(const Bundle &b) {
  std::map<std::string, std::string> out;
  for (auto &r : b.reports) out[r.value("id", "")] = r.value("analysis", "");
  return out;
}

std::string bundle_holds(const Bundle &b) {
  std::string held;
  for (auto &[id, a] : bundle_analyses(b)) held += (held.empty() ? "" : ", ") + id;
  return "the bundle (it holds " + (held.empty() ? "no const" : held) + ")";
}

// A config's policy: a compiled X-tune made for this bundle's kernel build
// and analyses; its consts join the file's requests (programs loaded later).
Status add_policy(Planned &p, const Bundle &b) {
  const ApplyConfig &c = p.config;
  const std::string at = c.file.string() + ":" + std::to_string(c.policy_line) + ": ";
  auto compiled = inspect_x_tune(c.policy);
  if (!compiled) return make_error(at + compiled.error().message);
  auto fits = check_policy_stamp(*compiled, b.build_id(), bundle_analyses(b), bundle_holds(b));
  if (!fits) return make_error(at + fits.error().message);
  for (auto &id : compiled->ids) {
    for (auto &v : c.values)
      if (auto set = b.report(v.name); set && set->value("id", "") == id)
        return make_error(at + id + " is set on line " + std::to_string(v.line) + " and by the policy: one or the other");
    KX_ASSIGN(r, b.report(id));
    p.requests.push_back({r, 0, 0, 0});  // the programs' fds once loaded
    p.policy_ids.push_back(id);
  }
  p.config.policy_sha256 = sha256_hex(compiled->bytes);
  std::string ids;
  for (auto &id : compiled->ids) ids += (ids.empty() ? "" : ", ") + id;
  p.what += (p.what.empty() ? "" : ", ") + std::string("policy ") + c.policy.filename().string() + " (" + ids + ")";
  return {};
}

// One config file's transaction, planned from the bundle alone.
// `thunks`: the running kernel keeps its return thunks (probe kinds).
Result<Planned> plan_config(const ApplyConfig &c, const Bundle &b, const KernelImage &image, uint64_t slide,
                            bool thunks) {
  Planned p{c, {}, {}, std::nullopt, {}, ""};
  if (c.empty()) return p;
  for (auto &v : c.values) {
    auto r = b.report(v.name);
    if (!r) return make_error(c.file.string() + ":" + std::to_string(v.line) + ": " + r.error().message);
    p.requests.push_back({*r, v.value});
    p.what += (p.what.empty() ? "" : ", ") + v.name + "=" + std::to_string(v.value);
  }
  if (!c.policy.empty()) KX_TRY(add_policy(p, b));
  KX_ASSIGN(mode, parse_transition_mode(c.transition));
  auto t = plan_transaction(p.requests, image, b.build_id(), slide, mode, thunks);
  if (!t) return make_error(c.file.string() + ": " + t.error().message);
  p.t = std::move(*t);
  return p;
}

// Loads each config's policy (the verifier runs) before anything is
// attached, then plans its transaction again with the programs' fds.
Status load_policies(std::vector<Planned> &plans, const Bundle &b, const KernelImage &image, uint64_t slide) {
  for (auto &p : plans) {
    if (p.config.policy.empty()) continue;
    auto loaded = LoadedPolicy::load(p.config.policy);
    if (!loaded) return make_error(p.config.file.string() + ": " + loaded.error().message);
    p.policy.emplace(std::move(*loaded));
    for (auto &r : p.requests) {
      auto fd = p.policy->programs().find(r.report.value("id", ""));
      if (fd == p.policy->programs().end()) continue;
      r.policy_fd = fd->second, r.slot_fd = p.policy->slot_fd();
    }
    KX_ASSIGN(mode, parse_transition_mode(p.config.transition));
    auto t = plan_transaction(p.requests, image, b.build_id(), slide, mode);
    if (!t) return make_error(p.config.file.string() + ": " + t.error().message);
    p.t = std::move(*t);
  }
  return {};
}

// What kx apply applied, per config file: the config's key, the bundle's
// build-id and the transaction holding it.
Result<nlohmann::json> read_state() {
  auto text = read_file(run_dir() / "state.json");
  if (!text) return nlohmann::json::object();
  auto j = nlohmann::json::parse(*text, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

Status write_state(const nlohmann::json &state) {
  std::error_code ec;
  fs::create_directories(run_dir(), ec);
  if (ec) return make_error("cannot create " + run_dir().string() + ": " + ec.message());
  return write_file_atomic(run_dir() / "state.json", state.dump(2) + "\n");
}

// Is transaction `tx` active holding exactly the consts of `p`: its values,
// and its policy's consts set by a policy?
bool holds(const RuntimeStatus &st, uint32_t tx, const Planned &p) {
  auto consts = active_consts(st);
  size_t n = 0;
  for (auto &c : consts)
    if (c.tx == tx) {
      ++n;
      bool wanted = c.policy && std::count(p.policy_ids.begin(), p.policy_ids.end(), c.name);
      for (auto &v : p.config.values) wanted = wanted || (v.name == c.name && !c.policy && v.value == c.value);
      if (!wanted) return false;
    }
  return n == p.config.values.size() + p.policy_ids.size() && n > 0;
}

Result<int> apply(const std::string &bundle_arg, const std::string &config, bool dry, bool json, double settle_s,
                  const UnloadOptions &unload_opt) {
  KX_ASSIGN(configs, read_configs(config));
  auto notes = read_file("/sys/kernel/notes");
  std::string running_id;
  if (notes)
    if (auto id = build_id_from_notes(*notes)) running_id = *id;
  KX_ASSIGN(path, find_bundle(bundle_arg, running_id));
  KX_ASSIGN(b, read_bundle(path));
  PlanPlace place{path.string(), b.build_id(), 0, ""};
  if (running_id != b.build_id()) {
    std::string why = "the running kernel (build-id " + (running_id.empty() ? "unknown" : running_id) +
                      ") is not the bundle's (" + b.build_id() + ")";
    if (!dry) return make_error(path.string() + ": " + why + ": refused, nothing attached");
    place.not_running = why;
  } else {
    auto running = inspect_running_kernel(b.text_base());
    if (!running) {
      if (!dry) return make_error(running.error().message);
      place.not_running = running.error().message;
    } else {
      place.slide = running->slide;
    }
  }
  KX_ASSIGN(image, excerpt_image(b.code));

  // Every file is planned before anything is attached: a bad one refuses all.
  std::vector<Planned> plans;
  for (auto &c : configs) {
    KX_ASSIGN(p, plan_config(c, b, *image, place.slide, place.not_running.empty() && return_thunks_in_use()));
    plans.push_back(std::move(p));
  }
  if (dry) {
    for (auto &p : plans) {
      if (p.config.empty())
        printf("dry run: %s names no const: any transaction it had is detached\n", p.config.file.c_str());
      else
        print_plan(p.t, place, p.config.file.string() + ": " + p.what, json);
    }
    return 0;
  }
  KX_TRY(load_policies(plans, b, *image, place.slide));

  // The bundle's module, unless one is loaded already.
  if (!x_sie_loaded()) {
    if (auto why = runtime_unsupported_reason(); !why.empty()) return make_error(why);
    std::error_code ec;
    fs::create_directories(run_dir(), ec);
    KX_TRY(write_file_atomic(run_dir() / "x-sie.ko", b.module));
    KX_TRY(ensure_x_sie(run_dir() / "x-sie.ko"));
  }
  KX_ASSIGN(rt, XRuntime::open());
  KX_ASSIGN(state, read_state());
  auto &applied = state["configs"];
  if (!applied.is_object()) applied = nlohmann::json::object();
  for (auto &p : plans) {
    const std::string file = p.config.file.string();
    KX_ASSIGN(st, rt.status());
    std::optional<uint32_t> old;
    if (applied.contains(file)) {
      const auto &prev = applied[file];
      uint32_t tx = prev.value("transaction", 0u);
      bool active = std::any_of(st.txs.begin(), st.txs.end(), [&](auto &x) { return x.tx == tx; });
      if (active && prev.value("key", "") == p.config.key() && prev.value("build_id", "") == b.build_id() &&
          holds(st, tx, p)) {
        printf("%s: unchanged (transaction %u)\n", file.c_str(), tx);
        continue;
      }
      if (active) old = tx;
    }
    // A changed config: the old transaction switches back safely first (the
    // module holds a const in one transaction only), then the new one loads.
    if (old) {
      KX_TRY(rt.unload(*old, unload_opt));
      printf("%s: transaction %u detached\n", file.c_str(), *old);
    }
    applied.erase(file);
    if (p.config.empty()) {
      KX_TRY(write_state(state));
      continue;
    }
    auto id = rt.load(p.t);
    if (!id) {
      KX_TRY(write_state(state));
      return make_error(file + ": " + id.error().message);
    }
    applied[file] = {{"key", p.config.key()}, {"build_id", b.build_id()}, {"transaction", *id}, {"bundle", path.string()}};
    KX_TRY(write_state(state));
    KX_ASSIGN(mine, settle_transaction(rt, *id, settle_s));
    printf("%s: transaction %u: %s (transition %s)\n", file.c_str(), *id, p.what.c_str(), p.config.transition.c_str());
    print_status(mine, false, false);
    for (auto &n : p.t.notes) printf("note: %s\n", n.c_str());
  }
  // A file removed from the config directory takes its transaction with it.
  std::error_code ec;
  if (fs::is_directory(config, ec)) {
    const fs::path dir = (fs::absolute(config) / "x").lexically_normal().parent_path();  // "/etc/kernelx/" too
    std::vector<std::string> gone;
    for (auto &[file, prev] : applied.items())
      if (fs::path(file).parent_path() == dir &&
          std::none_of(plans.begin(), plans.end(), [&](auto &p) { return p.config.file.string() == file; }))
        gone.push_back(file);
    for (auto &file : gone) {
      uint32_t tx = applied[file].value("transaction", 0u);
      KX_ASSIGN(st, rt.status());
      if (std::any_of(st.txs.begin(), st.txs.end(), [&](auto &x) { return x.tx == tx; })) {
        KX_TRY(rt.unload(tx, unload_opt));
        printf("%s: removed, transaction %u detached\n", file.c_str(), tx);
      }
      applied.erase(file);
      KX_TRY(write_state(state));
    }
  }
  return 0;
}

}  // namespace

void add_deploy_commands(CLI::App &app, Globals &g, Action &action) {
  auto *bundle_cmd = app.add_subcommand(
      "bundle", "write one self-contained bundle for this profile's kernel build: the consts' analyses, the code "
                "they patch and x-sie.ko, for kx apply on machines without compilers or sources");
  auto keys = std::make_shared<std::vector<std::string>>();
  auto all = std::make_shared<bool>(false);
  auto out = std::make_shared<std::string>();
  bundle_cmd->add_option("const", *keys, "SPEC or ID (analysed first if the scope table lacks it)");
  bundle_cmd->add_flag("--all", *all, "every tunable const in the scope table");
  bundle_cmd->add_option("-o,--output", *out, "the bundle to write (.kxb, a tar.gz; see docs/bundle.md)")->required();
  bundle_cmd->callback([&g, &action, keys, all, out] {
    action = [&g, keys, all, out]() -> Result<int> { return bundle(g, *keys, *all, *out); };
  });

  auto *apply_cmd = app.add_subcommand(
      "apply", "apply config files (NAME = VALUE, transition = MODE; one transaction per file) from a bundle made "
               "for the running kernel; an unchanged file is left as it is");
  auto file = std::make_shared<std::string>();
  auto config = std::make_shared<std::string>();
  auto dry = std::make_shared<DryRun>();
  auto settle = std::make_shared<double>(5.0);
  auto unload_opt = std::make_shared<UnloadOptions>();
  apply_cmd->add_option("bundle", *file,
                        "the bundle (default: the running kernel's in $KX_BUNDLE_DIR, /var/lib/kernelx/bundles)");
  apply_cmd->add_option("--config", *config, "a directory of *.conf files (e.g. /etc/kernelx) or one file")
      ->required();
  add_dry_run_options(apply_cmd, dry);
  apply_cmd->add_option("--settle", *settle, "seconds to wait for the kprobe optimizer and the transition")
      ->capture_default_str();
  apply_cmd->add_option("--timeout", unload_opt->timeout_ms,
                        "milliseconds to wait for tasks to leave the safe spans when a changed config switches back")
      ->check(CLI::Range(0u, static_cast<unsigned>(X_SIE_MAX_TIMEOUT_MS)))
      ->capture_default_str();
  apply_cmd->callback([&action, file, config, dry, settle, unload_opt] {
    action = [file, config, dry, settle, unload_opt]() -> Result<int> {
      return apply(*file, *config, dry->on, dry->json, *settle, *unload_opt);
    };
  });
}

}  // namespace kx::cli
