// The compilation units of a vmlinux or of loadable modules, read from their
// DWARF: which source file each object was compiled from and every file
// (header) it saw. This answers "which objects can see this constant" in
// seconds, with no kernel build (design.md §3).
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
  // Loadable-module units: the module's name ("bfq", dashes made
  // underscores as the kernel names it) and its debug .ko. Empty for vmlinux.
  std::string module;
  std::filesystem::path module_image;
};

// Paths are made relative to `tree` (the build's absolute source root is
// stripped by finding the suffix that exists in `tree`).
Result<std::vector<CompileUnit>> read_compile_units(const std::filesystem::path &vmlinux,
                                                    const std::filesystem::path &tree);

// The units of every debug module (`*.ko`) under `dir`, each tagged with its
// module. A .ko is a relocatable object whose DWARF is only meaningful once
// its relocations are applied, so it is read through libdwfl's offline mode.
// Kbuild's generated `name.mod.c` units are left out: they are not source.
Result<std::vector<CompileUnit>> read_module_compile_units(const std::filesystem::path &dir,
                                                           const std::filesystem::path &tree);

// The kernel's name for the module in `ko` ("sch_fq" for sch-fq.ko).
std::string module_name(const std::filesystem::path &ko);

}  // namespace kx
