#include "binary/function_compare.h"

#include <elf.h>

#include <cstdio>
#include <unordered_map>

namespace kx {

FunctionMatch compare_masked(std::span<const uint8_t> a, std::span<const uint8_t> b,
                             const std::vector<bool> &mask) {
  FunctionMatch m;
  if (a.size() != b.size()) {
    m.first_diff = std::min(a.size(), b.size());
    return m;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (i < mask.size() && mask[i]) {
      ++m.masked_bytes;
      continue;
    }
    if (a[i] != b[i]) {
      m.first_diff = i;
      return m;
    }
  }
  m.identical = true;
  return m;
}

std::vector<bool> relocation_mask(const ElfFile &object, const ElfSymbol &fn) {
  std::vector<bool> mask(fn.size, false);
  for (auto &r : object.relocations_for(fn.section)) {
    if (r.offset + relocation_width(r.type) <= fn.value || r.offset >= fn.value + fn.size) continue;
    for (unsigned k = 0; k < relocation_width(r.type); ++k) {
      uint64_t at = r.offset + k;
      if (at >= fn.value && at < fn.value + fn.size) mask[at - fn.value] = true;
    }
  }
  return mask;
}

ObjectFidelity compare_object(const ElfFile &object, const ElfFile &image) {
  std::unordered_multimap<std::string, const ElfSymbol *> by_name;
  for (auto *s : image.functions()) by_name.emplace(s->name, s);

  ObjectFidelity out;
  for (auto *fn : object.functions()) {
    ++out.functions;
    auto bytes = object.symbol_bytes(*fn);
    auto range = by_name.equal_range(fn->name);
    if (!bytes || range.first == range.second) {
      out.missing.push_back(fn->name);
      continue;
    }
    auto mask = relocation_mask(object, *fn);
    std::optional<uint64_t> diff;
    bool found = false;
    for (auto it = range.first; it != range.second && !found; ++it) {
      auto img = image.symbol_bytes(*it->second);
      if (!img) continue;
      auto m = compare_masked(*bytes, *img, mask);
      if (m.identical) found = true;
      else if (!diff) diff = m.first_diff;
    }
    if (found) {
      ++out.identical;
    } else if (fn->bind == STB_WEAK) {
      --out.functions;
      ++out.weak_overridden;
    } else {
      char buf[32];
      snprintf(buf, sizeof buf, "+0x%llx", static_cast<unsigned long long>(diff.value_or(0)));
      out.differing.push_back(fn->name + buf);
    }
  }
  return out;
}

}  // namespace kx
