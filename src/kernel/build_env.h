// How to call make so that a rebuilt object is byte-identical to the shipped
// kernel's (design.md §3): the same compiler, and the build identity the
// kernel's own banner records.
#pragma once
#include <string>
#include <vector>

#include "kernel/profile.h"
#include "util/result.h"

namespace kx {

struct BuildEnv {
  std::string compiler;                // e.g. "gcc-12"
  std::vector<std::string> make_vars;  // CC=…, KERNELRELEASE=…, KBUILD_BUILD_*=…
};

struct Banner {
  std::string release, user, host, compiler_text, version, timestamp;
};

// Parses "Linux version R (U@H) (COMPILER…) #V [SMP] [PREEMPT…] TIMESTAMP".
Result<Banner> parse_banner(const std::string &banner);
// Reads linux_banner out of a vmlinux.
Result<Banner> read_banner(const std::filesystem::path &vmlinux);
// The CONFIG_CC_VERSION_TEXT of a .config ("gcc-12 (Debian …) 12.2.0").
Result<std::string> config_compiler_text(const std::filesystem::path &config);

// Builds the make variables for `p`, refusing when the host compiler is not
// the one the kernel was built with.
Result<BuildEnv> build_env(const KernelProfile &p);

}  // namespace kx
