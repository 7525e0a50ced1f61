// ELF access through elfutils' libelf: symbols, section bytes, relocations,
// build-id. Used for kernel objects (ET_REL) and vmlinux (ET_EXEC) alike.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "util/result.h"

namespace kx {

struct ElfSymbol {
  std::string name;
  uint64_t value = 0;  // ET_REL: offset in its section; ET_EXEC: address
  uint64_t size = 0;
  size_t section = 0;  // st_shndx
  unsigned char type = 0, bind = 0;
};

struct ElfRelocation {
  uint64_t offset = 0;  // in the section it applies to
  uint32_t type = 0;
  uint32_t symbol = 0;
  int64_t addend = 0;
};

class ElfFile {
 public:
  static Result<ElfFile> open(const std::filesystem::path &path);
  ElfFile(ElfFile &&) noexcept;
  ElfFile &operator=(ElfFile &&) noexcept;
  ~ElfFile();

  const std::filesystem::path &path() const { return path_; }
  bool relocatable() const;  // ET_REL (an object file)
  const std::vector<ElfSymbol> &symbols() const { return symbols_; }
  std::vector<const ElfSymbol *> functions() const;  // STT_FUNC with a size, defined
  std::vector<const ElfSymbol *> find_symbols(const std::string &name) const;

  std::string section_name(size_t index) const;
  std::optional<size_t> section_index(const std::string &name) const;
  uint64_t section_size(size_t index) const;
  bool section_executable(size_t index) const;
  // Bytes of `size` at `value` of a symbol in `section` (handles both ET_REL
  // offsets and ET_EXEC addresses).
  Result<std::span<const uint8_t>> bytes(size_t section, uint64_t value, uint64_t size) const;
  Result<std::span<const uint8_t>> symbol_bytes(const ElfSymbol &s) const {
    return bytes(s.section, s.value, s.size);
  }
  // All RELA relocations that apply to `section`, sorted by offset.
  std::vector<ElfRelocation> relocations_for(size_t section) const;
  // Hex GNU build-id, empty if the file has none.
  std::string build_id() const;

 private:
  ElfFile() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::filesystem::path path_;
  std::vector<ElfSymbol> symbols_;
};

// Width in bytes of the field an x86-64 relocation of `type` patches.
unsigned relocation_width(uint32_t type);

}  // namespace kx
