#include "binary/debug_info.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "binary/offline_dwarf.h"
#include "binary/source_paths.h"

namespace kx {

struct DebugInfo::Impl {
  int fd = -1;
  Dwarf *dw = nullptr;
  SourcePaths paths{""};
  std::optional<OfflineDwarf> module;  // open_module: owns `dw`
  ~Impl() {
    if (dw && !module) dwarf_end(dw);
    if (fd >= 0) close(fd);
  }
};

DebugInfo::DebugInfo() : impl_(std::make_unique<Impl>()) {}
DebugInfo::DebugInfo(DebugInfo &&) noexcept = default;
DebugInfo::~DebugInfo() = default;

Result<DebugInfo> DebugInfo::open(const std::filesystem::path &vmlinux, const std::filesystem::path &tree) {
  DebugInfo d;
  d.impl_->fd = ::open(vmlinux.c_str(), O_RDONLY | O_CLOEXEC);
  if (d.impl_->fd < 0) return make_error("cannot open " + vmlinux.string() + ": " + strerror(errno));
  d.impl_->dw = dwarf_begin(d.impl_->fd, DWARF_C_READ);
  if (!d.impl_->dw) return make_error(vmlinux.string() + " has no DWARF debug information");
  d.impl_->paths = SourcePaths(tree);
  return d;
}

Result<DebugInfo> DebugInfo::open_module(const std::filesystem::path &ko, const std::filesystem::path &tree) {
  DebugInfo d;
  KX_ASSIGN(dwarf, OfflineDwarf::open(ko));
  if (!dwarf.dwarf()) return make_error(ko.string() + " has no DWARF debug information");
  d.impl_->dw = dwarf.dwarf();
  d.impl_->module.emplace(std::move(dwarf));
  d.impl_->paths = SourcePaths(tree);
  return d;
}

Result<SourceLocation> DebugInfo::locate_in_section(size_t index, uint64_t offset) {
  if (!impl_->module) return make_error("not a module's debug information");
  KX_ASSIGN(base, impl_->module->section_address(index));
  return locate(base + offset);
}

namespace {

std::string die_name(Dwarf_Die *die) {
  Dwarf_Attribute attr;
  const char *n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
  return n ? n : "?";
}

}  // namespace

Result<SourceLocation> DebugInfo::locate(uint64_t address) {
  char hex[32];
  snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(address));
  Dwarf_Die cu;
  if (!dwarf_addrdie(impl_->dw, address, &cu)) return make_error(std::string("no debug information for ") + hex);
  SourceLocation loc;
  if (Dwarf_Line *line = dwarf_getsrc_die(&cu, address)) {
    int l = 0;
    dwarf_lineno(line, &l);
    const char *f = dwarf_linesrc(line, nullptr, nullptr);
    loc.file = f ? impl_->paths.relative(f) : "?";
    loc.line = l;
  }
  Dwarf_Files *files = nullptr;
  size_t nfiles = 0;
  dwarf_getsrcfiles(&cu, &files, &nfiles);

  // As eu-addr2line does: the innermost scope at the address, then every
  // scope containing that DIE (dwarf_getscopes alone stops early).
  Dwarf_Die *scopes = nullptr;
  int n = dwarf_getscopes(&cu, address, &scopes);
  if (n > 0) {
    Dwarf_Die inner;
    dwarf_offdie(impl_->dw, dwarf_dieoffset(&scopes[0]), &inner);
    free(scopes);
    scopes = nullptr;
    n = dwarf_getscopes_die(&inner, &scopes);
  }
  // Each inlined scope runs at the position its caller's call site names.
  std::string file = loc.file;
  int line = loc.line;
  for (int i = 0; i < n; ++i) {
    int tag = dwarf_tag(&scopes[i]);
    if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
    loc.frames.push_back({die_name(&scopes[i]), file, line});
    if (tag == DW_TAG_subprogram) break;
    Dwarf_Attribute attr;
    Dwarf_Word cf = 0, cl = 0;
    if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &attr), &cf) == 0 && cf < nfiles) {
      const char *f = dwarf_filesrc(files, cf, nullptr, nullptr);
      file = f ? impl_->paths.relative(f) : "?";
    }
    if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &attr), &cl) == 0) line = static_cast<int>(cl);
  }
  free(scopes);
  return loc;
}

}  // namespace kx
