#include "symbolic/sym_state.h"

#include "util/hex.h"

namespace kx {

const char *flag_name(Flag f) {
  static const char *names[] = {"cf", "pf", "af", "zf", "sf", "of"};
  return names[f];
}

const char *gpr_name(int i) {
  static const char *names[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  return i >= 0 && i < 16 ? names[i] : "?";
}

std::optional<GprSlice> gpr_slice(ZydisRegister r) {
  switch (r) {  // the legacy high bytes
    case ZYDIS_REGISTER_AH: return GprSlice{0, 8, 8};
    case ZYDIS_REGISTER_CH: return GprSlice{1, 8, 8};
    case ZYDIS_REGISTER_DH: return GprSlice{2, 8, 8};
    case ZYDIS_REGISTER_BH: return GprSlice{3, 8, 8};
    default: break;
  }
  ZydisRegisterClass cls = ZydisRegisterGetClass(r);
  if (cls != ZYDIS_REGCLASS_GPR8 && cls != ZYDIS_REGCLASS_GPR16 && cls != ZYDIS_REGCLASS_GPR32 &&
      cls != ZYDIS_REGCLASS_GPR64)
    return std::nullopt;
  ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
  int index = static_cast<int>(big) - static_cast<int>(ZYDIS_REGISTER_RAX);
  if (index < 0 || index >= 16) return std::nullopt;
  return GprSlice{index, 0, ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, r)};
}

static std::array<z3::expr, 16> fresh_gprs(z3::context &c, const std::string &prefix) {
  return {c.bv_const((prefix + "rax").c_str(), 64), c.bv_const((prefix + "rcx").c_str(), 64),
          c.bv_const((prefix + "rdx").c_str(), 64), c.bv_const((prefix + "rbx").c_str(), 64),
          c.bv_const((prefix + "rsp").c_str(), 64), c.bv_const((prefix + "rbp").c_str(), 64),
          c.bv_const((prefix + "rsi").c_str(), 64), c.bv_const((prefix + "rdi").c_str(), 64),
          c.bv_const((prefix + "r8").c_str(), 64),  c.bv_const((prefix + "r9").c_str(), 64),
          c.bv_const((prefix + "r10").c_str(), 64), c.bv_const((prefix + "r11").c_str(), 64),
          c.bv_const((prefix + "r12").c_str(), 64), c.bv_const((prefix + "r13").c_str(), 64),
          c.bv_const((prefix + "r14").c_str(), 64), c.bv_const((prefix + "r15").c_str(), 64)};
}

static std::array<z3::expr, kFlagCount> fresh_flags(z3::context &c, const std::string &prefix) {
  return {c.bool_const((prefix + "cf").c_str()), c.bool_const((prefix + "pf").c_str()),
          c.bool_const((prefix + "af").c_str()), c.bool_const((prefix + "zf").c_str()),
          c.bool_const((prefix + "sf").c_str()), c.bool_const((prefix + "of").c_str())};
}

SymState::SymState(z3::context &c, const std::string &prefix)
    : context(&c),
      gpr(fresh_gprs(c, prefix)),
      flag(fresh_flags(c, prefix)),
      mem(c.constant((prefix + "mem").c_str(), c.array_sort(c.bv_sort(64), c.bv_sort(8)))),
      gs_base(c.bv_const((prefix + "gs_base").c_str(), 64)),
      fs_base(c.bv_const((prefix + "fs_base").c_str(), 64)) {}

z3::expr SymState::read_reg(ZydisRegister r) const {
  auto s = gpr_slice(r);
  if (!s) throw std::runtime_error(std::string("unsupported register ") + ZydisRegisterGetString(r));
  if (s->bits == 64) return gpr[s->index];
  return gpr[s->index].extract(s->shift + s->bits - 1, s->shift);
}

void SymState::write_reg(ZydisRegister r, const z3::expr &v) {
  auto s = gpr_slice(r);
  if (!s) throw std::runtime_error(std::string("unsupported register ") + ZydisRegisterGetString(r));
  z3::expr &g = gpr[s->index];
  if (s->bits == 64) g = v;
  else if (s->bits == 32) g = z3::zext(v, 32);  // x86-64: 32-bit writes clear the upper half
  else if (s->shift == 0) g = z3::concat(g.extract(63, s->bits), v);
  else g = z3::concat(g.extract(63, 16), z3::concat(v, g.extract(7, 0)));  // ah, bh, ch, dh
  g = g.simplify();
}

std::string linked_symbol(uint64_t address) { return "linked_" + hex(address); }
std::string load_symbol(unsigned bits) { return "load_" + std::to_string(bits); }

z3::expr SymState::load(const z3::expr &addr, unsigned bytes) {
  reads.push_back({addr, bytes});
  if (opaque_loads && mem.is_const()) {
    z3::func_decl f = ctx().function(load_symbol(8 * bytes).c_str(), ctx().bv_sort(64), ctx().bv_sort(8 * bytes));
    return f(addr);
  }
  z3::expr v = z3::select(mem, addr);
  for (unsigned i = 1; i < bytes; ++i) v = z3::concat(z3::select(mem, addr + ctx().bv_val(i, 64)), v);
  return v;
}

void SymState::store(const z3::expr &addr, const z3::expr &v) {
  unsigned bytes = v.get_sort().bv_size() / 8;
  for (unsigned i = 0; i < bytes; ++i) mem = z3::store(mem, addr + ctx().bv_val(i, 64), v.extract(8 * i + 7, 8 * i));
}

}  // namespace kx
