// x86-64 decoding with Zydis. Each instruction keeps Zydis' full decoding
// (for the lifter) plus what diffing needs: operand values, which of them
// the linker fills in (relocated), and a register-free "shape" for aligning
// code whose registers were renamed.
#pragma once
#include <Zydis/Zydis.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "util/result.h"

namespace kx {

struct Operand {
  ZydisOperandType type = ZYDIS_OPERAND_TYPE_UNUSED;
  uint16_t size = 0;          // bits
  bool relocated = false;     // its immediate/displacement bytes are a relocation
  bool relative = false;      // a branch target (value depends on layout)
  int64_t value = 0;          // immediate, or memory displacement
  bool has_value = false;     // an immediate, or a memory operand with a displacement
};

struct Insn {
  uint64_t offset = 0;  // in the function
  uint8_t length = 0;
  ZydisDecodedInstruction zi{};
  ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT]{};
  std::vector<Operand> ops;  // visible operands, in Intel order
  std::string text;          // AT&T syntax, as objdump prints it
  // A branch whose target the linker fills in: the symbol it names, when
  // that is a function or other named symbol ("__x86_return_thunk" makes a
  // jmp a return); empty for a section (the function's own cold part).
  std::string branch_symbol;

  ZydisMnemonic mnemonic() const { return zi.mnemonic; }
  // Mnemonic and operand kinds/sizes, registers and values left out.
  std::string shape() const;
  // Shape plus register names: equal iff only immediates/displacements differ.
  std::string shape_with_registers() const;
};

// The x86-64 decoder (64-bit mode), shared: every decoding in kx is of kernel code.
const ZydisDecoder &x86_64_decoder();

// Decodes `code` (a whole function). `relocated` marks bytes the linker fills
// in (see relocation_mask); `address` is used for printing branch targets.
Result<std::vector<Insn>> disassemble(std::span<const uint8_t> code, const std::vector<bool> &relocated,
                                      uint64_t address = 0);

}  // namespace kx
