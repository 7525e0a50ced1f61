// Elapsed wall time of a step, for the "time:" lines kx prints.
#pragma once
#include <chrono>

namespace kx {

class Stopwatch {
 public:
  double ms() const { return std::chrono::duration<double, std::milli>(clock::now() - start_).count(); }
  void restart() { start_ = clock::now(); }

 private:
  using clock = std::chrono::steady_clock;
  clock::time_point start_ = clock::now();
};

}  // namespace kx
