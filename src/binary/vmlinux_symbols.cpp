#include "binary/vmlinux_symbols.h"

#include "binary/function_compare.h"

namespace kx {

Result<VmlinuxSymbols> VmlinuxSymbols::open(const std::filesystem::path &vmlinux) {
  KX_ASSIGN(elf, ElfFile::open(vmlinux));
  VmlinuxSymbols v(std::move(elf));
  for (auto *s : v.elf_.functions()) v.by_name_.emplace(s->name, s);
  return v;
}

Result<uint64_t> VmlinuxSymbols::address_of(const ElfFile &object, const ElfSymbol &fn) const {
  auto [lo, hi] = by_name_.equal_range(fn.name);
  if (lo == hi) return make_error(fn.name + " is not a function of vmlinux");
  KX_ASSIGN(bytes, object.symbol_bytes(fn));
  auto mask = relocation_mask(object, fn);
  for (auto it = lo; it != hi; ++it) {
    auto img = elf_.symbol_bytes(*it->second);
    if (img && compare_masked(bytes, *img, mask).identical) return it->second->value;
  }
  return make_error(fn.name + " of " + object.path().filename().string() +
                    " differs from every vmlinux function of that name (the tree does not reproduce the kernel)");
}

}  // namespace kx
