#include "lab/cpio_newc.h"

#include <sys/stat.h>

#include <cstdio>

namespace kx {

void CpioWriter::entry(const std::string &path, unsigned mode, const std::string &data) {
  char hdr[111];
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
  // rdevmajor, rdevminor, namesize, check
  snprintf(hdr, sizeof hdr, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino_++, mode, 0,
           0, 1, 0, static_cast<unsigned>(data.size()), 0, 0, 0, 0,
           static_cast<unsigned>(path.size() + 1), 0);
  out_.append(hdr, 110);
  out_ += path;
  out_ += '\0';
  out_.append((4 - out_.size() % 4) % 4, '\0');
  out_ += data;
  out_.append((4 - out_.size() % 4) % 4, '\0');
}

void CpioWriter::directory(const std::string &path, unsigned mode) { entry(path, S_IFDIR | mode, ""); }
void CpioWriter::file(const std::string &path, const std::string &data, unsigned mode) {
  entry(path, S_IFREG | mode, data);
}
void CpioWriter::symlink(const std::string &path, const std::string &target) {
  entry(path, S_IFLNK | 0777, target);
}

std::string CpioWriter::finish() {
  entry("TRAILER!!!", 0, "");
  return std::move(out_);
}

}  // namespace kx
