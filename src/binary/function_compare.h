// Does a function compiled into an object equal the same function in a
// linked image, outside the fields the linker fills in (relocations)?
// This is the fidelity test behind "link address = vmlinux symbol + offset".
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "binary/elf_file.h"

namespace kx {

struct FunctionMatch {
  bool identical = false;
  uint64_t masked_bytes = 0;              // bytes skipped as relocated fields
  std::optional<uint64_t> first_diff;     // offset in the function, when different
};

// `mask` marks which of the object's bytes are relocated (true = ignore).
FunctionMatch compare_masked(std::span<const uint8_t> object_bytes, std::span<const uint8_t> image_bytes,
                             const std::vector<bool> &mask);

// Mask of the relocated bytes of function `fn` of an object file.
std::vector<bool> relocation_mask(const ElfFile &object, const ElfSymbol &fn);

struct ObjectFidelity {
  size_t functions = 0;   // functions of the object that were compared
  size_t identical = 0;
  std::vector<std::string> differing;  // "name+0xOFF"
  std::vector<std::string> missing;    // in the object, not in the image
  size_t weak_overridden = 0;          // weak definitions the link replaced
};

// Compares every function of `object` against the function of the same name
// in `image` (any of several same-named statics may match). A weak function
// that no image function matches was overridden at link time and is counted
// apart, not as a difference.
ObjectFidelity compare_object(const ElfFile &object, const ElfFile &image);

}  // namespace kx
