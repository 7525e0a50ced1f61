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
  // A loadable module's debug .ko (ET_REL): its DWARF is read relocated,
  // and positions are given as section + offset (locate_in_section).
  static Result<DebugInfo> open_module(const std::filesystem::path &ko, const std::filesystem::path &tree);
  DebugInfo(DebugInfo &&) noexcept;
  ~DebugInfo();
  Result<SourceLocation> locate(uint64_t address);
  // `offset` into section `index` (st_shndx) of a module opened by open_module.
  Result<SourceLocation> locate_in_section(size_t index, uint64_t offset);

 private:
  DebugInfo();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kx
