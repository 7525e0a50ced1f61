// Which general-purpose registers are live (may be read before being
// written) at each instruction of a function: the classic backward dataflow
// over its control flow, with the System V ABI at calls and returns. Region
// matching (synth/critical_span.cpp) uses it to tell the values the code
// after a region reads from the temporaries two compilations leave behind.
#pragma once
#include <cstdint>
#include <vector>

#include "binary/disasm.h"

namespace kx {

// xor or sub of a register with itself: it writes the register without
// reading it (the value before is dead), whatever Zydis's operand actions say.
bool zero_idiom(const Insn &in);

// The GPRs an instruction's operands touch, in operand order: each register
// operand it reads (an 8/16-bit write keeps the rest of the register, so it
// reads it too) or writes whole, and the base and index of each memory
// operand (read). `operand` indexes Insn::zops.
struct RegisterAccess {
  int operand = 0;
  int gpr = 0;        // 0 = rax … 15 = r15
  bool read = false;  // else written whole
};
std::vector<RegisterAccess> register_accesses(const Insn &in);

// The System V ABI's register sets, bit r for GPR r.
inline constexpr uint16_t kCalleeSavedRegs = 0xf038;  // rbx, rsp, rbp, r12–r15
inline constexpr uint16_t kArgumentRegs = 0x03c6;     // rdi, rsi, rdx, rcx, r8, r9

// A ret, or a jmp to __x86_return_thunk (what a ret is in a kernel built
// with return thunks: the running kernel patches it back into a ret).
bool is_return(const Insn &in);
// A jump to another function: it reads the arguments and keeps the
// callee-saved registers for the caller, as a call followed by a ret would.
bool is_tail_call(const Insn &in);

// Bit r (0 = rax … 15 = r15, x86 encoding order) of live_in[i]: register r
// may be read at instruction i or after it before being written. Where the
// flow leaves what the function's code shows (an indirect jump, a jump to
// another section or function), every register counts as live.
std::vector<uint16_t> live_in(const std::vector<Insn> &insns);

}  // namespace kx
