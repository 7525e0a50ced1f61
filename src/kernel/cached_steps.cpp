#include "kernel/cached_steps.h"

#include "util/files.h"

namespace kx {
namespace fs = std::filesystem;

Result<StepReport> run_cached_steps(const fs::path &stamp_dir, const std::vector<CachedStep> &steps) {
  StepReport report;
  std::string chain;
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto &step = steps[i];
    chain = hash_hex(chain + "\n" + step.name + "\n" + step.key);
    fs::path stamp = stamp_dir / (step.name + ".stamp");
    auto have = read_file(stamp);
    if (have && *have == chain) {
      report.skipped.push_back(step.name);
      continue;
    }
    std::error_code ec;
    for (size_t k = i; k < steps.size(); ++k) fs::remove(stamp_dir / (steps[k].name + ".stamp"), ec);
    auto st = step.run();
    if (!st) return st.error().context(step.name);
    KX_TRY(write_file_atomic(stamp, chain));
    report.ran.push_back(step.name);
  }
  return report;
}

}  // namespace kx
