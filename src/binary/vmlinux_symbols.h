// Where an object's function lives in vmlinux: the symbol of the same name
// whose bytes equal the object's outside relocations (a static function may
// have namesakes in other objects; the bytes tell which is ours). This check
// is what makes "vmlinux address = symbol + offset in the object" safe.
#pragma once
#include <filesystem>
#include <string>
#include <unordered_map>

#include "binary/elf_file.h"

namespace kx {

class VmlinuxSymbols {
 public:
  static Result<VmlinuxSymbols> open(const std::filesystem::path &vmlinux);
  const ElfFile &elf() const { return elf_; }
  // The link address of `fn` (a function of `object`), or an error saying
  // why no vmlinux function matches it.
  Result<uint64_t> address_of(const ElfFile &object, const ElfSymbol &fn) const;

 private:
  explicit VmlinuxSymbols(ElfFile e) : elf_(std::move(e)) {}
  ElfFile elf_;
  std::unordered_multimap<std::string, const ElfSymbol *> by_name_;
};

}  // namespace kx
