// The lab's initramfs: busybox, the modules virtiofs needs (taken from the
// profile's own /lib/modules, so they always match the kernel) and stage 1.
// Built once per profile and cached.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "kernel/profile.h"
#include "util/result.h"

namespace kx {

// Modules stage 1 inserts, in dependency order (design.md §2).
extern const std::vector<std::string> kLabModules;

// For each module: the path of its .ko under `modules_dir`, or "" when the
// kernel has it built in. An error names a module that is neither.
Result<std::vector<std::pair<std::string, std::filesystem::path>>> locate_modules(
    const std::filesystem::path &modules_dir, const std::vector<std::string> &names);

// Returns the cached initramfs of `p`, building it when its inputs changed.
Result<std::filesystem::path> lab_initramfs(const KernelProfile &p);

}  // namespace kx
