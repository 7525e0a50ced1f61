// Loadable modules as units of analysis (issue 16): which module objects
// can see a constant, read from the DWARF of the profile's debug modules
// the way vmlinux units are read from the debug vmlinux, and whether the
// tree rebuilds a module's objects to the code its debug .ko has.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "binary/cu_index.h"
#include "binary/debug_info.h"
#include "binary/module_image.h"
#include "kernel/tree_cache.h"

namespace kx {

// The units of every debug module of the profile (profile.debug_modules),
// cached in the profile's cache keyed by the .ko files' names, sizes and
// times: reading all of Debian's 1,100 modules takes tens of seconds, the
// cache under one. No debug modules (the -dbg package not installed, a tree
// built without modules) is no units, not an error: vmlinux is analysed alone.
Result<std::vector<CompileUnit>> module_compile_units(const PreparedKernel &k);

// The modules (.ko) each module object of `units` is linked into.
std::map<std::string, std::vector<std::filesystem::path>> module_images_by_object(
    const std::vector<CompileUnit> &units);

// Fidelity of one rebuilt module object against its debug .ko: every
// function of the object must equal the module's outside relocations, or
// its seeds cannot be mapped to the module (binary/function_compare.h).
struct ModuleFidelity {
  std::string object, module;
  size_t functions = 0, identical = 0;
  std::vector<std::string> differing, missing;
  bool ok() const { return differing.empty() && missing.empty(); }
  std::string describe() const;  // "block/bfq-iosched.o in bfq: 212/212 functions identical"
};
Result<std::vector<ModuleFidelity>> check_module_objects(
    const std::filesystem::path &orig_dir, const std::vector<std::string> &objects,
    const std::map<std::string, std::vector<std::filesystem::path>> &images);

// Mapping module objects' seeds to their modules: section + offset in the
// debug .ko, its build-id, and the source line from the .ko's DWARF. Opens
// each module once.
class ModuleMaps {
 public:
  ModuleMaps(std::map<std::string, std::vector<std::filesystem::path>> images, std::filesystem::path tree);
  ModuleMaps(ModuleMaps &&) noexcept;
  ~ModuleMaps();
  // `object` is linked into a module (and so is mapped here, not to vmlinux).
  bool has(const std::string &object) const { return images_.count(object) > 0; }
  // Where function `fn` of `object` (its original build, `elf`) starts: in
  // the first of its modules whose function of that name has its bytes.
  Result<ModuleLocation> function_location(const std::string &object, const ElfFile &elf, const ElfSymbol &fn);
  // The source position (and inline chain) of a place in a module.
  Result<SourceLocation> locate(const ModuleLocation &at);

 private:
  struct Open;
  Result<Open *> open(const std::filesystem::path &ko);
  std::map<std::string, std::vector<std::filesystem::path>> images_;
  std::filesystem::path tree_;
  std::map<std::string, std::unique_ptr<Open>> open_;  // by module name
};

// "bfq:.text+0x1c0": a module-relative place, as reports print it where a
// vmlinux report prints an address.
std::string module_place(const ModuleLocation &at);

}  // namespace kx
