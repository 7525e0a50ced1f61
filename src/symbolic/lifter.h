// x86-64 to Z3 bit-vector semantics, one instruction at a time (paper
// §3.3.2's symbolic execution needs exactly this). Covers the integer
// instructions the compiler materializes constants with: moves and
// extensions, lea, add/adc/sub/sbb/neg/inc/dec/cmp, and/or/xor/not/test,
// shifts and rotates, imul/mul, setcc/cmovcc, push/pop, xchg, sign
// extensions; jcc conditions. Anything else is an error naming the
// mnemonic — never skipped. Flags the ISA leaves undefined become fresh
// "undef" constants, so neither proofs nor tests depend on them.
#pragma once
#include <z3++.h>

#include <optional>
#include <vector>

#include "binary/disasm.h"
#include "symbolic/sym_state.h"
#include "util/result.h"

namespace kx {

// Replaces the value of a visible operand (an immediate, or a memory
// operand's displacement) by a term: how a seed's T becomes symbolic.
struct ValueOverride {
  size_t operand = 0;
  z3::expr value;  // any width; truncated or sign-extended to the operand's
};

enum class LiftEnd { Continue, Branch };

// Executes `insn` (at `address`, used for rip-relative operands) on `s`.
Result<LiftEnd> lift(SymState &s, const Insn &insn, uint64_t address,
                     const std::vector<ValueOverride> &overrides = {});

// The condition of a jcc/setcc/cmovcc mnemonic over the current flags.
Result<z3::expr> condition(const SymState &s, ZydisMnemonic m);

// True when `e` depends on a flag value the ISA leaves undefined.
bool depends_on_undefined(const z3::expr &e);

// Mnemonics lift() supports (for tests and reports).
bool lift_supports(ZydisMnemonic m);

}  // namespace kx
