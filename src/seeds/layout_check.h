// Constants that change memory layout are not tunable (paper §7): a new
// value would need objects of another size or shape. Compares two builds of
// one object for data sections that change size, data objects that change
// size or contents, and structures whose size or member offsets change.
#pragma once
#include <string>
#include <vector>

#include "binary/elf_file.h"

namespace kx {

// Human-readable reasons, empty when the layout is the same.
std::vector<std::string> layout_changes(const ElfFile &a, const ElfFile &b);

}  // namespace kx
