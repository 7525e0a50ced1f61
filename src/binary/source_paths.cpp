#include "binary/source_paths.h"

#include <vector>

namespace kx {
namespace fs = std::filesystem;

const std::string &SourcePaths::relative(const char *name) {
  auto it = memo_.find(name);
  if (it != memo_.end()) return it->second;
  fs::path p = fs::path(name).lexically_normal();
  std::string out = p.string();
  if (p.is_absolute()) {
    auto parts = std::vector<fs::path>(p.begin(), p.end());
    for (size_t i = 1; i < parts.size(); ++i) {
      fs::path rel;
      for (size_t k = i; k < parts.size(); ++k) rel /= parts[k];
      if (fs::exists(tree_ / rel)) {
        out = rel.string();
        break;
      }
    }
  } else if (out.rfind("./", 0) == 0) {
    out = out.substr(2);
  }
  return memo_.emplace(name, out).first->second;
}

}  // namespace kx
