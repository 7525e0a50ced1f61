#include "kernel/tree_cache.h"

#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "binary/elf_file.h"
#include "binary/function_compare.h"
#include "kernel/cached_steps.h"
#include "kernel/rebuild.h"
#include "util/files.h"
#include "util/process.h"
#include "util/progress.h"

namespace kx {
namespace fs = std::filesystem;

namespace {

std::string file_key(const fs::path &p) {
  std::error_code ec;
  auto size = fs::file_size(p, ec);
  auto mtime = fs::last_write_time(p, ec).time_since_epoch().count();
  return p.string() + ":" + std::to_string(size) + ":" + std::to_string(mtime);
}

std::string jobs() { return "-j" + std::to_string(std::max(1u, std::thread::hardware_concurrency())); }

std::vector<std::string> make_cmd(const PreparedKernel &k, std::vector<std::string> targets) {
  std::vector<std::string> cmd = {"make", "-C", k.tree.string(), jobs()};
  cmd.insert(cmd.end(), k.env.make_vars.begin(), k.env.make_vars.end());
  cmd.insert(cmd.end(), targets.begin(), targets.end());
  return cmd;
}

Status install_packages(const std::vector<std::string> &pkgs) {
  std::string list;
  for (auto &p : pkgs) list += " " + p;
  if (geteuid() != 0)
    return make_error("missing packages:" + list + " (run scripts/setup.sh as root, or apt-get install them)");
  Progress prog("installing" + list);
  RunOptions o;
  o.env["DEBIAN_FRONTEND"] = "noninteractive";
  std::vector<std::string> cmd = {"apt-get", "install", "-y", "-q", "--no-install-recommends"};
  cmd.insert(cmd.end(), pkgs.begin(), pkgs.end());
  auto inst = run_checked(cmd, o);
  if (!inst) {
    // A stale package list is the usual cause on a fresh machine.
    KX_TRY(run_checked({"apt-get", "update", "-q"}, o));
    inst = run_checked(cmd, o);
    if (!inst) return make_error("cannot install" + list + ": " + inst.error().message);
  }
  prog.done();
  return {};
}

// Extracts the source tarball next to the final place and renames it in, so
// an interrupted extraction never looks like a tree.
Status extract_source(const fs::path &tarball, const fs::path &dest) {
  std::error_code ec;
  fs::remove_all(dest, ec);
  KX_ASSIGN(tmp, make_temp_dir(dest.parent_path(), ".extract-"));
  Progress prog("extracting " + tarball.filename().string());
  auto r = run_checked({"tar", "-xf", tarball.string(), "-C", tmp.string()});
  if (!r) {
    fs::remove_all(tmp, ec);
    return r.error();
  }
  fs::path top;
  for (auto &e : fs::directory_iterator(tmp))
    if (e.is_directory()) top = e.path();
  if (top.empty() || !fs::exists(top / "Makefile")) {
    fs::remove_all(tmp, ec);
    return make_error(tarball.string() + " holds no kernel tree");
  }
  fs::rename(top, dest, ec);
  fs::remove_all(tmp);
  if (ec) return make_error("cannot move the tree into place: " + ec.message());
  prog.done();
  return {};
}

// The options of a .config, without comments and without the signing key
// path (which we point at the tree's own throwaway key).
std::map<std::string, std::string> config_options(const std::string &text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  static const std::regex set(R"(^(CONFIG_\w+)=(.*)$)"), unset(R"(^# (CONFIG_\w+) is not set$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, set)) out[m[1]] = m[2];
    else if (std::regex_match(line, m, unset)) out[m[1]] = "n";
  }
  out.erase("CONFIG_MODULE_SIG_KEY");
  return out;
}

Status configure_tree(const PreparedKernel &k) {
  KX_ASSIGN(orig, read_file(k.profile.config));
  // Debian signs with a key we do not have; any key works for code generation.
  std::string text = std::regex_replace(orig, std::regex(R"re(CONFIG_MODULE_SIG_KEY=".*")re"),
                                        "CONFIG_MODULE_SIG_KEY=\"certs/signing_key.pem\"");
  KX_TRY(write_file_atomic(k.tree / ".config", text));
  Progress prog("configuring (olddefconfig)");
  KX_TRY(run_checked(make_cmd(k, {"olddefconfig"})));
  KX_ASSIGN(after, read_file(k.tree / ".config"));
  auto a = config_options(orig), b = config_options(after);
  if (a != b) {
    std::string diff;
    for (auto &[key, v] : b)
      if (!a.count(key) || a[key] != v) diff += " " + key + "=" + v;
    for (auto &[key, v] : a)
      if (!b.count(key)) diff += " -" + key;
    return make_error("olddefconfig changed the kernel's configuration (" + diff.substr(0, 300) +
                      "); the source does not match " + k.profile.config.string());
  }
  prog.done("configuration unchanged");
  return {};
}

Status extract_btf(const PreparedKernel &k) {
  KX_ASSIGN(elf, ElfFile::open(k.profile.debug_vmlinux));
  auto idx = elf.section_index(".BTF");
  if (!idx) return make_error(k.profile.debug_vmlinux.string() + " has no .BTF section");
  KX_TRY(run_checked({"objcopy", "-O", "binary", "--only-section=.BTF",
                      k.profile.debug_vmlinux.string(), k.btf.string()}));
  return {};
}

Status check_fidelity(const PreparedKernel &k, const std::string &object) {
  Progress prog("verifying code generation on " + object);
  std::error_code ec;
  fs::remove(k.tree / object, ec);  // a real rebuild, not make's "up to date"
  KX_TRY(rebuild_object(k, object));
  KX_ASSIGN(obj, ElfFile::open(k.tree / object));
  KX_ASSIGN(img, ElfFile::open(k.profile.debug_vmlinux));
  auto fid = compare_object(obj, img);
  if (fid.functions == 0) return make_error(object + " has no functions to compare");
  if (fid.identical != fid.functions) {
    std::string what;
    for (auto &d : fid.differing) what += " " + d;
    for (auto &m : fid.missing) what += " " + m + "(missing)";
    return make_error("rebuilt " + object + " differs from " + k.profile.debug_vmlinux.string() + " in " +
                      std::to_string(fid.functions - fid.identical) + " of " +
                      std::to_string(fid.functions) + " functions:" + what.substr(0, 400) +
                      "; refusing to analyse with a tree that does not reproduce the kernel");
  }
  prog.done(std::to_string(fid.identical) + "/" + std::to_string(fid.functions) +
            " functions byte-identical outside relocations" +
            (fid.weak_overridden ? ", " + std::to_string(fid.weak_overridden) + " weak ones overridden at link" : ""));
  return {};
}

fs::path info_path(const KernelProfile &p) { return profile_cache_dir(p) / "prepared.json"; }

}  // namespace

std::vector<std::string> missing_packages(const KernelProfile &p) {
  std::vector<std::string> missing;
  for (auto &pkg : p.packages) {
    auto r = run({"dpkg-query", "-W", "-f=${Status}", pkg});
    if (!r || r->output.find("install ok installed") == std::string::npos) missing.push_back(pkg);
  }
  return missing;
}

Status rebuild_object(const PreparedKernel &k, const std::string &object) {
  auto r = run_checked(make_cmd(k, {object}));
  if (!r) return make_error("rebuilding " + object + " failed: " + r.error().message);
  return {};
}

Result<PreparedKernel> prepare_kernel(const KernelProfile &p, const PrepareOptions &opts) {
  auto missing = missing_packages(p);
  if (!missing.empty()) {
    if (!opts.install_missing) {
      std::string list;
      for (auto &m : missing) list += " " + m;
      return make_error("missing packages:" + list + " (run scripts/setup.sh)");
    }
    KX_TRY(install_packages(missing));
  }
  for (auto &[what, path] : {std::pair{"kernel image", p.image}, {"debug vmlinux", p.debug_vmlinux},
                             {"kernel config", p.config}})
    if (!fs::exists(path)) return make_error(std::string(what) + " not found: " + path.string());

  PreparedKernel k;
  k.profile = p;
  k.tree = work_tree(p);
  fs::path cache = profile_cache_dir(p);
  k.btf = cache / "vmlinux.btf";
  k.resolve_btfids = k.tree / "tools/bpf/resolve_btfids/resolve_btfids";
  KX_ASSIGN(env, build_env(p));
  k.env = env;
  {
    KX_ASSIGN(elf, ElfFile::open(p.debug_vmlinux));
    k.build_id = elf.build_id();
  }
  std::error_code ec;
  fs::create_directories(cache, ec);

  std::string env_key;
  for (auto &v : k.env.make_vars) env_key += v + ";";
  std::vector<CachedStep> steps;
  if (p.source_tarball)
    steps.push_back({"extract", file_key(*p.source_tarball), [&] { return extract_source(*p.source_tarball, k.tree); }});
  else if (!fs::exists(k.tree / "Makefile"))
    return make_error("kernel tree not found: " + k.tree.string());
  steps.push_back({"configure", file_key(p.config) + env_key, [&] { return configure_tree(k); }});
  steps.push_back({"prepare", env_key, [&]() -> Status {
                     Progress prog("make prepare");
                     KX_TRY(run_checked(make_cmd(k, {"prepare"})));
                     // prepare builds resolve_btfids when CONFIG_DEBUG_INFO_BTF=y;
                     // build it explicitly otherwise: module BTF needs it.
                     if (!fs::exists(k.resolve_btfids))
                       KX_TRY(run_checked(make_cmd(k, {"tools/bpf/resolve_btfids"})));
                     if (!fs::exists(k.resolve_btfids))
                       return make_error("resolve_btfids was not built at " + k.resolve_btfids.string());
                     prog.done();
                     return {};
                   }});
  steps.push_back({"btf", k.build_id, [&] { return extract_btf(k); }});
  steps.push_back({"fidelity", k.build_id + opts.sample_object, [&] { return check_fidelity(k, opts.sample_object); }});
  KX_ASSIGN(report, run_cached_steps(cache / "stamps", steps));
  // A kx killed mid-rebuild left its edit in the tree: undo it now, before
  // anything reads the sources.
  {
    KX_ASSIGN(lock, TreeLock::take(k, true));
    KX_TRY(recover_tree(k));
  }
  if (report.ran.empty()) note("kernel " + p.name + " already prepared in " + cache.string());

  nlohmann::json info = {{"profile", p.name},          {"release", p.release},
                         {"build_id", k.build_id},     {"tree", k.tree.string()},
                         {"btf", k.btf.string()},      {"resolve_btfids", k.resolve_btfids.string()},
                         {"compiler", k.env.compiler}, {"make_vars", k.env.make_vars},
                         {"image", p.image.string()},  {"debug_vmlinux", p.debug_vmlinux.string()},
                         {"headers", p.headers.string()}};
  KX_TRY(write_file_atomic(info_path(p), info.dump(2) + "\n"));
  return k;
}

Result<PreparedKernel> load_prepared(const KernelProfile &p) {
  auto text = read_file(info_path(p));
  if (!text) return make_error("kernel " + p.name + " is not prepared: run `kx kernel prepare`");
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) return make_error(info_path(p).string() + " is corrupt: run `kx kernel prepare`");
  PreparedKernel k;
  k.profile = p;
  k.tree = j.value("tree", "");
  k.btf = j.value("btf", "");
  k.resolve_btfids = j.value("resolve_btfids", "");
  k.build_id = j.value("build_id", "");
  k.env.compiler = j.value("compiler", "");
  k.env.make_vars = j.value("make_vars", std::vector<std::string>{});
  return k;
}

}  // namespace kx
