// "0x…" formatting of addresses and offsets, the way objdump and the paper
// print them.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace kx {

inline std::string hex(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace kx
