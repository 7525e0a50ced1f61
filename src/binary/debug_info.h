// Source positions of kernel addresses from the debug vmlinux's DWARF
// (libdw): the line, and the chain of inlined functions down to it, the way
// `addr2line -i -f` reports them, with paths relative to the source tree.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "util/result.h"

namespace kx {

struct InlineFrame {
  std::string function;
  std::string file;  // tree-relative
  int line = 0;
};

struct SourceLocation {
  std::string file;
  int line = 0;
  std::vector<InlineFrame> frames;  // innermost first; the last is the real function
};

class DebugInfo {
 public:
  static Result<DebugInfo> open(const std::filesystem::path &vmlinux, const std::filesystem::path &tree);
  DebugInfo(DebugInfo &&) noexcept;
  ~DebugInfo();
  Result<SourceLocation> locate(uint64_t address);

 private:
  DebugInfo();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kx
