// A minimal writer for the "newc" cpio format the kernel unpacks as an
// initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
#pragma once
#include <string>

namespace kx {

class CpioWriter {
 public:
  void directory(const std::string &path, unsigned mode = 0755);
  void file(const std::string &path, const std::string &data, unsigned mode = 0644);
  void symlink(const std::string &path, const std::string &target);
  // Appends the trailer and returns the archive.
  std::string finish();

 private:
  void entry(const std::string &path, unsigned mode, const std::string &data);
  std::string out_;
  unsigned ino_ = 1;
};

}  // namespace kx
