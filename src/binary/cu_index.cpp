#include "binary/cu_index.h"

#include "binary/source_paths.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <set>

namespace kx {
namespace fs = std::filesystem;

Result<std::vector<CompileUnit>> read_compile_units(const fs::path &vmlinux, const fs::path &tree) {
  int fd = open(vmlinux.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error("cannot open " + vmlinux.string() + ": " + strerror(errno));
  Dwarf *dw = dwarf_begin(fd, DWARF_C_READ);
  if (!dw) {
    close(fd);
    return make_error(vmlinux.string() + " has no DWARF debug information");
  }
  SourcePaths paths(tree);
  std::vector<CompileUnit> out;
  Dwarf_Off off = 0, next;
  size_t hsize;
  while (dwarf_nextcu(dw, off, &next, &hsize, nullptr, nullptr, nullptr) == 0) {
    Dwarf_Die cu;
    if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_diename(&cu)) {
      CompileUnit u;
      u.source = paths.relative(dwarf_diename(&cu));
      u.object = fs::path(u.source).replace_extension(".o").string();
      Dwarf_Files *files;
      size_t n = 0;
      if (dwarf_getsrcfiles(&cu, &files, &n) == 0) {
        std::set<std::string> seen;
        for (size_t i = 0; i < n; ++i) {
          const char *f = dwarf_filesrc(files, i, nullptr, nullptr);
          if (f && seen.insert(paths.relative(f)).second) u.files.push_back(paths.relative(f));
        }
      }
      out.push_back(std::move(u));
    }
    off = next;
  }
  dwarf_end(dw);
  close(fd);
  if (out.empty()) return make_error(vmlinux.string() + " has no compilation units");
  return out;
}

}  // namespace kx
