#include "binary/offline_dwarf.h"

#include <elfutils/libdwfl.h>
#include <gelf.h>

namespace kx {

namespace {

char *no_debuginfo_path = nullptr;
// The file is read as it is: no separate debuginfo is looked for.
const Dwfl_Callbacks kOffline = {
    .find_elf = nullptr,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &no_debuginfo_path,
};

}  // namespace

struct OfflineDwarf::Impl {
  Dwfl *dwfl = nullptr;
  Dwfl_Module *mod = nullptr;
  Dwarf *dw = nullptr;
  ~Impl() {
    if (dwfl) dwfl_end(dwfl);
  }
};

OfflineDwarf::OfflineDwarf() : impl_(std::make_unique<Impl>()) {}
OfflineDwarf::OfflineDwarf(OfflineDwarf &&) noexcept = default;
OfflineDwarf::~OfflineDwarf() = default;

Result<OfflineDwarf> OfflineDwarf::open(const std::filesystem::path &file) {
  OfflineDwarf d;
  d.impl_->dwfl = dwfl_begin(&kOffline);
  if (!d.impl_->dwfl) return make_error(std::string("libdwfl: ") + dwfl_errmsg(-1));
  d.impl_->mod = dwfl_report_offline(d.impl_->dwfl, file.stem().c_str(), file.c_str(), -1);
  dwfl_report_end(d.impl_->dwfl, nullptr, nullptr);
  if (!d.impl_->mod) return make_error("cannot read " + file.string() + ": " + dwfl_errmsg(-1));
  Dwarf_Addr bias = 0;
  d.impl_->dw = dwfl_module_getdwarf(d.impl_->mod, &bias);
  return d;
}

Dwarf *OfflineDwarf::dwarf() const { return impl_->dw; }

Result<uint64_t> OfflineDwarf::section_address(size_t index) const {
  Dwarf_Addr bias = 0;
  Elf *elf = dwfl_module_getelf(impl_->mod, &bias);
  GElf_Shdr shdr;
  Elf_Scn *scn = elf ? elf_getscn(elf, index) : nullptr;
  if (!scn || !gelf_getshdr(scn, &shdr)) return make_error("no section " + std::to_string(index));
  return shdr.sh_addr + bias;
}

}  // namespace kx
