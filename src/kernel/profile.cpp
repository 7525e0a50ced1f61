#include "kernel/profile.h"

#include <cstdlib>
#include <regex>

#include "util/files.h"

namespace kx {
namespace fs = std::filesystem;

std::string default_profile_name() {
  const char *env = getenv("KX_PROFILE");
  return (env && *env) ? env : kBuiltinProfile;
}

fs::path kx_home() {
  const char *env = getenv("KX_HOME");
  return (env && *env) ? fs::path(env) : fs::path("/var/cache/kernelx");
}

static Result<KernelProfile> debian_profile(const std::string &name) {
  // debian-6.1.0-56-cloud-amd64: version 6.1 (source package linux-source-6.1),
  // ABI 56, flavour cloud-amd64.
  static const std::regex re(R"(debian-((\d+)\.(\d+)\.\d+-\d+)-((?:cloud-|rt-)?amd64))");
  std::smatch m;
  if (!std::regex_match(name, m, re))
    return make_error("unknown kernel profile '" + name +
                      "': expected debian-<version>-<abi>-<flavour> (e.g. " + kBuiltinProfile +
                      ") or tree:<path to a kernel build tree>");
  KernelProfile p;
  p.name = name;
  p.kind = ProfileKind::Debian;
  p.release = m[1].str() + "-" + m[4].str();
  std::string series = m[2].str() + "." + m[3].str();
  p.image = "/boot/vmlinuz-" + p.release;
  p.debug_vmlinux = "/usr/lib/debug/boot/vmlinux-" + p.release;
  p.debug_modules = "/usr/lib/debug/lib/modules/" + p.release;  // the -dbg package's .ko files
  p.headers = "/usr/src/linux-headers-" + p.release;
  p.modules = "/lib/modules/" + p.release;
  p.config = p.headers / ".config";  // the /boot copy lacks non-codegen lines
  p.source_tarball = "/usr/src/linux-source-" + series + ".tar.xz";
  p.package_for_version = "linux-image-" + p.release;
  p.packages = {"linux-image-" + p.release, "linux-headers-" + p.release,
                "linux-image-" + p.release + "-dbg", "linux-source-" + series};
  return p;
}

static Result<KernelProfile> tree_profile(const std::string &spec) {
  fs::path tree = fs::weakly_canonical(spec.substr(5));
  for (const char *need : {"vmlinux", ".config", "Makefile"})
    if (!fs::exists(tree / need))
      return make_error("kernel tree " + tree.string() + " has no " + need +
                        " (tree: profiles need a built kernel tree)");
  KernelProfile p;
  p.kind = ProfileKind::Tree;
  p.name = "tree-" + hash_hex(tree.string()).substr(0, 12);
  auto rel = read_file(tree / "include/config/kernel.release");
  if (!rel) return make_error("kernel tree " + tree.string() + " has no include/config/kernel.release");
  p.release = rel->substr(0, rel->find('\n'));
  p.image = tree / "arch/x86/boot/bzImage";
  p.debug_vmlinux = tree / "vmlinux";
  p.debug_modules = tree;  // a built tree keeps each .ko beside its objects
  p.headers = tree;
  p.modules = "/lib/modules/" + p.release;
  p.config = tree / ".config";
  p.source_tree = tree;
  return p;
}

Result<KernelProfile> resolve_profile(const std::string &name) {
  if (name.rfind("tree:", 0) == 0) return tree_profile(name);
  return debian_profile(name);
}

fs::path profile_cache_dir(const KernelProfile &p) { return kx_home() / "kernels" / p.name; }

fs::path work_tree(const KernelProfile &p) {
  return p.source_tree ? *p.source_tree : profile_cache_dir(p) / "src";
}

}  // namespace kx
