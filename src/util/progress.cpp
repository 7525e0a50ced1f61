#include "util/progress.h"

#include <cstdio>

namespace kx {

void note(const std::string &line) { fprintf(stderr, "kx: %s\n", line.c_str()); }

Progress::Progress(std::string what) : what_(std::move(what)), start_(std::chrono::steady_clock::now()) {
  fprintf(stderr, "kx: %s ...\n", what_.c_str());
}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::done(const std::string &detail) {
  finished_ = true;
  fprintf(stderr, "kx: %s: done%s%s (%.1f s)\n", what_.c_str(), detail.empty() ? "" : ", ",
          detail.c_str(), seconds());
}

Progress::~Progress() {
  if (!finished_) fprintf(stderr, "kx: %s: failed (%.1f s)\n", what_.c_str(), seconds());
}

}  // namespace kx
