// Function-level diff of two builds of one object (kpatch's differ, at
// instruction level): functions matched by symbol, relocated fields masked,
// each changed function classified as immediate-only (same instructions,
// some immediates/displacements differ: these are seed candidates) or
// structural (the compiler generated different code).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "binary/disasm.h"
#include "binary/elf_file.h"

namespace kx {

struct DecodedFunction {
  std::string name;
  const ElfSymbol *symbol = nullptr;
  std::vector<Insn> insns;
};

// Every function of an object, decoded (relocated bytes marked).
Result<std::map<std::string, DecodedFunction>> decode_functions(const ElfFile &object);

// Pairs functions of two builds by name; clone suffixes (.constprop.N,
// .isra.N, .part.N) may renumber between builds, so an unmatched clone is
// paired by its base name when that is unambiguous.
std::vector<std::pair<std::string, std::string>> match_functions(const std::map<std::string, DecodedFunction> &a,
                                                                 const std::map<std::string, DecodedFunction> &b);

struct ValueChange {
  size_t insn = 0;     // instruction index
  size_t operand = 0;  // visible operand index
};

enum class DiffKind { Identical, ImmediateOnly, Structural };

struct FunctionDiff {
  DiffKind kind = DiffKind::Identical;
  std::vector<ValueChange> changes;  // ImmediateOnly: the operands that differ
};

FunctionDiff diff_functions(const DecodedFunction &a, const DecodedFunction &b);

// Aligns `b`'s instructions to `a`'s by register-free shape (LCS), so code
// whose registers were renamed or that shifted a little still lines up.
// Returns, for each instruction of `a`, its partner in `b` or -1.
std::vector<long> align_functions(const DecodedFunction &a, const DecodedFunction &b);

}  // namespace kx
