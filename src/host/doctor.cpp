#include "host/doctor.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "util/files.h"
#include "util/process.h"

namespace kx {
namespace fs = std::filesystem;

namespace {

// The running kernel's config, from /proc/config.gz or /boot.
std::string running_config(const std::string &release) {
  if (fs::exists("/proc/config.gz")) {
    auto r = run({"zcat", "/proc/config.gz"});
    if (r && r->exit_code == 0) return r->output;
  }
  auto c = read_file("/boot/config-" + release);
  return c ? *c : "";
}

bool config_has(const std::string &config, const std::string &opt) {
  return config.find("\n" + opt + "=y") != std::string::npos || config.rfind(opt + "=y", 0) == 0;
}

}  // namespace

std::string probe_kvm(const std::string &kernel_image) {
  if (access("/dev/kvm", R_OK | W_OK) != 0) return "/dev/kvm is not accessible";
  auto r = run({"timeout", "3", "qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-m", "128", "-nographic",
                "-nodefaults", "-no-reboot", "-kernel", kernel_image, "-append", "console=ttyS0"});
  if (!r) return r.error().message;
  if (r->exit_code == 124) return "";  // still running after 3 s: KVM works
  // QEMU's first complaint is the cause; an assertion message follows it.
  std::string out = r->output.substr(0, r->output.find('\n'));
  return out.empty() ? "qemu exited with " + std::to_string(r->exit_code) : out;
}

HostReport inspect_host() {
  HostReport rep;
  utsname u{};
  uname(&u);
  rep.kernel = u.release;
  std::string cfg = running_config(rep.kernel);
  auto feature = [&](const std::string &name, bool ok, const std::string &detail) {
    rep.features.push_back({name, ok, detail});
    return ok;
  };
  std::string src = cfg.empty() ? "no config of the running kernel found" : "running kernel config";
  bool kprobes = feature("kprobes", config_has(cfg, "CONFIG_KPROBES"), src + ": CONFIG_KPROBES");
  feature("optprobes", fs::exists("/proc/sys/debug/kprobes-optimization"), "/proc/sys/debug/kprobes-optimization");
  bool modules = feature("modules", fs::exists("/proc/modules"), "/proc/modules");
  bool bpf = feature("bpf", config_has(cfg, "CONFIG_BPF_SYSCALL") || fs::exists("/sys/fs/bpf"),
                     src + ": CONFIG_BPF_SYSCALL");
  bool btf = feature("btf", fs::exists("/sys/kernel/btf/vmlinux"), "/sys/kernel/btf/vmlinux");
  feature("livepatch", fs::exists("/sys/kernel/livepatch"), "/sys/kernel/livepatch");
  feature("qemu", find_program("qemu-system-x86_64").has_value(), "qemu-system-x86_64 in PATH");
  feature("virtiofsd", access("/usr/lib/qemu/virtiofsd", X_OK) == 0, "/usr/lib/qemu/virtiofsd");
  rep.native = kprobes && modules && bpf && btf;
  return rep;
}

}  // namespace kx
