// DWARF file names as paths relative to the kernel source tree: the build's
// absolute source root (/build/reproducible-path/linux-6.1.192/…) is dropped
// by finding the suffix that exists in our tree. Memoized: the same headers
// appear in thousands of units.
#pragma once
#include <filesystem>
#include <string>
#include <unordered_map>

namespace kx {

class SourcePaths {
 public:
  explicit SourcePaths(std::filesystem::path tree) : tree_(std::move(tree)) {}
  const std::string &relative(const char *dwarf_name);

 private:
  std::filesystem::path tree_;
  std::unordered_map<std::string, std::string> memo_;
};

}  // namespace kx
