// The compilation units of a vmlinux, read from its DWARF: which source file
// each object was compiled from and every file (header) it saw. This answers
// "which vmlinux objects can see this constant" in under a second, with no
// kernel build (design.md §3).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "util/result.h"

namespace kx {

struct CompileUnit {
  std::string source;              // tree-relative, e.g. "mm/vmscan.c"
  std::string object;              // "mm/vmscan.o"
  std::vector<std::string> files;  // tree-relative where they are in the tree
};

// Paths are made relative to `tree` (the build's absolute source root is
// stripped by finding the suffix that exists in `tree`).
Result<std::vector<CompileUnit>> read_compile_units(const std::filesystem::path &vmlinux,
                                                    const std::filesystem::path &tree);

}  // namespace kx
