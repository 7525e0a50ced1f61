// A kernel profile says where everything about one target kernel lives: the
// bootable image, the debug vmlinux (the address authority), the headers for
// out-of-tree modules, the source and config to rebuild objects from, and how
// to invoke the compiler so its output is byte-identical to the shipped kernel.
// Analysis code only ever sees a KernelProfile, so adding a kernel (another
// Debian flavour, a user's build tree) never touches it.
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/result.h"

namespace kx {

enum class ProfileKind { Debian, Tree };

struct KernelProfile {
  std::string name;      // "debian-6.1.0-56-cloud-amd64", "tree-<hash>"
  ProfileKind kind = ProfileKind::Debian;
  std::string release;   // `uname -r` of the kernel described
  std::filesystem::path image;          // vmlinuz / bzImage the lab boots
  std::filesystem::path debug_vmlinux;  // symbols + DWARF
  std::filesystem::path debug_modules;  // loadable modules with symbols + DWARF (*.ko below it)
  std::filesystem::path headers;        // Kbuild dir for out-of-tree modules
  std::filesystem::path modules;        // /lib/modules/<release> (may be absent)
  std::filesystem::path config;         // the .config the kernel was built with
  std::optional<std::filesystem::path> source_tarball;  // extracted into the cache
  std::optional<std::filesystem::path> source_tree;     // used in place
  std::vector<std::string> packages;    // Debian packages providing the above
  std::string package_for_version;      // whose version stamps the build (Debian)
};

// The profile used when none is named: $KX_PROFILE, else the built-in default.
std::string default_profile_name();
inline constexpr const char *kBuiltinProfile = "debian-6.1.0-56-cloud-amd64";

// Accepted names:
//   debian-<ver>-<abi>-<flavour>   e.g. debian-6.1.0-56-cloud-amd64, debian-6.1.0-56-amd64
//   tree:<path>                    a kernel build tree holding vmlinux and .config
// Pure: resolves paths without looking at the filesystem (except tree:).
Result<KernelProfile> resolve_profile(const std::string &name);

// The cache root: $KX_HOME, else /var/cache/kernelx.
std::filesystem::path kx_home();
// Where a profile's prepared tree, BTF and stamps live.
std::filesystem::path profile_cache_dir(const KernelProfile &p);
// The kernel tree objects are rebuilt in (the cache copy, or the user's tree).
std::filesystem::path work_tree(const KernelProfile &p);

}  // namespace kx
