// The linked kernel as the slicer sees it: functions decoded from the debug
// vmlinux (the very bytes the kprobes attach to, calls resolved), found by
// address, plus an index of every direct call site so a value returned by a
// function can be followed into its callers.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "binary/disasm.h"
#include "binary/elf_file.h"

namespace kx {

struct KernelFunction {
  std::string name;
  uint64_t address = 0, size = 0;
  std::string section;     // ".text", ".noinstr.text", ".init.text", …
  std::vector<Insn> insns;
};

class KernelCode {
 public:
  explicit KernelCode(const ElfFile &vmlinux);
  // The function containing `address` (decoded once, cached), or null.
  const KernelFunction *function_at(uint64_t address);
  // Direct call sites (addresses of call instructions) of the function at
  // `entry`; the whole of .text is scanned once, on first use.
  const std::vector<uint64_t> &callers_of(uint64_t entry);
  // Name of the function at exactly `entry` ("" when none).
  std::string name_at(uint64_t entry) const;

 private:
  const ElfFile &elf_;
  std::map<uint64_t, const ElfSymbol *> by_address_;  // function symbols by start
  std::unordered_map<uint64_t, std::unique_ptr<KernelFunction>> decoded_;
  std::unordered_map<uint64_t, std::vector<uint64_t>> callers_;
  bool callers_ready_ = false;
};

// The target of a direct call or jump instruction at `address`.
std::optional<uint64_t> branch_target(const Insn &in, uint64_t address);

}  // namespace kx
