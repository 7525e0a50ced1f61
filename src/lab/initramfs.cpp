#include "lab/initramfs.h"

#include <map>
#include <sstream>

#include "lab/cpio_newc.h"
#include "lab/guest_scripts.h"
#include "util/files.h"
#include "util/process.h"

namespace kx {
namespace fs = std::filesystem;

const std::vector<std::string> kLabModules = {
    "virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
    "fuse",        "virtiofs", "overlay"};

static std::string module_name(const std::string &path) {
  std::string base = fs::path(path).filename().string();
  base = base.substr(0, base.find(".ko"));
  for (auto &c : base)
    if (c == '-') c = '_';
  return base;
}

Result<std::vector<std::pair<std::string, fs::path>>> locate_modules(const fs::path &dir,
                                                                      const std::vector<std::string> &names) {
  std::map<std::string, fs::path> loadable;
  std::map<std::string, bool> builtin;
  if (auto dep = read_file(dir / "modules.dep")) {
    std::istringstream in(*dep);
    std::string line;
    while (std::getline(in, line)) {
      std::string rel = line.substr(0, line.find(':'));
      loadable[module_name(rel)] = dir / rel;
    }
  }
  if (auto b = read_file(dir / "modules.builtin")) {
    std::istringstream in(*b);
    std::string line;
    while (std::getline(in, line)) builtin[module_name(line)] = true;
  }
  std::vector<std::pair<std::string, fs::path>> out;
  for (auto &n : names) {
    if (loadable.count(n)) out.push_back({n, loadable[n]});
    else if (builtin.count(n)) out.push_back({n, ""});
    else return make_error("module " + n + " is neither built in nor in " + (dir / "modules.dep").string());
  }
  return out;
}

Result<fs::path> lab_initramfs(const KernelProfile &p) {
  auto busybox = find_program("busybox");
  if (!busybox) return make_error("busybox not found (install busybox-static: run scripts/setup.sh)");
  KX_ASSIGN(mods, locate_modules(p.modules, kLabModules));
  KX_ASSIGN(bb, read_file(*busybox));
  if (bb.find("/lib64/ld-linux-x86-64.so") != std::string::npos)
    return make_error(busybox->string() + " is dynamically linked; the initramfs needs busybox-static");

  std::string key = guest::kInitSh;
  key += hash_hex(bb);
  std::vector<std::pair<std::string, std::string>> payload;
  std::string order;
  for (auto &[name, path] : mods) {
    if (path.empty()) continue;  // built in
    KX_ASSIGN(ko, read_file(path));
    if (path.extension() != ".ko")
      return make_error(path.string() + ": compressed modules are not supported by the lab initramfs");
    key += name + hash_hex(ko);
    payload.push_back({name, std::move(ko)});
    order += name + "\n";
  }
  fs::path out = kx_home() / "lab" / p.name / ("initramfs-" + hash_hex(key) + ".cpio");
  if (fs::exists(out)) return out;

  CpioWriter w;
  for (auto d : {"bin", "dev", "proc", "sys", "modules", "lower", "upper", "newroot"}) w.directory(d);
  w.file("bin/busybox", bb, 0755);
  w.file("init", guest::kInitSh, 0755);
  w.file("modules.order", order);
  for (auto &[name, ko] : payload) w.file("modules/" + name + ".ko", ko);
  KX_TRY(write_file_atomic(out, w.finish()));
  return out;
}

}  // namespace kx
