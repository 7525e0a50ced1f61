#include "slice/kernel_code.h"

#include <elf.h>

namespace kx {

std::optional<uint64_t> branch_target(const Insn &in, uint64_t address) {
  if (in.ops.size() != 1 || in.ops[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE || !in.ops[0].relative) return std::nullopt;
  return address + in.length + static_cast<uint64_t>(in.ops[0].value);
}

KernelCode::KernelCode(const ElfFile &vmlinux) : elf_(vmlinux) {
  for (auto *s : elf_.functions())
    if (elf_.section_executable(s->section)) by_address_.emplace(s->value, s);
}

std::string KernelCode::name_at(uint64_t entry) const {
  auto it = by_address_.find(entry);
  return it == by_address_.end() ? "" : it->second->name;
}

const KernelFunction *KernelCode::function_at(uint64_t address) {
  auto it = by_address_.upper_bound(address);
  if (it == by_address_.begin()) return nullptr;
  --it;
  const ElfSymbol *s = it->second;
  if (address >= s->value + s->size) return nullptr;
  if (auto d = decoded_.find(s->value); d != decoded_.end()) return d->second.get();
  auto bytes = elf_.symbol_bytes(*s);
  if (!bytes) return nullptr;
  auto insns = disassemble(*bytes, {}, s->value);
  if (!insns) return nullptr;
  auto f = std::make_unique<KernelFunction>();
  f->name = s->name;
  f->address = s->value;
  f->size = s->size;
  f->section = elf_.section_name(s->section);
  f->insns = std::move(*insns);
  return (decoded_[s->value] = std::move(f)).get();
}

const std::vector<uint64_t> &KernelCode::callers_of(uint64_t entry) {
  if (!callers_ready_) {
    // One pass over every function: fast enough (Zydis) to need no cache.
    for (auto &[start, s] : by_address_) {
      auto bytes = elf_.symbol_bytes(*s);
      if (!bytes) continue;
      auto insns = disassemble(*bytes, {}, start);
      if (!insns) continue;
      for (auto &in : *insns)
        if (in.zi.meta.category == ZYDIS_CATEGORY_CALL)
          if (auto t = branch_target(in, start + in.offset)) callers_[*t].push_back(start + in.offset);
    }
    callers_ready_ = true;
  }
  static const std::vector<uint64_t> none;
  auto it = callers_.find(entry);
  return it == callers_.end() ? none : it->second;
}

}  // namespace kx
