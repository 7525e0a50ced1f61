// The architectural state the lifter works on, as Z3 terms: sixteen 64-bit
// registers, the arithmetic flags as booleans, and memory as an array from
// 64-bit addresses to bytes (paper §3.3: "registers, flags, memory").
#pragma once
#include <Zydis/Zydis.h>
#include <z3++.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace kx {

enum Flag { CF, PF, AF, ZF, SF, OF, kFlagCount };
const char *flag_name(Flag f);

// Where a Zydis register lives: which of the 16 GPRs, bit offset, width.
struct GprSlice {
  int index = -1;  // 0 = rax … 15 = r15, x86 encoding order
  unsigned shift = 0, bits = 0;
};
std::optional<GprSlice> gpr_slice(ZydisRegister r);
const char *gpr_name(int index);  // "rax", …, "r15"

// Names of the terms a state can hold for memory it reads (see the options
// below): the part of a memory operand's address the linker fills in (a
// rip-relative operand's target, a relocated displacement) for the
// instruction at `address`, and a read of `bits` bits from memory no store
// touched.
std::string linked_symbol(uint64_t address);
std::string load_symbol(unsigned bits);

struct MemRead {
  z3::expr addr;
  unsigned bytes;
};

struct SymState {
  explicit SymState(z3::context &c, const std::string &prefix = "in_");
  z3::context &ctx() const { return *context; }
  z3::context *context;
  std::array<z3::expr, 16> gpr;
  std::array<z3::expr, kFlagCount> flag;  // Bool
  z3::expr mem;                           // Array(BV64 -> BV8)
  z3::expr gs_base, fs_base;              // segment bases (per-CPU data)
  std::vector<MemRead> reads;             // every read of memory, in order

  // Options, kept by copies. symbolic_links: the linked part of a memory
  // operand's address (a rip-relative target, a relocated displacement) is
  // linked_symbol(its instruction's address) — the code is an unlinked
  // object, where those bytes are not the address yet. opaque_loads: a read of
  // memory no store has touched is load_symbol(bits)(address), an
  // uninterpreted function, the form synthesis turns into the update
  // language's load (proofs keep the byte semantics).
  bool symbolic_links = false, opaque_loads = false;

  z3::expr read_reg(ZydisRegister r) const;  // the register's own width
  void write_reg(ZydisRegister r, const z3::expr &v);  // 32-bit writes zero-extend
  z3::expr load(const z3::expr &addr, unsigned bytes);  // little-endian; recorded in `reads`
  void store(const z3::expr &addr, const z3::expr &v);
};

}  // namespace kx
