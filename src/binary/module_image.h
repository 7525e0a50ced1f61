// A loadable module's debug .ko as the authority on where an object's
// function ended up: the module is an ET_REL file, so a place in it is a
// section and an offset, not an address; the loader picks the address. As
// for vmlinux (vmlinux_symbols.h), a function is located only where its
// bytes equal the object's outside relocations.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>

#include "binary/elf_file.h"

namespace kx {

struct ModuleLocation {
  std::string module;    // "bfq"
  std::string build_id;  // hex .note.gnu.build-id of the .ko
  std::string section;   // ".text", ".text.unlikely", …
  size_t section_index = 0;
  uint64_t offset = 0;   // in `section`
};

class ModuleImage {
 public:
  static Result<ModuleImage> open(const std::filesystem::path &ko);
  const ElfFile &elf() const { return elf_; }
  const std::string &name() const { return name_; }
  const std::string &build_id() const { return build_id_; }
  // Where function `fn` of `object` starts in the module, or an error
  // saying why no function of the module matches it.
  Result<ModuleLocation> function_location(const ElfFile &object, const ElfSymbol &fn) const;

 private:
  explicit ModuleImage(ElfFile e) : elf_(std::move(e)) {}
  ElfFile elf_;
  std::string name_, build_id_;
  std::unordered_multimap<std::string, const ElfSymbol *> by_name_;
};

}  // namespace kx
