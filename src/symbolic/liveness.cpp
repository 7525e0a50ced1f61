#include "symbolic/liveness.h"

#include <map>

#include "symbolic/sym_state.h"

namespace kx {
namespace {

constexpr uint16_t bit(int r) { return static_cast<uint16_t>(1u << r); }
constexpr uint16_t kAll = 0xffff;
enum { kRax, kRcx, kRdx, kRbx, kRsp, kRbp, kRsi, kRdi, kR8, kR9, kR10, kR11, kR12, kR13, kR14, kR15 };
constexpr uint16_t kCalleeSaved = kCalleeSavedRegs, kArguments = kArgumentRegs;
static_assert(kCalleeSaved == (bit(kRbx) | bit(kRsp) | bit(kRbp) | bit(kR12) | bit(kR13) | bit(kR14) | bit(kR15)));
static_assert(kArguments == (bit(kRdi) | bit(kRsi) | bit(kRdx) | bit(kRcx) | bit(kR8) | bit(kR9)));
constexpr uint16_t kCallerSaved = kArguments | bit(kRax) | bit(kR10) | bit(kR11);

struct UseDef {
  uint16_t use = 0, def = 0;
};

UseDef use_def(const Insn &in) {
  UseDef u;
  auto cat = in.zi.meta.category;
  if (cat == ZYDIS_CATEGORY_CALL) return {static_cast<uint16_t>(kArguments | bit(kRsp)), kCallerSaved};
  if (is_return(in)) return {static_cast<uint16_t>(kCalleeSaved | bit(kRax) | bit(kRdx)), 0};
  if (is_tail_call(in)) return {static_cast<uint16_t>(kCalleeSaved | kArguments | bit(kRax)), 0};
  for (const RegisterAccess &a : register_accesses(in)) (a.read ? u.use : u.def) |= bit(a.gpr);
  u.def &= static_cast<uint16_t>(~u.use);  // read and written: live before it
  return u;
}

}  // namespace

std::vector<RegisterAccess> register_accesses(const Insn &in) {
  std::vector<RegisterAccess> out;
  const bool zeroes = zero_idiom(in);
  for (int k = 0; k < in.zi.operand_count; ++k) {
    const auto &o = in.zops[k];
    if (o.type == ZYDIS_OPERAND_TYPE_MEMORY) {
      for (ZydisRegister r : {o.mem.base, o.mem.index})
        if (auto sl = gpr_slice(r)) out.push_back({k, sl->index, true});
      continue;
    }
    if (o.type != ZYDIS_OPERAND_TYPE_REGISTER) continue;
    auto sl = gpr_slice(o.reg.value);
    if (!sl) continue;
    bool partial = sl->bits < 32;
    if (((o.actions & ZYDIS_OPERAND_ACTION_MASK_READ) && !zeroes) ||
        ((o.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) && partial))
      out.push_back({k, sl->index, true});
    else if (o.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)
      out.push_back({k, sl->index, false});
  }
  return out;
}

bool zero_idiom(const Insn &in) {
  const auto &z = in.zops;
  return (in.mnemonic() == ZYDIS_MNEMONIC_XOR || in.mnemonic() == ZYDIS_MNEMONIC_SUB) &&
         z[0].type == ZYDIS_OPERAND_TYPE_REGISTER && z[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
         z[0].reg.value == z[1].reg.value;
}

bool is_return(const Insn &in) {
  auto cat = in.zi.meta.category;
  return cat == ZYDIS_CATEGORY_RET || (cat == ZYDIS_CATEGORY_UNCOND_BR && in.branch_symbol == "__x86_return_thunk");
}

bool is_tail_call(const Insn &in) {
  // Indirect thunks (jmp *%reg) go anywhere, a switch's case included.
  return in.zi.meta.category == ZYDIS_CATEGORY_UNCOND_BR && !in.branch_symbol.empty() && !is_return(in) &&
         in.branch_symbol.rfind("__x86_indirect_thunk", 0) != 0;
}

std::vector<uint16_t> live_in(const std::vector<Insn> &insns) {
  const size_t n = insns.size();
  std::map<uint64_t, size_t> at;  // offset -> index
  for (size_t i = 0; i < n; ++i) at[insns[i].offset] = i;
  // Successors; `leaves` where the flow goes where this code does not show.
  std::vector<std::vector<size_t>> succ(n);
  std::vector<bool> leaves(n, false);
  std::vector<UseDef> ud(n);
  for (size_t i = 0; i < n; ++i) {
    const Insn &in = insns[i];
    ud[i] = use_def(in);
    auto cat = in.zi.meta.category;
    if (is_return(in) || is_tail_call(in)) continue;
    bool jump = cat == ZYDIS_CATEGORY_COND_BR || cat == ZYDIS_CATEGORY_UNCOND_BR;
    if (!(cat == ZYDIS_CATEGORY_UNCOND_BR)) {
      if (i + 1 < n) succ[i].push_back(i + 1);
      else leaves[i] = true;
    }
    if (!jump) continue;
    bool known = false;
    for (auto &o : in.ops) {
      if (!(o.relative && o.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && !o.relocated)) continue;
      if (auto t = at.find(in.offset + in.length + static_cast<uint64_t>(o.value)); t != at.end()) {
        succ[i].push_back(t->second);
      } else {
        // Resolved by the assembler yet outside this function: a tail
        // call to a function of the same section (jmp hrtick_update).
        ud[i].use |= kCalleeSaved | kArguments | bit(kRax);
      }
      known = true;
    }
    if (!known) leaves[i] = true;
  }
  std::vector<uint16_t> in(n, 0);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = n; i-- > 0;) {
      uint16_t out = leaves[i] ? kAll : 0;
      for (size_t s : succ[i]) out |= in[s];
      uint16_t li = static_cast<uint16_t>(ud[i].use | (out & ~ud[i].def));
      if (li != in[i]) in[i] = li, changed = true;
    }
  }
  return in;
}

}  // namespace kx
