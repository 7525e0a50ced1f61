#include "symbolic/lifter.h"

#include <atomic>
#include <functional>
#include <set>
#include <unordered_set>

namespace kx {

namespace {

std::atomic<unsigned> g_undef{0};

z3::expr undefined_flag(z3::context &c) {
  return c.bool_const(("undef!" + std::to_string(g_undef++)).c_str());
}

z3::expr bit(const z3::expr &v, unsigned i) { return v.extract(i, i) == v.ctx().bv_val(1, 1); }
z3::expr msb(const z3::expr &v) { return bit(v, v.get_sort().bv_size() - 1); }

// Even parity of the low byte (PF).
z3::expr parity(const z3::expr &r) {
  z3::expr x = r.extract(0, 0);
  for (unsigned i = 1; i < 8; ++i) x = x ^ r.extract(i, i);
  return x == r.ctx().bv_val(0, 1);
}

// Fits `v` to `bits`: truncates, or sign-extends (immediates are signed).
z3::expr fit(const z3::expr &v, unsigned bits) {
  unsigned have = v.get_sort().bv_size();
  if (have == bits) return v;
  if (have > bits) return v.extract(bits - 1, 0);
  return z3::sext(v, bits - have);
}

struct Lifter {
  SymState &s;
  const Insn &in;
  uint64_t address;
  const std::vector<ValueOverride> &overrides;
  z3::context &c = s.ctx();

  const ZydisDecodedOperand &op(size_t i) const { return in.zops[i]; }
  unsigned width(size_t i) const { return op(i).size; }

  const ValueOverride *override_for(size_t i) const {
    for (auto &o : overrides)
      if (o.operand == i) return &o;
    return nullptr;
  }

  z3::expr address_of(size_t i) const {
    const auto &m = op(i).mem;
    z3::expr ea = c.bv_val(0, 64);
    // The linker's part of the address, as a symbol the runtime resolves.
    bool linked = s.symbolic_links && !override_for(i) &&
                  (m.base == ZYDIS_REGISTER_RIP || (i < in.ops.size() && in.ops[i].relocated));
    z3::expr link = c.bv_const(linked_symbol(address).c_str(), 64);
    if (m.base == ZYDIS_REGISTER_RIP) ea = linked ? link : c.bv_val(address + in.length, 64);
    else if (m.base != ZYDIS_REGISTER_NONE) ea = z3::zext(s.read_reg(m.base), 64 - ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, m.base));
    if (m.index != ZYDIS_REGISTER_NONE) ea = ea + s.read_reg(m.index) * c.bv_val(m.scale, 64);
    if (auto *o = override_for(i)) ea = ea + fit(o->value, 64);
    else if (linked && m.base != ZYDIS_REGISTER_RIP) ea = ea + link;
    else if (m.disp.has_displacement && !linked) ea = ea + c.bv_val(static_cast<int64_t>(m.disp.value), 64);
    if (m.segment == ZYDIS_REGISTER_GS) ea = ea + s.gs_base;
    if (m.segment == ZYDIS_REGISTER_FS) ea = ea + s.fs_base;
    return ea.simplify();
  }

  z3::expr read(size_t i, unsigned bits = 0) const {
    if (!bits) bits = width(i);
    const auto &o = op(i);
    switch (o.type) {
      case ZYDIS_OPERAND_TYPE_REGISTER: return fit(s.read_reg(o.reg.value), bits);
      case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        if (auto *ov = override_for(i)) return fit(ov->value, bits);
        return o.imm.is_signed ? c.bv_val(static_cast<int64_t>(o.imm.value.s), bits)
                               : c.bv_val(static_cast<uint64_t>(o.imm.value.u), bits);
      case ZYDIS_OPERAND_TYPE_MEMORY: return s.load(address_of(i), bits / 8);
      default: throw std::runtime_error("unsupported operand type");
    }
  }

  void write(size_t i, const z3::expr &v) {
    const auto &o = op(i);
    if (o.type == ZYDIS_OPERAND_TYPE_REGISTER) s.write_reg(o.reg.value, v);
    else if (o.type == ZYDIS_OPERAND_TYPE_MEMORY) s.store(address_of(i), v);
    else throw std::runtime_error("write to a non-register, non-memory operand");
  }

  void result_flags(const z3::expr &r) {
    s.flag[ZF] = r == c.bv_val(0, r.get_sort().bv_size());
    s.flag[SF] = msb(r);
    s.flag[PF] = parity(r);
  }

  // a + b + carry_in, with every flag. Carries are stated in w bits (no
  // w+1-bit terms), so updates built from them stay within 64 bits.
  z3::expr add(const z3::expr &a, const z3::expr &b, const z3::expr &cin, bool set_cf = true) {
    unsigned w = a.get_sort().bv_size();
    z3::expr r = (a + b + z3::zext(z3::ite(cin, c.bv_val(1, 1), c.bv_val(0, 1)), w - 1)).simplify();
    // a + b (+1) wraps iff the result is below a (at most a, with a carry in).
    if (set_cf) s.flag[CF] = z3::ite(cin, z3::ule(r, a), z3::ult(r, a));
    s.flag[OF] = (msb(a) == msb(b)) && (msb(r) != msb(a));
    s.flag[AF] = bit(a ^ b ^ r, 4);
    result_flags(r);
    return r;
  }

  // a - b - borrow_in, with every flag.
  z3::expr sub(const z3::expr &a, const z3::expr &b, const z3::expr &bin, bool set_cf = true) {
    unsigned w = a.get_sort().bv_size();
    z3::expr r = (a - b - z3::zext(z3::ite(bin, c.bv_val(1, 1), c.bv_val(0, 1)), w - 1)).simplify();
    // a - b (-1) borrows iff a is below b (at most b, with a borrow in).
    if (set_cf) s.flag[CF] = z3::ite(bin, z3::ule(a, b), z3::ult(a, b));
    s.flag[OF] = (msb(a) != msb(b)) && (msb(r) != msb(a));
    s.flag[AF] = bit(a ^ b ^ r, 4);
    result_flags(r);
    return r;
  }

  void logic_flags(const z3::expr &r) {
    s.flag[CF] = c.bool_val(false);
    s.flag[OF] = c.bool_val(false);
    s.flag[AF] = undefined_flag(c);
    result_flags(r);
  }

  void shift(ZydisMnemonic m) {
    unsigned w = width(0);
    z3::expr a = read(0);
    z3::expr count = in.zi.operand_count_visible > 1 ? read(1, 8) : c.bv_val(1, 8);
    z3::expr cnt = fit(count & c.bv_val(w == 64 ? 63 : 31, 8), w);
    z3::expr zero = cnt == c.bv_val(0, w);
    z3::expr one = cnt == c.bv_val(1, w);
    z3::expr r = a, cf = s.flag[CF], of = s.flag[OF];
    z3::expr last(c);
    switch (m) {
      case ZYDIS_MNEMONIC_SHL:
        r = z3::shl(a, cnt);
        last = bit(z3::lshr(a, c.bv_val(w, w) - cnt), 0);
        of = msb(r) != last;
        break;
      case ZYDIS_MNEMONIC_SHR:
        r = z3::lshr(a, cnt);
        last = bit(z3::lshr(a, cnt - c.bv_val(1, w)), 0);
        of = msb(a);
        break;
      default:  // SAR
        r = z3::ashr(a, cnt);
        last = bit(z3::ashr(a, cnt - c.bv_val(1, w)), 0);
        of = c.bool_val(false);
        break;
    }
    // Narrow operands shifted by their width or more leave CF undefined.
    if (w < 32) last = z3::ite(z3::uge(cnt, c.bv_val(w, w)), undefined_flag(c), last);
    write(0, r);
    s.flag[CF] = z3::ite(zero, s.flag[CF], last);
    s.flag[OF] = z3::ite(zero, s.flag[OF], z3::ite(one, of, undefined_flag(c)));
    s.flag[ZF] = z3::ite(zero, s.flag[ZF], r == c.bv_val(0, w));
    s.flag[SF] = z3::ite(zero, s.flag[SF], msb(r));
    s.flag[PF] = z3::ite(zero, s.flag[PF], parity(r));
    s.flag[AF] = z3::ite(zero, s.flag[AF], undefined_flag(c));
  }

  void rotate(ZydisMnemonic m) {
    unsigned w = width(0);
    z3::expr a = read(0);
    z3::expr count = in.zi.operand_count_visible > 1 ? read(1, 8) : c.bv_val(1, 8);
    z3::expr masked = fit(count & c.bv_val(w == 64 ? 63 : 31, 8), w);
    z3::expr cnt = z3::urem(masked, c.bv_val(w, w));  // narrow rotates wrap around
    z3::expr zero = masked == c.bv_val(0, w), one = masked == c.bv_val(1, w);
    z3::expr r = m == ZYDIS_MNEMONIC_ROL ? (z3::shl(a, cnt) | z3::lshr(a, c.bv_val(w, w) - cnt))
                                         : (z3::lshr(a, cnt) | z3::shl(a, c.bv_val(w, w) - cnt));
    r = z3::ite(cnt == c.bv_val(0, w), a, r);
    write(0, r);
    z3::expr cf = m == ZYDIS_MNEMONIC_ROL ? bit(r, 0) : msb(r);
    z3::expr of = m == ZYDIS_MNEMONIC_ROL ? (msb(r) != cf) : (msb(r) != bit(r, w - 2));
    s.flag[CF] = z3::ite(zero, s.flag[CF], cf);
    s.flag[OF] = z3::ite(zero, s.flag[OF], z3::ite(one, of, undefined_flag(c)));
  }

  void multiply(ZydisMnemonic m) {
    bool is_signed = m == ZYDIS_MNEMONIC_IMUL;
    auto ext = [&](const z3::expr &v, unsigned by) { return is_signed ? z3::sext(v, by) : z3::zext(v, by); };
    unsigned visible = in.zi.operand_count_visible;
    if (visible >= 2) {  // imul r, r/m [, imm]: truncated product
      unsigned w = width(0);
      z3::expr a = visible == 3 ? read(1) : read(0);
      z3::expr b = visible == 3 ? read(2, w) : read(1, w);
      z3::expr full = z3::sext(a, w) * z3::sext(b, w);
      z3::expr r = full.extract(w - 1, 0);
      write(0, r);
      s.flag[CF] = s.flag[OF] = full != z3::sext(r, w);
    } else {  // one operand: rdx:rax = rax * src (ax = al * src for bytes)
      unsigned w = width(0);
      z3::expr src = read(0);
      static const ZydisRegister acc[] = {ZYDIS_REGISTER_AL, ZYDIS_REGISTER_AX, ZYDIS_REGISTER_EAX, ZYDIS_REGISTER_RAX};
      static const ZydisRegister hi[] = {ZYDIS_REGISTER_AH, ZYDIS_REGISTER_DX, ZYDIS_REGISTER_EDX, ZYDIS_REGISTER_RDX};
      int k = w == 8 ? 0 : w == 16 ? 1 : w == 32 ? 2 : 3;
      z3::expr full = ext(s.read_reg(acc[k]), w) * ext(src, w);
      z3::expr lo = full.extract(w - 1, 0), high = full.extract(2 * w - 1, w);
      if (w == 8) s.write_reg(ZYDIS_REGISTER_AX, full);
      else {
        s.write_reg(acc[k], lo);
        s.write_reg(hi[k], high);
      }
      s.flag[CF] = s.flag[OF] = is_signed ? full != ext(lo, w) : high != c.bv_val(0, w);
    }
    s.flag[SF] = undefined_flag(c);
    s.flag[ZF] = undefined_flag(c);
    s.flag[PF] = undefined_flag(c);
    s.flag[AF] = undefined_flag(c);
  }

  Result<LiftEnd> run() {
    const ZydisMnemonic m = in.mnemonic();
    const z3::expr no = c.bool_val(false);
    switch (m) {
      case ZYDIS_MNEMONIC_NOP:
      case ZYDIS_MNEMONIC_ENDBR64:
      case ZYDIS_MNEMONIC_PREFETCHT0:
      case ZYDIS_MNEMONIC_PREFETCHW:
        return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_MOV:
        write(0, read(1, width(0)));
        return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_MOVZX:
        write(0, z3::zext(read(1), width(0) - width(1)));
        return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_MOVSX:
      case ZYDIS_MNEMONIC_MOVSXD:
        write(0, width(0) == width(1) ? read(1) : z3::sext(read(1), width(0) - width(1)));
        return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_LEA:
        write(0, fit(address_of(1), width(0)));
        return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_ADD: write(0, add(read(0), read(1, width(0)), no)); return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_ADC: write(0, add(read(0), read(1, width(0)), s.flag[CF])); return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_SUB: write(0, sub(read(0), read(1, width(0)), no)); return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_SBB: write(0, sub(read(0), read(1, width(0)), s.flag[CF])); return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_CMP: sub(read(0), read(1, width(0)), no); return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_INC: {
        z3::expr a = read(0);
        write(0, add(a, c.bv_val(1, width(0)), no, false));
        return LiftEnd::Continue;
      }
      case ZYDIS_MNEMONIC_DEC: {
        z3::expr a = read(0);
        write(0, sub(a, c.bv_val(1, width(0)), no, false));
        return LiftEnd::Continue;
      }
      case ZYDIS_MNEMONIC_NEG: {
        z3::expr a = read(0);
        z3::expr r = sub(c.bv_val(0, width(0)), a, no);
        s.flag[CF] = a != c.bv_val(0, width(0));
        write(0, r);
        return LiftEnd::Continue;
      }
      case ZYDIS_MNEMONIC_AND:
      case ZYDIS_MNEMONIC_OR:
      case ZYDIS_MNEMONIC_XOR:
      case ZYDIS_MNEMONIC_TEST: {
        z3::expr a = read(0), b = read(1, width(0));
        z3::expr r = m == ZYDIS_MNEMONIC_OR ? (a | b) : m == ZYDIS_MNEMONIC_XOR ? (a ^ b) : (a & b);
        logic_flags(r);
        if (m != ZYDIS_MNEMONIC_TEST) write(0, r);
        return LiftEnd::Continue;
      }
      case ZYDIS_MNEMONIC_NOT: write(0, ~read(0)); return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_SHL:
      case ZYDIS_MNEMONIC_SHR:
      case ZYDIS_MNEMONIC_SAR: shift(m); return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_ROL:
      case ZYDIS_MNEMONIC_ROR: rotate(m); return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_IMUL:
      case ZYDIS_MNEMONIC_MUL: multiply(m); return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_XCHG: {
        z3::expr a = read(0), b = read(1);
        write(0, b);
        write(1, a);
        return LiftEnd::Continue;
      }
      case ZYDIS_MNEMONIC_CBW: s.write_reg(ZYDIS_REGISTER_AX, z3::sext(s.read_reg(ZYDIS_REGISTER_AL), 8)); return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_CWDE: s.write_reg(ZYDIS_REGISTER_EAX, z3::sext(s.read_reg(ZYDIS_REGISTER_AX), 16)); return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_CDQE: s.write_reg(ZYDIS_REGISTER_RAX, z3::sext(s.read_reg(ZYDIS_REGISTER_EAX), 32)); return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_CWD:
        s.write_reg(ZYDIS_REGISTER_DX, z3::sext(s.read_reg(ZYDIS_REGISTER_AX), 16).extract(31, 16));
        return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_CDQ:
        s.write_reg(ZYDIS_REGISTER_EDX, z3::sext(s.read_reg(ZYDIS_REGISTER_EAX), 32).extract(63, 32));
        return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_CQO:
        s.write_reg(ZYDIS_REGISTER_RDX, z3::sext(s.read_reg(ZYDIS_REGISTER_RAX), 64).extract(127, 64));
        return LiftEnd::Continue;
      case ZYDIS_MNEMONIC_PUSH: {
        z3::expr v = read(0, 64);
        z3::expr sp = s.gpr[4] - c.bv_val(8, 64);
        s.store(sp, v);
        s.gpr[4] = sp.simplify();
        return LiftEnd::Continue;
      }
      case ZYDIS_MNEMONIC_POP: {
        z3::expr v = s.load(s.gpr[4], 8);
        s.gpr[4] = (s.gpr[4] + c.bv_val(8, 64)).simplify();
        write(0, v);
        return LiftEnd::Continue;
      }
      default: break;
    }
    if (in.zi.meta.category == ZYDIS_CATEGORY_SETCC) {
      KX_ASSIGN(cond, condition(s, m));
      write(0, z3::ite(cond, c.bv_val(1, 8), c.bv_val(0, 8)));
      return LiftEnd::Continue;
    }
    if (in.zi.meta.category == ZYDIS_CATEGORY_CMOV) {
      KX_ASSIGN(cond, condition(s, m));
      write(0, z3::ite(cond, read(1), read(0)));  // a 32-bit cmov zero-extends either way
      return LiftEnd::Continue;
    }
    if (in.zi.meta.category == ZYDIS_CATEGORY_COND_BR || in.zi.meta.category == ZYDIS_CATEGORY_UNCOND_BR ||
        in.zi.meta.category == ZYDIS_CATEGORY_CALL || in.zi.meta.category == ZYDIS_CATEGORY_RET)
      return LiftEnd::Branch;
    return make_error(std::string("unsupported instruction: ") + ZydisMnemonicGetString(m) + " (" + in.text + ")");
  }
};

const std::set<ZydisMnemonic> &supported() {
  static const std::set<ZydisMnemonic> s = {
      ZYDIS_MNEMONIC_NOP,  ZYDIS_MNEMONIC_ENDBR64, ZYDIS_MNEMONIC_MOV,   ZYDIS_MNEMONIC_MOVZX, ZYDIS_MNEMONIC_MOVSX,
      ZYDIS_MNEMONIC_MOVSXD, ZYDIS_MNEMONIC_LEA,  ZYDIS_MNEMONIC_ADD,   ZYDIS_MNEMONIC_ADC,   ZYDIS_MNEMONIC_SUB,
      ZYDIS_MNEMONIC_SBB,  ZYDIS_MNEMONIC_CMP,     ZYDIS_MNEMONIC_INC,   ZYDIS_MNEMONIC_DEC,   ZYDIS_MNEMONIC_NEG,
      ZYDIS_MNEMONIC_AND,  ZYDIS_MNEMONIC_OR,      ZYDIS_MNEMONIC_XOR,   ZYDIS_MNEMONIC_TEST,  ZYDIS_MNEMONIC_NOT,
      ZYDIS_MNEMONIC_SHL,  ZYDIS_MNEMONIC_SHR,     ZYDIS_MNEMONIC_SAR,   ZYDIS_MNEMONIC_ROL,   ZYDIS_MNEMONIC_ROR,
      ZYDIS_MNEMONIC_IMUL, ZYDIS_MNEMONIC_MUL,     ZYDIS_MNEMONIC_XCHG,  ZYDIS_MNEMONIC_CBW,   ZYDIS_MNEMONIC_CWDE,
      ZYDIS_MNEMONIC_CDQE, ZYDIS_MNEMONIC_CWD,     ZYDIS_MNEMONIC_CDQ,   ZYDIS_MNEMONIC_CQO,   ZYDIS_MNEMONIC_PUSH,
      ZYDIS_MNEMONIC_POP};
  return s;
}

}  // namespace

bool lift_supports(ZydisMnemonic m) { return supported().count(m) > 0; }

Result<z3::expr> condition(const SymState &s, ZydisMnemonic m) {
  std::string n = ZydisMnemonicGetString(m);
  // jcc / setcc / cmovcc share condition suffixes.
  std::string cc = n.rfind("cmov", 0) == 0 ? n.substr(4) : n.rfind("set", 0) == 0 ? n.substr(3) : n.substr(1);
  const auto &f = s.flag;
  if (cc == "o") return f[OF];
  if (cc == "no") return !f[OF];
  if (cc == "b") return f[CF];
  if (cc == "nb") return !f[CF];
  if (cc == "z") return f[ZF];
  if (cc == "nz") return !f[ZF];
  if (cc == "be") return f[CF] || f[ZF];
  if (cc == "nbe") return !(f[CF] || f[ZF]);
  if (cc == "s") return f[SF];
  if (cc == "ns") return !f[SF];
  if (cc == "p") return f[PF];
  if (cc == "np") return !f[PF];
  if (cc == "l") return f[SF] != f[OF];
  if (cc == "nl") return f[SF] == f[OF];
  if (cc == "le") return f[ZF] || (f[SF] != f[OF]);
  if (cc == "nle") return !f[ZF] && (f[SF] == f[OF]);
  return make_error("no condition code in " + n);
}

Result<LiftEnd> lift(SymState &s, const Insn &insn, uint64_t address, const std::vector<ValueOverride> &overrides) {
  try {
    Lifter l{s, insn, address, overrides};
    return l.run();
  } catch (const z3::exception &e) {
    return make_error(std::string("lifting ") + insn.text + ": z3: " + e.msg());
  } catch (const std::exception &e) {
    return make_error(std::string("lifting ") + insn.text + ": " + e.what());
  }
}

bool depends_on_undefined(const z3::expr &e) {
  std::unordered_set<unsigned> seen;
  std::function<bool(const z3::expr &)> walk = [&](const z3::expr &x) -> bool {
    if (!seen.insert(x.id()).second) return false;
    if (x.is_const() && !x.is_numeral() && x.decl().name().str().rfind("undef!", 0) == 0) return true;
    if (x.is_app())
      for (unsigned i = 0; i < x.num_args(); ++i)
        if (walk(x.arg(i))) return true;
    return false;
  };
  return walk(e);
}

}  // namespace kx
