#include "binary/cu_index.h"

#include "binary/offline_dwarf.h"
#include "binary/source_paths.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace kx {
namespace fs = std::filesystem;

namespace {

// Appends the units of `dw` to `out`.
void collect_units(Dwarf *dw, SourcePaths &paths, std::vector<CompileUnit> &out) {
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
}

}  // namespace

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
  collect_units(dw, paths, out);
  dwarf_end(dw);
  close(fd);
  if (out.empty()) return make_error(vmlinux.string() + " has no compilation units");
  return out;
}

std::string module_name(const fs::path &ko) {
  std::string name = ko.stem().string();
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

Result<std::vector<CompileUnit>> read_module_compile_units(const fs::path &dir, const fs::path &tree) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return make_error("no debug modules at " + dir.string());
  std::vector<fs::path> kos;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file() && it->path().extension() == ".ko") kos.push_back(it->path());
  if (ec) return make_error("cannot list " + dir.string() + ": " + ec.message());
  std::sort(kos.begin(), kos.end());
  SourcePaths paths(tree);
  std::vector<CompileUnit> out;
  for (auto &ko : kos) {
    KX_ASSIGN(dwarf, OfflineDwarf::open(ko));
    // A module without DWARF (stripped) has no units to offer; not an error.
    if (Dwarf *dw = dwarf.dwarf()) {
      std::vector<CompileUnit> units;
      collect_units(dw, paths, units);
      for (auto &u : units) {
        if (u.source.size() >= 6 && u.source.compare(u.source.size() - 6, 6, ".mod.c") == 0) continue;
        u.module = module_name(ko);
        u.module_image = ko;
        out.push_back(std::move(u));
      }
    }
  }
  return out;
}

}  // namespace kx
