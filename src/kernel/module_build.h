// Building out-of-tree modules (the runtime x-sie.ko, test modules) against a
// profile's headers. Debian's headers lack vmlinux, so Kbuild skips module
// BTF; we add it as Makefile.modfinal would (design.md §2): pahole against
// the vmlinux BTF, then resolve_btfids.
#pragma once
#include <filesystem>
#include <vector>

#include "kernel/tree_cache.h"

namespace kx {

// Copies the module sources of `src` into `out` (so the source stays clean),
// builds them and adds BTF to every resulting .ko. Returns the .ko paths.
Result<std::vector<std::filesystem::path>> build_module(const PreparedKernel &k, const std::filesystem::path &src,
                                                        const std::filesystem::path &out);

// The default build directory for a module source directory.
std::filesystem::path module_build_dir(const KernelProfile &p, const std::filesystem::path &src);

}  // namespace kx
