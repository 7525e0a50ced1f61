// `kx lab run`: boot the profile's kernel under QEMU/TCG with the host's root
// filesystem shared read-only (virtiofs + a tmpfs overlay in the guest), run
// one command as root, stream its output, and return its exit status.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "kernel/profile.h"
#include "util/result.h"

namespace kx {

struct LabOptions {
  std::vector<std::string> command;
  int timeout_s = 600;
  int smp = 2;
  std::string mem = "2G";
  int numa_nodes = 1;                  // guest NUMA nodes: memory split evenly, a socket of vCPUs each
  std::filesystem::path results;       // host dir mounted read-write at the same path
  std::filesystem::path cwd;           // the command's working directory in the guest
  std::vector<std::string> kernel_args;  // appended to the kernel command line
  bool keep_console = false;           // keep the run dir (console log) afterwards
};

// Exit codes besides the command's own.
inline constexpr int kLabTimeout = 124;
inline constexpr int kLabInterrupted = 130;

// Returns the command's exit status (or kLabTimeout/kLabInterrupted); an error
// when the lab cannot start or the guest kernel reported a fault.
Result<int> lab_run(const KernelProfile &p, const LabOptions &o);

// The QEMU argv for a run (exposed for tests).
std::vector<std::string> qemu_argv(const KernelProfile &p, const LabOptions &o,
                                   const std::filesystem::path &initramfs,
                                   const std::filesystem::path &run_dir, bool results_share);

// A QEMU memory size ("2G", "1536M", "2048" = MiB) in MiB; an error for
// anything else.
Result<uint64_t> mem_mib(const std::string &size);

// Single-quotes `s` for POSIX sh.
std::string shell_quote(const std::string &s);

}  // namespace kx
