// Progress lines on stderr for steps that take more than a moment:
//   kx: extracting linux-source-6.1 ...
//   kx: extracting linux-source-6.1: done (9.8 s)
#pragma once
#include <chrono>
#include <string>

namespace kx {

void note(const std::string &line);  // "kx: <line>" on stderr

class Progress {
 public:
  explicit Progress(std::string what);
  ~Progress();  // reports "failed" unless done() was called
  void done(const std::string &detail = "");
  double seconds() const;

 private:
  std::string what_;
  std::chrono::steady_clock::time_point start_;
  bool finished_ = false;
};

}  // namespace kx
