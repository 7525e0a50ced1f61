#include "synth/op_template.h"

#include <algorithm>
#include <functional>
#include <random>
#include <set>
#include <unordered_set>

#include "symbolic/lifter.h"
#include "synth/update_expr.h"
#include "util/hex.h"

namespace kx {

std::string TemplateMatch::describe() const {
  std::string f = op + std::to_string(width) + "(" + gpr_name(input) + ", V)";
  if (width < 64) f = (sign_extended ? "sext(" : "zext(") + f + ")";
  return std::string(gpr_name(output)) + " = " + f;
}

const std::vector<OpTemplate> &op_templates() {
  // C's operations, as gcc must compile them for any V: unsigned division
  // truncates, signed division truncates towards zero and its remainder
  // takes the dividend's sign (bvsdiv/bvsrem), DIV_ROUND_UP is (x + V - 1) / V
  // in the operand's type. A new row (a multiply, a shift by V) needs nothing
  // else: the search, the update and its proof read the table.
  static const std::vector<OpTemplate> table = {
      {"udiv", false, [](const z3::expr &x, const z3::expr &v) { return z3::udiv(x, v); }},
      {"urem", false, [](const z3::expr &x, const z3::expr &v) { return z3::urem(x, v); }},
      {"sdiv", true, [](const z3::expr &x, const z3::expr &v) { return x / v; }},
      {"srem", true, [](const z3::expr &x, const z3::expr &v) { return z3::srem(x, v); }},
      {"udiv_round_up", false, [](const z3::expr &x, const z3::expr &v) { return z3::udiv(x + v - 1, v); }},
      {"sdiv_round_up", true, [](const z3::expr &x, const z3::expr &v) { return (x + v - 1) / v; }},
      // x * V, which gcc builds from lea, shl, add and sub for one value and
      // an imul for another (the same bits whatever the signedness).
      {"mul", false, [](const z3::expr &x, const z3::expr &v) { return x * v; }},
  };
  return table;
}

namespace {

const OpTemplate *template_named(const std::string &name) {
  for (auto &t : op_templates())
    if (name == t.name) return &t;
  return nullptr;
}

// F(x, V) as the 64-bit register the region leaves: x is the low `width`
// bits of `reg_in`, V the low `width` bits of `v` (64 bits).
z3::expr template_value(const TemplateMatch &m, const z3::expr &reg_in, const z3::expr &v) {
  const OpTemplate *t = template_named(m.op);
  z3::expr f = t->apply(reg_in.extract(m.width - 1, 0), v.extract(m.width - 1, 0));
  if (m.width == 64) return f;
  return m.sign_extended ? z3::sext(f, 64 - m.width) : z3::zext(f, 64 - m.width);
}

bool ends_block(const Insn &in) {
  switch (in.zi.meta.category) {
    case ZYDIS_CATEGORY_COND_BR: case ZYDIS_CATEGORY_UNCOND_BR: case ZYDIS_CATEGORY_CALL:
    case ZYDIS_CATEGORY_RET: case ZYDIS_CATEGORY_INTERRUPT: case ZYDIS_CATEGORY_SYSTEM:
      return true;
    default:
      return in.mnemonic() == ZYDIS_MNEMONIC_UD2 || in.mnemonic() == ZYDIS_MNEMONIC_INT3;
  }
}

std::optional<size_t> index_at(const DecodedFunction &f, int64_t offset) {
  for (size_t k = 0; k < f.insns.size(); ++k)
    if (static_cast<int64_t>(f.insns[k].offset) == offset) return k;
  return std::nullopt;
}

// The in-function target of a relative jump, if it has one.
std::optional<size_t> jump_target(const DecodedFunction &f, const Insn &in) {
  if (in.ops.empty()) return std::nullopt;
  const Operand &o = in.ops[0];
  if (o.type != ZYDIS_OPERAND_TYPE_IMMEDIATE || !o.relative || o.relocated) return std::nullopt;
  return index_at(f, static_cast<int64_t>(in.offset + in.length) + o.value);
}

// Instructions some jump of the function lands on.
std::set<size_t> branch_targets(const DecodedFunction &f) {
  std::set<size_t> out;
  for (auto &in : f.insns)
    if (auto c = in.zi.meta.category; c == ZYDIS_CATEGORY_COND_BR || c == ZYDIS_CATEGORY_UNCOND_BR)
      if (auto t = jump_target(f, in)) out.insert(*t);
  return out;
}

// Equal values apart from registers, branch targets and relocated fields:
// what an aligned pair must have to lie outside a difference region.
bool same_values(const Insn &a, const Insn &b) {
  if (a.ops.size() != b.ops.size()) return false;
  for (size_t k = 0; k < a.ops.size(); ++k) {
    const Operand &x = a.ops[k], &y = b.ops[k];
    if (x.relative || x.relocated || y.relative || y.relocated) continue;
    if (x.has_value != y.has_value || (x.has_value && x.value != y.value)) return false;
  }
  return true;
}

int gpr_index(ZydisRegister r) {
  auto s = gpr_slice(r);
  return s ? s->index : -1;
}

constexpr uint32_t kZydisFlag[kFlagCount] = {ZYDIS_CPUFLAG_CF, ZYDIS_CPUFLAG_PF, ZYDIS_CPUFLAG_AF,
                                             ZYDIS_CPUFLAG_ZF, ZYDIS_CPUFLAG_SF, ZYDIS_CPUFLAG_OF};

// Flags `in` certainly writes (a shift by %cl may write none: by 0 it keeps them).
uint32_t flags_written(const Insn &in) {
  const auto *cf = in.zi.cpu_flags;
  if (!cf) return 0;
  for (uint8_t k = 1; k < in.zi.operand_count_visible; ++k)
    if (in.zops[k].type == ZYDIS_OPERAND_TYPE_REGISTER && in.zops[k].size <= 8 &&
        (in.zi.meta.category == ZYDIS_CATEGORY_SHIFT || in.zi.meta.category == ZYDIS_CATEGORY_ROTATE))
      return 0;
  return cf->modified | cf->set_0 | cf->set_1 | cf->undefined;
}

// Registers (bit i: sym_state.h index i) an instruction reads and writes
// whole (a 32- or 64-bit write; an 8/16-bit one merges, so it reads too).
void register_use(const Insn &in, uint32_t &reads, uint32_t &kills) {
  reads = kills = 0;
  const auto &z = in.zops;
  // xor/sub of a register with itself only writes it.
  bool zeroing = (in.mnemonic() == ZYDIS_MNEMONIC_XOR || in.mnemonic() == ZYDIS_MNEMONIC_SUB) &&
                 in.zi.operand_count_visible == 2 && z[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                 z[1].type == ZYDIS_OPERAND_TYPE_REGISTER && z[0].reg.value == z[1].reg.value;
  for (uint8_t k = 0; k < in.zi.operand_count; ++k) {
    const auto &o = z[k];
    if (o.type == ZYDIS_OPERAND_TYPE_MEMORY) {
      for (ZydisRegister r : {o.mem.base, o.mem.index})
        if (int i = gpr_index(r); i >= 0) reads |= 1u << i;
      continue;
    }
    if (o.type != ZYDIS_OPERAND_TYPE_REGISTER) continue;
    int i = gpr_index(o.reg.value);
    if (i < 0) continue;
    bool whole = o.size >= 32;
    if (((o.actions & ZYDIS_OPERAND_ACTION_MASK_READ) && !zeroing) ||
        ((o.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) && !whole))
      reads |= 1u << i;
    if ((o.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) && whole) kills |= 1u << i;
  }
}

// The System V ABI as the kernel uses it: what a call reads and clobbers,
// what a return reads.
constexpr uint32_t bit(int i) { return 1u << i; }
constexpr uint32_t kArgs = bit(7) | bit(6) | bit(2) | bit(1) | bit(8) | bit(9) | bit(0);  // rdi rsi rdx rcx r8 r9, rax
constexpr uint32_t kCallerSaved = kArgs | bit(10) | bit(11);
constexpr uint32_t kCalleeSaved = bit(3) | bit(4) | bit(5) | bit(12) | bit(13) | bit(14) | bit(15);
constexpr uint32_t kReturned = bit(0) | bit(2) | kCalleeSaved;

// Does code after instruction `last` read a register of `regs` or a flag of
// `flags` (bit masks) before writing it, on some path? Calls read their
// argument registers and clobber the caller-saved ones and the flags;
// returns and jumps out of the function (tail calls, the return thunk)
// read what a return or a call may; an indirect jump reads everything; a
// trap (ud2: WARN) continues after it. Empty when nothing is read, else
// where the first read is.
std::string live_after(const DecodedFunction &f, size_t last, uint32_t regs, uint32_t flags) {
  std::vector<std::tuple<size_t, uint32_t, uint32_t>> work = {{last + 1, regs, flags}};
  std::set<std::tuple<size_t, uint32_t, uint32_t>> seen;
  while (!work.empty()) {
    auto [i, live, lf] = work.back();
    work.pop_back();
    if ((!live && !lf) || !seen.insert({i, live, lf}).second) continue;
    if (i >= f.insns.size()) return "the function falls off its end";
    const Insn &in = f.insns[i];
    auto at = [&] { return in.text + " at +" + hex(in.offset); };
    auto cat = in.zi.meta.category;
    if (in.zi.cpu_flags) {
      uint32_t tested = in.zi.cpu_flags->tested;
      for (int fl = 0; fl < kFlagCount; ++fl)
        if ((lf & bit(fl)) && (tested & kZydisFlag[fl])) return std::string(flag_name(Flag(fl))) + " is read by " + at();
    }
    // Operands first: an indirect call or jump reads its address registers.
    uint32_t reads = 0, kills = 0;
    register_use(in, reads, kills);
    if (live & reads) return "a written register is read by " + at();
    if (cat == ZYDIS_CATEGORY_CALL) {
      if (live & kArgs) return "a call may read a written register: " + at();
      work.push_back({i + 1, live & ~kCallerSaved, 0});
      continue;
    }
    if (cat == ZYDIS_CATEGORY_RET) {
      if (live & kReturned) return "the return reads a written register: " + at();
      continue;
    }
    live &= ~kills;
    uint32_t wf = flags_written(in);
    for (int fl = 0; fl < kFlagCount; ++fl)
      if (wf & kZydisFlag[fl]) lf &= ~bit(fl);
    if (cat == ZYDIS_CATEGORY_COND_BR || cat == ZYDIS_CATEGORY_UNCOND_BR) {
      const Operand &o = in.ops.empty() ? Operand{} : in.ops[0];
      if (o.type != ZYDIS_OPERAND_TYPE_IMMEDIATE || !o.relative) {
        if (live || lf) return "an indirect jump follows: " + at();
        continue;
      }
      if (auto t = jump_target(f, in)) {
        work.push_back({*t, live, lf});
      } else if (live & (kArgs | kReturned)) {  // leaves the function: a tail call or the return thunk
        return "a jump out of the function may read a written register: " + at();
      }
      if (cat == ZYDIS_CATEGORY_UNCOND_BR) continue;
    }
    work.push_back({i + 1, live, lf});
  }
  return "";
}

// The registers a term reads at the region's start (in_<reg>).
std::set<int> inputs_of(const z3::expr &e) {
  std::set<int> out;
  std::unordered_set<unsigned> seen;
  std::function<void(const z3::expr &)> walk = [&](const z3::expr &x) {
    if (!seen.insert(x.id()).second) return;
    if (x.is_const() && !x.is_numeral()) {
      std::string n = x.decl().name().str();
      for (int r = 0; r < 16; ++r)
        if (n == std::string("in_") + gpr_name(r)) out.insert(r);
      return;
    }
    if (x.is_app())
      for (unsigned k = 0; k < x.num_args(); ++k) walk(x.arg(k));
  };
  walk(e);
  return out;
}

// Concrete states to screen candidates with before asking Z3: random
// registers, with small and boundary values mixed in (a division differs
// from its strength-reduced form, if at all, near them).
std::vector<std::pair<z3::expr_vector, z3::expr_vector>> samples(z3::context &c, const SymState &in) {
  std::mt19937_64 rng(20261207);
  const uint64_t edge[] = {0, 1, 2, 9, 10, 11, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull,
                           0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, ~0ull - 8};
  std::vector<std::pair<z3::expr_vector, z3::expr_vector>> out;
  for (int s = 0; s < 24; ++s) {
    z3::expr_vector from(c), to(c);
    for (int r = 0; r < 16; ++r) {
      uint64_t v = rng();
      if (s % 3 == 0) v = edge[rng() % std::size(edge)];
      else if (s % 3 == 1) v &= 0xffff;
      from.push_back(in.gpr[r]);
      to.push_back(c.bv_val(v, 64));
    }
    for (int fl = 0; fl < kFlagCount; ++fl) {
      from.push_back(in.flag[fl]);
      to.push_back(c.bool_val(rng() & 1));
    }
    out.push_back({from, to});
  }
  return out;
}

bool agrees_on_samples(const z3::expr &a, const z3::expr &b,
                       const std::vector<std::pair<z3::expr_vector, z3::expr_vector>> &ss) {
  for (auto &[from, to] : ss) {
    z3::expr x = z3::expr(a).substitute(from, to).simplify(), y = z3::expr(b).substitute(from, to).simplify();
    if (!x.is_numeral() || !y.is_numeral() || x.get_numeral_uint64() != y.get_numeral_uint64()) return false;
  }
  return true;
}

// Bit-vector terms as integer arithmetic, for proofs SAT cannot do: a
// division by a constant against its magic multiply bit-blasts into a
// multiplier-equivalence problem (a 32-bit one ran out of two minutes),
// while over the integers both are linear — a product by a constant,
// floor division by a constant — and Z3's LIA proves it in milliseconds.
// Each bit-vector node of width w becomes an integer term in [0, 2^w) with
// bounds tracked, so a wrap-around is an if-then-else only where the
// bounds say it can happen (a `mod` there is correct, but slow).
// Integer division (floor, for the positive divisors used here).
z3::expr idiv(const z3::expr &a, const z3::expr &b) { return a / b; }

class IntTranslation {
 public:
  explicit IntTranslation(z3::context &c) : c_(c), ranges_(c.bool_val(true)) {}

  // The term, or empty when `e` uses an operation outside the translation.
  std::optional<z3::expr> operator()(const z3::expr &e) {
    auto t = translate(e);
    if (!t) return std::nullopt;
    return t->term;
  }
  // Every variable's range, [0, 2^w): assumed by a proof over the terms.
  const z3::expr &ranges() const { return ranges_; }

 private:
  using I = __int128;
  struct T {
    z3::expr term;
    I lo, hi;
    bool bounded;  // lo/hi hold (else the term's range is only [0, 2^w) after a mod)
  };
  static constexpr I kHuge = I(1) << 120;

  static I pow2(unsigned k) { return I(1) << k; }
  z3::expr num(I v) {
    bool neg = v < 0;
    unsigned __int128 u = neg ? static_cast<unsigned __int128>(-v) : static_cast<unsigned __int128>(v);
    std::string d;
    do {
      d.insert(d.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
      u /= 10;
    } while (u);
    return c_.int_val((neg ? "-" + d : d).c_str());
  }
  // `t` of width w, brought into [0, 2^w).
  T wrap(z3::expr t, I lo, I hi, bool bounded, unsigned w) {
    I m = pow2(w);
    if (bounded && lo >= 0 && hi < m) return {t, lo, hi, true};
    if (bounded && lo >= -m && hi < m) return {z3::ite(t < 0, t + num(m), t), 0, m - 1, true};
    if (bounded && lo >= 0 && hi < 2 * m) return {z3::ite(t >= num(m), t - num(m), t), 0, m - 1, true};
    return {z3::mod(t, num(m)), 0, m - 1, true};
  }
  static bool small(I lo, I hi) { return lo > -kHuge && hi < kHuge; }
  T signed_of(const T &a, unsigned w) {  // w ≤ 64
    I h = pow2(w - 1);
    return {z3::ite(a.term >= num(h), a.term - num(pow2(w)), a.term), a.lo >= h ? a.lo - pow2(w) : -h,
            a.hi < h ? a.hi : h - 1, true};
  }

  std::optional<T> translate(const z3::expr &e) {
    if (auto it = memo_.find(e.id()); it != memo_.end()) return it->second.second;
    auto t = translate_uncached(e);
    if (t) memo_.emplace(e.id(), std::make_pair(e, *t));  // e kept alive: its id stays its own
    return t;
  }

  std::optional<T> translate_uncached(const z3::expr &e) {
    if (!e.is_bv()) return std::nullopt;
    unsigned w = e.get_sort().bv_size();
    if (w > 64) {
      // Only the 128-bit products of mul's high half, taken apart by extract.
      if (e.decl().decl_kind() != Z3_OP_BMUL && e.decl().decl_kind() != Z3_OP_ZERO_EXT &&
          e.decl().decl_kind() != Z3_OP_CONCAT && !e.is_numeral())
        return std::nullopt;
    }
    if (e.is_numeral()) {
      std::string dec = e.get_decimal_string(0);
      if (dec.size() > 37) return std::nullopt;  // beyond an __int128's reach
      I v = 0;
      for (char ch : dec) v = v * 10 + (ch - '0');
      return T{num(v), v, v, true};
    }
    if (e.is_const()) {
      z3::expr v = c_.int_const((e.decl().name().str() + "!int").c_str());
      ranges_ = ranges_ && v >= 0 && v < num(pow2(w));
      return T{v, 0, pow2(w) - 1, true};
    }
    if (!e.is_app()) return std::nullopt;
    auto k = e.decl().decl_kind();
    std::vector<T> a;
    for (unsigned i = 0; i < e.num_args(); ++i) {
      if (k == Z3_OP_ITE && i == 0) continue;
      auto t = translate(e.arg(i));
      if (!t) return std::nullopt;
      a.push_back(*t);
    }
    if (k != Z3_OP_EXTRACT && std::any_of(a.begin(), a.end(), [](const T &t) { return !t.bounded; }))
      return std::nullopt;
    auto numeral = [&](unsigned i) -> std::optional<I> {
      if (a[i].bounded && a[i].lo == a[i].hi) return a[i].lo;
      return std::nullopt;
    };
    switch (k) {
      case Z3_OP_BADD: {
        T acc = a[0];
        for (size_t i = 1; i < a.size(); ++i)
          acc = wrap(acc.term + a[i].term, acc.lo + a[i].lo, acc.hi + a[i].hi, true, w);
        return acc;
      }
      case Z3_OP_BSUB: return wrap(a[0].term - a[1].term, a[0].lo - a[1].hi, a[0].hi - a[1].lo, true, w);
      case Z3_OP_BNEG: return wrap(-a[0].term, -a[0].hi, -a[0].lo, true, w);
      case Z3_OP_BNOT: return T{num(pow2(w) - 1) - a[0].term, pow2(w) - 1 - a[0].hi, pow2(w) - 1 - a[0].lo, true};
      case Z3_OP_BMUL: {
        T acc = a[0];
        for (size_t i = 1; i < a.size(); ++i) {
          // Linear only: one factor a constant (a product of two variables
          // would need non-linear arithmetic, which Z3 does not decide).
          std::optional<I> ka = numeral(i), kb = acc.lo == acc.hi ? std::optional<I>(acc.lo) : std::nullopt;
          if (!ka && !kb) return std::nullopt;
          I kv = ka ? *ka : *kb;
          const T &x = ka ? acc : a[i];
          if (!x.bounded) return std::nullopt;
          if (w > 64) {
            // mul's 128-bit product of two zero-extended 64-bit values:
            // exact, below 2^128, so no wrap (and no bounds an __int128 holds).
            if (w != 128 || x.lo < 0 || x.hi >= pow2(64) || kv < 0 || kv >= pow2(64)) return std::nullopt;
            acc = T{x.term * num(kv), 0, 0, false};
            continue;
          }
          // k and k - 2^w are the same factor mod 2^w; the smaller one
          // keeps the bounds tight (a subtraction is x + y * 0xff…ff).
          if (kv >= pow2(w - 1)) kv -= pow2(w);
          I lo = x.lo * kv, hi = x.hi * kv;
          if (!small(lo, hi) || !small(x.lo, x.hi)) return std::nullopt;
          acc = wrap(x.term * num(kv), std::min(lo, hi), std::max(lo, hi), true, w);
        }
        return acc;
      }
      case Z3_OP_BLSHR: case Z3_OP_BSHL: case Z3_OP_BASHR: {
        auto sh = numeral(1);
        if (!sh) return std::nullopt;
        if (*sh >= w) return k == Z3_OP_BASHR ? std::nullopt : std::optional<T>(T{num(0), 0, 0, true});
        I f = pow2(static_cast<unsigned>(*sh));
        if (k == Z3_OP_BLSHR) return T{idiv(a[0].term, num(f)), a[0].lo / f, a[0].hi / f, true};
        if (k == Z3_OP_BSHL) return wrap(a[0].term * num(f), a[0].lo * f, a[0].hi * f, true, w);
        T sv = signed_of(a[0], w);  // floor division: an arithmetic shift
        return wrap(idiv(sv.term, num(f)), -pow2(w - 1), pow2(w - 1), true, w);
      }
      case Z3_OP_EXTRACT: {
        unsigned lo = e.lo(), n = e.hi() - e.lo() + 1, from = e.arg(0).get_sort().bv_size();
        I f = pow2(lo);
        if (!a[0].bounded) {  // only known to lie in [0, 2^from)
          if (from - lo > n || from - lo > 64) return std::nullopt;
          return T{idiv(a[0].term, num(f)), 0, pow2(from - lo) - 1, true};
        }
        T shifted = lo ? T{idiv(a[0].term, num(f)), a[0].lo / f, a[0].hi / f, true} : a[0];
        return wrap(shifted.term, shifted.lo, shifted.hi, true, n);
      }
      case Z3_OP_ZERO_EXT: return a[0];
      case Z3_OP_SIGN_EXT: {
        unsigned from = e.arg(0).get_sort().bv_size();
        T sv = signed_of(a[0], from);
        return wrap(sv.term, sv.lo, sv.hi, true, w);
      }
      case Z3_OP_CONCAT: {
        T acc = a[0];
        for (size_t i = 1; i < a.size(); ++i) {
          I f = pow2(e.arg(i).get_sort().bv_size()), lo, hi;
          if (__builtin_mul_overflow(acc.lo, f, &lo) || __builtin_mul_overflow(acc.hi, f, &hi) ||
              __builtin_add_overflow(hi, a[i].hi, &hi))
            return std::nullopt;
          acc = T{acc.term * num(f) + a[i].term, lo + a[i].lo, hi, true};
        }
        return acc;
      }
      case Z3_OP_BUDIV: case Z3_OP_BUDIV_I: case Z3_OP_BUREM: case Z3_OP_BUREM_I: {
        auto d = numeral(1);
        if (!d || *d <= 0) return std::nullopt;
        if (k == Z3_OP_BUDIV || k == Z3_OP_BUDIV_I) return T{idiv(a[0].term, num(*d)), a[0].lo / *d, a[0].hi / *d, true};
        return T{z3::mod(a[0].term, num(*d)), 0, *d - 1, true};
      }
      case Z3_OP_BSDIV: case Z3_OP_BSDIV_I: case Z3_OP_BSREM: case Z3_OP_BSREM_I: {
        auto d = numeral(1);
        if (!d || *d <= 0 || *d >= pow2(w - 1)) return std::nullopt;
        T sv = signed_of(a[0], w);
        // C truncates towards zero; Z3's integer div floors.
        z3::expr q = z3::ite(sv.term >= 0, idiv(sv.term, num(*d)), -idiv(-sv.term, num(*d)));
        if (k == Z3_OP_BSDIV || k == Z3_OP_BSDIV_I) return wrap(q, -pow2(w - 1), pow2(w - 1), true, w);
        return wrap(sv.term - q * num(*d), -(*d - 1), *d - 1, true, w);
      }
      case Z3_OP_BAND: {
        // A low mask only: x & (2^n - 1).
        if (a.size() != 2) return std::nullopt;
        for (int i : {0, 1}) {
          auto m = numeral(i);
          if (m && *m >= 0 && ((*m + 1) & *m) == 0) {
            const T &x = a[1 - i];
            if (x.lo >= 0 && x.hi <= *m) return x;
            return T{z3::mod(x.term, num(*m + 1)), 0, *m, true};
          }
        }
        return std::nullopt;
      }
      default: return std::nullopt;
    }
  }

  z3::context &c_;
  z3::expr ranges_;
  std::map<unsigned, std::pair<z3::expr, T>> memo_;
};

// a == b for every assignment of their variables: over the integers when
// both translate (fast for divisions by constants), else bit-blasted.
bool proven_equal(z3::context &c, const z3::expr &a, const z3::expr &b, unsigned timeout_ms) {
  if (z3::eq(a, b)) return true;
  z3::solver s(c);
  z3::params p(c);
  p.set("timeout", timeout_ms);
  s.set(p);
  IntTranslation to_int(c);
  // The simplified terms outlive the translation, which memoizes by id.
  z3::expr sa = a.simplify(), sb = b.simplify();
  auto ia = to_int(sa), ib = to_int(sb);
  if (ia && ib) {
    s.add(to_int.ranges());
    s.add(*ia != *ib);
    if (s.check() == z3::unsat) return true;
    s.reset();
  }
  s.add(a != b);
  return s.check() == z3::unsat;
}

// A region lifted from a symbolic entry state.
struct Lifted {
  SymState in, out;
};

Result<Lifted> lift_region(z3::context &c, const DecodedFunction &f, size_t first, size_t last,
                           const std::string &prefix = "in_") {
  SymState in(c, prefix);
  in.symbolic_links = true;
  SymState out = in;
  for (size_t i = first; i <= last; ++i) {
    KX_ASSIGN(end, lift(out, f.insns[i], f.insns[i].offset));
    if (end == LiftEnd::Branch) return make_error("a branch inside the region at " + f.insns[i].text);
  }
  return Lifted{in, out};
}

// The template, if any, that register `r` at the region's end holds for
// every entry state, at V = `value`. `only` restricts the search to one
// template kind (op, width, extension), for the test builds.
std::optional<TemplateMatch> match_register(z3::context &c, const Lifted &l, int r, int64_t value,
                                            const std::vector<std::pair<z3::expr_vector, z3::expr_vector>> &ss,
                                            unsigned timeout_ms, const TemplateMatch *only = nullptr) {
  const z3::expr &out = l.out.gpr[r];
  z3::expr v = c.bv_val(value, 64);
  // Narrow first: a 32-bit division's proof is quick, a 64-bit one against a
  // 128-bit magic multiply may not be.
  for (unsigned w : {32u, 64u}) {
    if (only && only->width != w) continue;
    if (w == 32 && (value < 1 || value > 0xffffffffll)) continue;
    for (auto &t : op_templates()) {
      if (only && only->op != t.name) continue;
      for (int k : inputs_of(out))
        for (bool sext : {false, true}) {
          if (w == 64 && sext) continue;
          if (only && only->sign_extended != sext) continue;
          TemplateMatch m{t.name, w, k, r, sext};
          z3::expr want = template_value(m, l.in.gpr[k], v);
          if (agrees_on_samples(out, want, ss) && proven_equal(c, out, want, timeout_ms)) return m;
        }
    }
  }
  return std::nullopt;
}

uint32_t written_registers(const Lifted &l) {
  uint32_t out = 0;
  for (int r = 0; r < 16; ++r)
    if (!z3::eq(l.out.gpr[r].simplify(), l.in.gpr[r])) out |= bit(r);
  return out;
}

uint32_t written_flags(const Lifted &l) {
  uint32_t out = 0;
  for (int fl = 0; fl < kFlagCount; ++fl)
    if (!z3::eq(l.out.flag[fl].simplify(), l.in.flag[fl])) out |= bit(fl);
  return out;
}

// Does the region [first, last] of `build` (compiled at `value`) hold each
// of `want`'s templates in some register (any input, any output: a build
// may allocate registers otherwise), and each of `agree` (register, value
// over the original region's entry state) in that very register? Why not,
// or empty.
std::string build_holds(z3::context &c, const DecodedFunction &build, size_t first, size_t last, int64_t value,
                        const std::vector<TemplateMatch> &want, const std::vector<std::pair<int, z3::expr>> &agree,
                        unsigned timeout_ms) {
  auto l = lift_region(c, build, first, last);
  if (!l) return l.error().message;
  auto ss = samples(c, l->in);
  std::set<int> used;
  for (auto &m : want) {
    bool found = false;
    for (int r = 0; r < 16 && !found; ++r) {
      if (used.count(r) || z3::eq(l->out.gpr[r], l->in.gpr[r])) continue;
      if (match_register(c, *l, r, value, ss, timeout_ms, &m)) found = true, used.insert(r);
    }
    if (!found) return "the build at V=" + std::to_string(value) + " computes no " + m.op + std::to_string(m.width);
  }
  for (auto &[r, e] : agree)
    if (!proven_equal(c, l->out.gpr[r], e, timeout_ms))
      return std::string(gpr_name(r)) + ", live after the region, holds another value in the build at V=" +
             std::to_string(value);
  return "";
}

// The span's update over its templates: capture each input, write each output.
Result<nlohmann::json> template_update(z3::context &c, const std::vector<TemplateMatch> &ms) {
  nlohmann::json captures = nlohmann::json::array(), assign = nlohmann::json::array();
  std::set<int> captured;
  z3::expr v = c.bv_const(UpdateVars::kValue, 64);
  for (auto &m : ms) {
    if (captured.insert(m.input).second) captures.push_back(gpr_name(m.input));
    KX_ASSIGN(e, to_update_expr(template_value(m, c.bv_const(UpdateVars::cap(gpr_name(m.input)).c_str(), 64), v)));
    assign.push_back({{"dest", gpr_name(m.output)}, {"expr", e}});
  }
  return nlohmann::json{{"captures", captures}, {"assign", assign}};
}

// Proves span(V0); update(V') == the templates at V' for every entry state
// and V' in [v_min, v_max], on every register that is live after the span
// (`dead` are not), the flags (the span's are dead, the update writes none)
// and memory.
std::pair<ProofResult, std::string> prove_template_update(const DecodedFunction &f, size_t first, size_t last,
                                                          const std::vector<TemplateMatch> &ms,
                                                          const nlohmann::json &update, uint32_t dead, int64_t v_min,
                                                          int64_t v_max, unsigned timeout_ms) {
  z3::context c;
  auto l = lift_region(c, f, first, last, "p_");
  if (!l) return {ProofResult::Failed, l.error().message};
  const SymState &sigma = l->in, &impl = l->out;
  z3::expr v = c.bv_const(UpdateVars::kValue, 64);
  std::map<std::string, z3::expr> vars = {
      {UpdateVars::kValue, v}, {UpdateVars::kMemory, impl.mem}, {UpdateVars::kGsBase, impl.gs_base}};
  for (int r = 0; r < 16; ++r) {
    vars.emplace(UpdateVars::reg(gpr_name(r)), impl.gpr[r]);
    vars.emplace(UpdateVars::cap(gpr_name(r)), sigma.gpr[r]);
  }
  for (int fl = 0; fl < kFlagCount; ++fl) {
    vars.emplace(UpdateVars::flag(flag_name(Flag(fl))), impl.flag[fl]);
    vars.emplace(UpdateVars::cap(flag_name(Flag(fl))), sigma.flag[fl]);
  }
  SymState after = impl, spec = impl;
  for (auto &m : ms) spec.gpr[m.output] = template_value(m, sigma.gpr[m.input], v);
  for (auto &a : update["assign"]) {
    auto e = from_update_expr(c, a["expr"], vars);
    if (!e) return {ProofResult::Failed, e.error().message};
    if (!a["dest"].is_string()) return {ProofResult::Failed, "a template update writes registers only"};
    bool done = false;
    for (int r = 0; r < 16 && !done; ++r)
      if (a["dest"] == gpr_name(r)) after.gpr[r] = *e, done = true;
    if (!done) return {ProofResult::Failed, "unknown destination " + a["dest"].dump()};
  }
  z3::expr same = after.mem == spec.mem;
  for (int r = 0; r < 16; ++r)
    if (!(dead & bit(r))) same = same && after.gpr[r] == spec.gpr[r];
  for (int fl = 0; fl < kFlagCount; ++fl)
    if (!depends_on_undefined(spec.flag[fl])) same = same && after.flag[fl] == spec.flag[fl];
  z3::solver s(c);
  z3::params p(c);
  p.set("timeout", timeout_ms);
  s.set(p);
  s.add(v >= c.bv_val(v_min, 64) && v <= c.bv_val(v_max, 64));  // unsigned: v_min ≥ 1
  s.add(!same);
  switch (s.check()) {
    case z3::unsat: return {ProofResult::Proved, ""};
    case z3::unknown: return {ProofResult::Timeout, "z3: " + s.reason_unknown()};
    case z3::sat: {
      auto mdl = s.get_model();
      return {ProofResult::Failed,
              "counterexample at V'=" + std::to_string(mdl.eval(v, true).get_numeral_uint64())};
    }
  }
  return {ProofResult::Failed, "z3 gave no answer"};
}

// Registers span f[first..last] writes that are neither an output of `ms`
// nor read after it: the proof leaves them out.
uint32_t dead_registers(const DecodedFunction &f, const Lifted &l, size_t last, const std::vector<TemplateMatch> &ms) {
  uint32_t dead = 0, written = written_registers(l);
  for (int r = 0; r < 16; ++r)
    if ((written & bit(r)) && r != 4 &&
        std::none_of(ms.begin(), ms.end(), [&](auto &m) { return m.output == r; }) &&
        live_after(f, last, bit(r), 0).empty())
      dead |= bit(r);
  return dead;
}

}  // namespace

std::pair<ProofResult, std::string> prove_template_update(const DecodedFunction &orig, const CriticalSpan &cs,
                                                          const nlohmann::json &update, unsigned timeout_ms) {
  z3::context c;
  auto l = lift_region(c, orig, cs.first, cs.last);
  if (!l) return {ProofResult::Failed, l.error().message};
  return prove_template_update(orig, cs.first, cs.last, cs.op_templates, update,
                               dead_registers(orig, *l, cs.last, cs.op_templates), cs.v_min, cs.v_max, timeout_ms);
}

std::vector<DifferenceRegion> difference_regions(const DecodedFunction &orig, const std::vector<TestBuild> &tests,
                                                 std::string &why) {
  why.clear();
  const size_t n = orig.insns.size();
  std::vector<std::vector<long>> maps;
  std::vector<bool> differs(n, false), gap(n, false);
  for (auto &t : tests) {
    maps.push_back(align_functions(orig, *t.function));
    auto &map = maps.back();
    // A jump the layout shifted from a short to a near encoding (or back)
    // aligns with none, yet is the same jump: same mnemonic, between the
    // same neighbours, to the same (aligned) instruction.
    for (size_t k = 1; k + 1 < n; ++k) {
      auto j = map[k - 1] + 1;
      if (map[k] >= 0 || map[k - 1] < 0 || map[k + 1] != j + 1) continue;
      const Insn &a = orig.insns[k], &b = t.function->insns[j];
      auto to_a = jump_target(orig, a), to_b = jump_target(*t.function, b);
      if (a.mnemonic() == b.mnemonic() && to_a && to_b && map[*to_a] == static_cast<long>(*to_b))
        map[k] = j;
    }
    long prev = -1;  // the test instruction of the last aligned original one
    for (size_t k = 0; k < n; ++k) {
      if (map[k] < 0) {
        differs[k] = true;
        continue;
      }
      if (!same_values(orig.insns[k], t.function->insns[map[k]])) differs[k] = true;
      // The test build has instructions here the original lacks: the
      // original's neighbours are part of the difference.
      if (map[k] > prev + 1) gap[k] = true;
      prev = map[k];
    }
    if (prev + 1 < static_cast<long>(t.function->insns.size()) && n) differs[n - 1] = true;
  }
  // A test build has instructions before k the original lacks: the region
  // must end just before k (its test side then takes them in), so unless a
  // difference already does, the instruction before k joins one.
  for (size_t k = 0; k < n; ++k)
    if (gap[k] && !(k > 0 && differs[k - 1])) differs[k > 0 && !ends_block(orig.insns[k - 1]) ? k - 1 : k] = true;
  // Close differences join while nothing between them ends a block: the
  // original may interleave a division's instructions with unrelated ones.
  std::set<size_t> targets = branch_targets(orig);
  std::vector<DifferenceRegion> out;
  constexpr size_t kJoin = 4, kMaxRegion = 40;
  for (size_t k = 0; k < n; ++k) {
    if (!differs[k]) continue;
    size_t first = k, last = k;
    for (size_t j = k + 1; j < n && j <= last + kJoin + 1; ++j) {
      if (ends_block(orig.insns[j - 1]) || (targets.count(j) && !differs[j])) break;
      if (differs[j]) last = j;
    }
    k = last;
    DifferenceRegion rg{first, last, {}};
    auto where = [&] { return orig.name + "+" + hex(orig.insns[first].offset); };
    if (last + 1 >= n || last - first + 1 > kMaxRegion) {
      why = "the difference at " + where() + " has no aligned instruction after it, or is too long";
      return {};
    }
    for (size_t i = first; i <= last; ++i)
      if (ends_block(orig.insns[i]) || (i > first && targets.count(i))) {
        why = "the difference at " + where() + " is not straight-line code (" + orig.insns[i].text + ")";
        return {};
      }
    for (size_t b = 0; b < tests.size(); ++b) {
      const DecodedFunction &tf = *tests[b].function;
      long before = first == 0 ? -1 : maps[b][first - 1], after = maps[b][last + 1];
      if ((first > 0 && before < 0) || after < 0 || after - before < 2) {
        why = "the difference at " + where() + " has no region in the build at V=" + std::to_string(tests[b].value);
        return {};
      }
      std::set<size_t> ttargets = branch_targets(tf);
      for (long i = before + 1; i < after; ++i)
        if (ends_block(tf.insns[i]) || (i > before + 1 && ttargets.count(i))) {
          why = "the build at V=" + std::to_string(tests[b].value) + " differs at " + where() +
                " by control flow (" + tf.insns[i].text + ")";
          return {};
        }
      rg.test.push_back({static_cast<size_t>(before + 1), static_cast<size_t>(after - 1)});
    }
    // The lead: aligned alike in every build, contiguously, and lifted
    // without a store, back to the block's start.
    constexpr size_t kMaxLead = 6;
    while (rg.lead < kMaxLead && rg.lead < first) {
      size_t k = first - rg.lead - 1;
      const Insn &in = orig.insns[k];
      bool ok = !ends_block(in) && !targets.count(k + 1) && !differs[k] && lift_supports(in.mnemonic());
      for (uint8_t o = 0; o < in.zi.operand_count && ok; ++o)
        ok = !(in.zops[o].type == ZYDIS_OPERAND_TYPE_MEMORY && (in.zops[o].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE));
      for (size_t b = 0; b < tests.size() && ok; ++b)
        ok = maps[b][k] >= 0 && static_cast<size_t>(maps[b][k]) + rg.lead + 1 == rg.test[b].first;
      if (!ok) break;
      ++rg.lead;
    }
    out.push_back(rg);
  }
  return out;
}

namespace {

std::optional<CriticalSpan> build_template_span_exact(const DecodedFunction &orig, const DifferenceRegion &rg,
                                                      const std::vector<TestBuild> &tests, int64_t v0,
                                                      std::string &why, unsigned timeout_ms) {
  z3::context c;
  auto l = lift_region(c, orig, rg.first, rg.last);
  if (!l) {
    why = l.error().message;
    return std::nullopt;
  }
  if (!z3::eq(l->out.mem, l->in.mem)) {
    why = "the region stores to memory, which no template describes";
    return std::nullopt;
  }
  // Each register the region writes: a template's output, or dead after it.
  auto ss = samples(c, l->in);
  std::vector<TemplateMatch> ms;
  std::vector<std::pair<int, z3::expr>> agree;
  uint32_t written = written_registers(*l), dead = 0;
  for (int r = 0; r < 16; ++r) {
    if (!(written & bit(r))) continue;
    // Dead registers need nothing (a temporary may happen to hold a
    // quotient the test builds do not keep).
    if (live_after(orig, rg.last, bit(r), 0).empty() && r != 4) {
      dead |= bit(r);
      continue;
    }
    if (auto m = match_register(c, *l, r, v0, ss, timeout_ms)) {
      ms.push_back(*m);
      continue;
    }
    // Live, and no template: every build must leave the same value there
    // (code the scheduler moved into the region, unrelated to V).
    agree.push_back({r, l->out.gpr[r]});
  }
  if (ms.empty()) {
    why = "no template computes what the region (" + orig.insns[rg.first].text + " …) leaves";
    return std::nullopt;
  }
  if (uint32_t wf = written_flags(*l); wf)
    if (std::string r = live_after(orig, rg.last, 0, wf); !r.empty()) {
      why = "the region writes flags the code after it reads: " + r;
      return std::nullopt;
    }
  // Every test build computes the same templates at its own value.
  CriticalSpan cs;
  for (size_t b = 0; b < tests.size(); ++b) {
    auto [tf, tl] = rg.test[b];
    std::string miss = build_holds(c, *tests[b].function, tf, tl, tests[b].value, ms, agree, timeout_ms);
    if (!miss.empty()) {
      why = miss;
      return std::nullopt;
    }
    cs.cross_builds.push_back({tests[b].value, "same"});
  }

  cs.function = orig.name;
  cs.first = rg.first;
  cs.last = rg.last;
  cs.start = orig.insns[rg.first].offset;
  cs.end = orig.insns[rg.last].offset;
  cs.probe = orig.insns[rg.last + 1].offset;
  cs.capture = cs.start;
  cs.kind = SynthKind::Dual;
  cs.op_templates = ms;
  for (auto &m : ms) {
    cs.defines.push_back(gpr_name(m.output));
    cs.expression += m.describe() + "; ";
  }
  // V' ≥ 1: no division by zero, and C's division by a positive constant;
  // within the width (signed: its positive half), so V' is the operand's value.
  bool is_signed = std::any_of(ms.begin(), ms.end(), [](auto &m) { return template_named(m.op)->is_signed; });
  unsigned w = 64;
  for (auto &m : ms) w = std::min(w, m.width);
  cs.v_min = 1;
  cs.v_max = w == 64 ? INT64_MAX : is_signed ? INT32_MAX : static_cast<int64_t>(UINT32_MAX);
  cs.range_basis = {"operation template: V' ≥ 1 (no division by zero) and V' fits the " + std::to_string(w) +
                    "-bit " + (is_signed ? "signed" : "unsigned") + " operation"};
  cs.notes.push_back("matched by operation template: the builds compute " + cs.expression +
                     "with other instructions for each value");
  if (branch_targets(orig).count(rg.last + 1))
    cs.notes.push_back("the instruction after the span is a branch target: the update runs only for tasks that "
                       "passed the span's start (marked there by the capture)");
  if (orig.insns[rg.last + 1].zi.meta.category == ZYDIS_CATEGORY_COND_BR)
    cs.notes.push_back("the update probe sits on a conditional jump, which kprobes cannot jump-optimize (Appendix B)");
  auto update = template_update(c, ms);
  if (!update) {
    cs.detail = update.error().message;
    return cs;
  }
  cs.update = *update;
  auto [res, detail] = prove_template_update(orig, rg.first, rg.last, ms, cs.update, dead, cs.v_min, cs.v_max,
                                             timeout_ms);
  cs.proof = res;
  cs.detail = detail;
  return cs;
}

}  // namespace

std::optional<CriticalSpan> build_template_span(const DecodedFunction &orig, const DifferenceRegion &rg,
                                                const std::vector<TestBuild> &tests, int64_t v0, std::string &why,
                                                unsigned timeout_ms) {
  auto cs = build_template_span_exact(orig, rg, tests, v0, why, timeout_ms);
  if (cs || rg.lead == 0) return cs;
  // The region's input may be established just before it (a zero-extending
  // move): take the lead in and try again.
  DifferenceRegion wider = rg;
  wider.first -= rg.lead;
  for (auto &t : wider.test) t.first -= rg.lead;
  wider.lead = 0;
  std::string why_wider;
  cs = build_template_span_exact(orig, wider, tests, v0, why_wider, timeout_ms);
  if (cs) why.clear();
  return cs;
}

std::vector<CriticalSpan> find_template_spans(const DecodedFunction &orig, const std::vector<TestBuild> &tests,
                                              int64_t v0, std::string &why, unsigned timeout_ms) {
  auto regions = difference_regions(orig, tests, why);
  if (!why.empty()) return {};
  if (regions.empty()) {
    why = "no region differs";
    return {};
  }
  std::vector<CriticalSpan> out;
  for (auto &rg : regions) {
    auto cs = build_template_span(orig, rg, tests, v0, why, timeout_ms);
    if (!cs) {
      why = orig.name + "+" + hex(orig.insns[rg.first].offset) + ": " + why;
      return {};
    }
    out.push_back(*cs);
  }
  return out;
}

bool build_computes_templates(const DecodedFunction &orig, const CriticalSpan &cs, const DecodedFunction &build,
                              int64_t value, unsigned timeout_ms) {
  std::vector<long> map = align_functions(orig, build);
  long before = cs.first == 0 ? -1 : map[cs.first - 1], after = map[cs.last + 1];
  if ((cs.first > 0 && before < 0) || after < 0 || after - before < 2) return false;
  for (long i = before + 1; i < after; ++i)
    if (ends_block(build.insns[i])) return false;
  z3::context c;
  return build_holds(c, build, before + 1, after - 1, value, cs.op_templates, {}, timeout_ms).empty();
}

}  // namespace kx
