// The DWARF of a relocatable object (a loadable module's .ko) through
// libdwfl's offline mode: its sections laid out one after the other and its
// relocations applied to the debug sections. Plain libdw reads an ET_REL
// file's DWARF unrelocated (every string and address offset 0), so this is
// the only correct way to read a .ko's units, lines and inline chains.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

#include <elfutils/libdw.h>

#include "util/result.h"

namespace kx {

class OfflineDwarf {
 public:
  static Result<OfflineDwarf> open(const std::filesystem::path &file);
  OfflineDwarf(OfflineDwarf &&) noexcept;
  ~OfflineDwarf();
  Dwarf *dwarf() const;  // null when the file has no DWARF
  // The address the offline layout gave section `index` (st_shndx): DWARF
  // addresses are section offsets plus this.
  Result<uint64_t> section_address(size_t index) const;

 private:
  OfflineDwarf();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kx
