// Steps of a cache that may be re-run: each step has a key naming its inputs;
// a step whose stamp holds the same key (chained with every earlier key) is
// skipped. A failing or re-run step invalidates itself and all later steps
// first, so a half-done cache is never taken for a finished one.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "util/result.h"

namespace kx {

struct CachedStep {
  std::string name;  // also the stamp file's name
  std::string key;   // what the step's result depends on
  std::function<Status()> run;
};

struct StepReport {
  std::vector<std::string> ran, skipped;
};

Result<StepReport> run_cached_steps(const std::filesystem::path &stamp_dir,
                                    const std::vector<CachedStep> &steps);

}  // namespace kx
