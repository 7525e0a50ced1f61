#include "spec/source_scan.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <set>

namespace kx {
namespace fs = std::filesystem;
namespace {

bool ident_char(unsigned char c) { return isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

bool has_word(const std::string &text, std::string_view word) {
  const char *base = text.data(), *end = base + text.size();
  for (const char *p = base; p < end; p++) {
    p = static_cast<const char *>(memmem(p, end - p, word.data(), word.size()));
    if (!p) return false;
    const char *after = p + word.size();
    if ((p == base || !ident_char(p[-1])) && (after == end || !ident_char(*after))) return true;
  }
  return false;
}

// Into a reused buffer: the scan reads a gigabyte, so no stream copies.
bool read_into(const fs::path &p, std::string &buf) {
  int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  bool ok = fstat(fd, &st) == 0;
  if (ok) {
    buf.resize(st.st_size);
    size_t got = 0;
    while (got < buf.size()) {
      ssize_t n = read(fd, buf.data() + got, buf.size() - got);
      if (n <= 0) break;
      got += n;
    }
    buf.resize(got);
  }
  close(fd);
  return ok;
}

bool skipped_dir(const fs::path &rel) {
  static const std::set<std::string> kTop = {"tools", "Documentation", "samples", "scripts", "usr"};
  std::string first = rel.begin()->string();
  if (first.starts_with('.') || kTop.count(first)) return true;
  return first == "arch" && std::distance(rel.begin(), rel.end()) == 2 && rel.filename() != "x86";
}

}  // namespace

Status scan_sources(const fs::path &tree, std::string_view word,
                    const std::function<void(const std::string &, const std::string &)> &visit) {
  std::error_code ec;
  if (!fs::is_directory(tree, ec)) return make_error("no kernel source tree at " + tree.string());
  fs::recursive_directory_iterator it(tree, fs::directory_options::skip_permission_denied, ec);
  if (ec) return make_error("cannot list " + tree.string() + ": " + ec.message());
  std::string buf;
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return make_error("cannot list " + tree.string() + ": " + ec.message());
    const fs::directory_entry &e = *it;
    fs::file_type type = e.symlink_status(ec).type();
    if (type == fs::file_type::directory) {
      if (it.depth() <= 1 && skipped_dir(e.path().lexically_relative(tree))) it.disable_recursion_pending();
      continue;
    }
    std::string ext = e.path().extension();
    if (type != fs::file_type::regular || (ext != ".c" && ext != ".h")) continue;
    if (read_into(e.path(), buf) && has_word(buf, word)) visit(e.path().lexically_relative(tree).string(), buf);
  }
  return {};
}

}  // namespace kx
