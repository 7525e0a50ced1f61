#include "binary/module_image.h"

#include "binary/cu_index.h"
#include "binary/function_compare.h"

namespace kx {

Result<ModuleImage> ModuleImage::open(const std::filesystem::path &ko) {
  KX_ASSIGN(elf, ElfFile::open(ko));
  if (!elf.relocatable()) return make_error(ko.string() + " is not a loadable module (not ET_REL)");
  ModuleImage m(std::move(elf));
  m.name_ = module_name(ko);
  m.build_id_ = m.elf_.build_id();
  if (m.build_id_.empty()) return make_error(ko.string() + " has no .note.gnu.build-id");
  for (auto *s : m.elf_.functions()) m.by_name_.emplace(s->name, s);
  return m;
}

Result<ModuleLocation> ModuleImage::function_location(const ElfFile &object, const ElfSymbol &fn) const {
  auto [lo, hi] = by_name_.equal_range(fn.name);
  if (lo == hi) return make_error(fn.name + " is not a function of module " + name_);
  KX_ASSIGN(bytes, object.symbol_bytes(fn));
  auto mask = relocation_mask(object, fn);
  for (auto it = lo; it != hi; ++it) {
    auto img = elf_.symbol_bytes(*it->second);
    // Both are relocatable: the module's own relocations sit where the
    // object's do, so the object's mask covers them.
    if (img && compare_masked(bytes, *img, mask).identical)
      return ModuleLocation{name_, build_id_, elf_.section_name(it->second->section), it->second->section,
                            it->second->value};
  }
  return make_error(fn.name + " of " + object.path().filename().string() + " differs from every function of module " +
                    name_ + " of that name (the tree does not reproduce the module)");
}

}  // namespace kx
