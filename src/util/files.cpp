#include "util/files.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kx {
namespace fs = std::filesystem;

Result<std::string> read_file(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return make_error("cannot read " + p.string() + ": " + strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status write_file_atomic(const fs::path &p, const std::string &content) {
  std::error_code ec;
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  fs::path tmp = p;
  tmp += ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return make_error("cannot write " + tmp.string() + ": " + strerror(errno));
    out << content;
    if (!out.flush()) return make_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, p, ec);
  if (ec) {
    fs::remove(tmp);
    return make_error("cannot rename to " + p.string() + ": " + ec.message());
  }
  return {};
}

Result<fs::path> make_temp_dir(const fs::path &parent, const std::string &prefix) {
  std::error_code ec;
  fs::create_directories(parent, ec);
  std::string tmpl = (parent / (prefix + "XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) return make_error("mkdtemp " + tmpl + ": " + strerror(errno));
  return fs::path(tmpl);
}

std::string hash_hex(const std::string &data) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace kx
