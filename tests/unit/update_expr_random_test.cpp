// The three readings of the update language agree on random expressions:
// Z3's (what the proof reasons about, synth/update_expr.h), the reference
// evaluator's (evaluate_update_expr) and the module's (kmod/x_sie_update.c,
// compiled into kxcore, through runtime/update_program.h). So does the
// language Z3 simplifies an expression back into (what synthesis emits).
#include <gtest/gtest.h>

#include <random>

#include "runtime/update_program.h"
#include "synth/update_expr.h"
#include "x_sie_update.h"

namespace kx {
namespace {

using nlohmann::json;

const char *const kRegs[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                               "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
const char *const kFlags[6] = {"cf", "pf", "af", "zf", "sf", "of"};

uint64_t mask(unsigned w) { return w >= 64 ? ~0ull : (1ull << w) - 1; }

// Random, well-typed expressions: bit-vectors of a given width, booleans.
struct Generator {
  std::mt19937_64 rng;
  explicit Generator(uint64_t seed) : rng(seed) {}

  unsigned pick(unsigned n) { return static_cast<unsigned>(rng() % n); }
  unsigned width() {
    static const unsigned ws[] = {1, 3, 8, 8, 16, 31, 32, 32, 33, 63, 64, 64, 64};
    return ws[pick(sizeof ws / sizeof ws[0])];
  }
  // Values where masking, carries and signs go wrong.
  uint64_t value() {
    static const uint64_t edges[] = {0, 1, 2, 7, 8, 31, 32, 63, 64, 0x7f, 0x80, 0xff, 0x8000, 0x7fffffff,
                                     0x80000000, 0xffffffff, 1ull << 63, ~0ull};
    return pick(2) ? edges[pick(sizeof edges / sizeof edges[0])] : rng();
  }
  json var64() {
    switch (pick(3)) {
      case 0: return json::array({"v"});
      case 1: return {"reg", kRegs[pick(16)]};
      default: return {"cap", kRegs[pick(16)]};
    }
  }
  json leaf(unsigned w) {
    if (pick(3) == 0) {
      char b[24];
      snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(value() & mask(w)));
      return {"const", w, b};
    }
    if (w == 64) return var64();
    unsigned lo = pick(64 - w + 1);
    return {"extract", lo + w - 1, lo, var64()};
  }

  json bv(unsigned w, int depth) {
    if (depth == 0) return leaf(w);
    static const char *const binary[] = {"add",  "sub",  "mul",  "and",  "or",   "xor", "shl",
                                         "lshr", "ashr", "udiv", "urem", "sdiv", "srem"};
    switch (pick(8)) {
      case 0: return leaf(w);
      case 1: return {pick(2) ? "not" : "neg", w, bv(w, depth - 1)};
      case 2: case 3: {
        const char *op = binary[pick(13)];
        bool shift = std::string(op).find("sh") != std::string::npos;
        bool divide = std::string(op).find("div") != std::string::npos || std::string(op).find("rem") != std::string::npos;
        // A shift amount is often small, sometimes the width or more.
        json b = shift && pick(2) ? leaf(w) : bv(w, depth - 1);
        if (shift && b[0] == "const" && pick(2)) {
          char s[24];
          snprintf(s, sizeof s, "0x%x", pick(w + 2) & static_cast<unsigned>(mask(w)));
          b = {"const", w, s};
        }
        // A divisor is often one of the cases a CPU traps on or that
        // SMT-LIB defines specially: 0, -1 (MIN / -1), 1, MIN.
        if (divide && pick(2)) {
          const uint64_t special[] = {0, mask(w), 1, 1ull << (w - 1)};
          char s[24];
          snprintf(s, sizeof s, "0x%llx", static_cast<unsigned long long>(special[pick(4)] & mask(w)));
          b = {"const", w, s};
        }
        return {op, w, bv(w, depth - 1), b};
      }
      case 4: {
        if (w == 1) return leaf(w);
        unsigned from = 1 + pick(w - 1);
        return {pick(2) ? "zext" : "sext", w, bv(from, depth - 1)};
      }
      case 5: {
        unsigned from = w + pick(65 - w), lo = pick(from - w + 1);
        return {"extract", lo + w - 1, lo, bv(from, depth - 1)};
      }
      case 6: {
        if (w == 1) return leaf(w);
        unsigned hi = 1 + pick(w - 1);
        return {"concat", w, bv(hi, depth - 1), bv(w - hi, depth - 1)};
      }
      default: return {"ite", w, boolean(depth - 1), bv(w, depth - 1), bv(w, depth - 1)};
    }
  }

  json boolean(int depth) {
    if (depth == 0 || pick(5) == 0) {
      switch (pick(4)) {
        case 0: return json::array({pick(2) ? "true" : "false"});
        case 1: return {"capflag", kFlags[pick(6)]};
        default: return {"flag", kFlags[pick(6)]};
      }
    }
    static const char *const cmp[] = {"eq", "ult", "ule", "slt", "sle"};
    static const char *const logic[] = {"band", "bor", "bxor"};
    switch (pick(3)) {
      case 0: {
        unsigned w = width();
        return {cmp[pick(5)], bv(w, depth - 1), bv(w, depth - 1)};
      }
      case 1: return {logic[pick(3)], 1, boolean(depth - 1), boolean(depth - 1)};
      default: return {"bnot", boolean(depth - 1)};
    }
  }
};

// One random input: the state at the probe, the captured one, V.
struct Input {
  ConcreteEnv env;
  x_sie_state now{}, cap{};
  std::map<std::string, z3::expr> vars(z3::context &c) const {
    std::map<std::string, z3::expr> m = {{UpdateVars::kValue, c.bv_val(env.v, 64)}};
    for (auto &[r, x] : env.regs) m.emplace(UpdateVars::reg(r), c.bv_val(x, 64));
    for (auto &[r, x] : env.caps) m.emplace(UpdateVars::cap(r), c.bv_val(x, 64));
    for (auto &[f, x] : env.flags) m.emplace(UpdateVars::flag(f), c.bool_val(x));
    for (auto &[f, x] : env.capflags) m.emplace(UpdateVars::cap(f), c.bool_val(x));
    return m;
  }
};

Input random_input(Generator &g) {
  Input in;
  for (unsigned r = 0; r < 16; ++r) {
    in.env.regs[kRegs[r]] = in.now.regs[r] = g.value();
    in.env.caps[kRegs[r]] = in.cap.regs[r] = g.value();
  }
  in.now.flags = g.rng(), in.cap.flags = g.rng();
  for (auto *f : kFlags) {
    unsigned bit = *update_flag(f);
    in.env.flags[f] = (in.now.flags >> bit) & 1;
    in.env.capflags[f] = (in.cap.flags >> bit) & 1;
  }
  in.env.v = g.value();
  return in;
}

// Z3's value of a closed term: a numeral, or true/false as 1/0.
uint64_t z3_value(const z3::expr &e) {
  z3::expr s = e.simplify();
  if (s.is_bool()) {
    EXPECT_TRUE(s.is_true() || s.is_false()) << s;
    return s.is_true();
  }
  EXPECT_TRUE(s.is_numeral()) << s;
  return s.get_numeral_uint64();
}

TEST(UpdateExprRandom, Z3TheReferenceAndTheModuleAgreeOn300RandomExpressions) {
  constexpr int kExpressions = 300, kInputs = 40;
  Generator g(20261207);
  std::vector<__u64> scratch(X_SIE_MAX_NODES);
  int booleans = 0, resimplified = 0, too_big = 0;
  for (int n = 0; n < kExpressions;) {
    bool is_bool = g.pick(4) == 0;
    unsigned w = is_bool ? 1 : g.width();
    json e = is_bool ? g.boolean(4) : g.bv(w, 4);
    // The module assigns 64-bit registers and 1-bit flags.
    json value = is_bool || w == 64 ? e : json{"zext", 64, e};
    json captures = json::array({"cf"});
    for (auto *r : kRegs) captures.push_back(r);
    json update = {{"captures", captures}, {"assign", {{{"dest", is_bool ? "zf" : "rbx"}, {"expr", value}}}}};
    auto prog = compile_update(update, true);
    if (!prog && prog.error().message.find("distinct subterms") != std::string::npos) {
      ++too_big;  // beyond the module's bound: draw another
      continue;
    }
    ASSERT_TRUE(prog) << prog.error().message << "\n" << e.dump();
    ++n;
    booleans += is_bool;

    // What synthesis would emit for it: Z3's simplified form, read back.
    z3::context sc;
    std::map<std::string, z3::expr> symbolic = {{UpdateVars::kValue, sc.bv_const(UpdateVars::kValue, 64)}};
    for (auto *r : kRegs) {
      symbolic.emplace(UpdateVars::reg(r), sc.bv_const(UpdateVars::reg(r).c_str(), 64));
      symbolic.emplace(UpdateVars::cap(r), sc.bv_const(UpdateVars::cap(r).c_str(), 64));
    }
    for (auto *f : kFlags) {
      symbolic.emplace(UpdateVars::flag(f), sc.bool_const(UpdateVars::flag(f).c_str()));
      symbolic.emplace(UpdateVars::cap(f), sc.bool_const(UpdateVars::cap(f).c_str()));
    }
    auto term = from_update_expr(sc, e, symbolic);
    ASSERT_TRUE(term) << term.error().message;
    std::optional<json> simplified;
    if (auto j = to_update_expr(term->simplify())) simplified = *j, ++resimplified;

    for (int i = 0; i < kInputs; ++i) {
      Input in = random_input(g);
      // Z3's value: the term with every variable replaced by its value.
      z3::expr_vector from(sc), to(sc);
      for (auto &[name, value] : in.vars(sc)) {
        from.push_back(symbolic.at(name));
        to.push_back(value);
      }
      uint64_t want = z3_value(term->substitute(from, to));
      auto ref = evaluate_update_expr(e, in.env);
      ASSERT_TRUE(ref) << ref.error().message;
      ASSERT_EQ(*ref, want) << "reference vs Z3 on " << e.dump() << " at V=" << in.env.v;
      x_sie_results res{};
      x_sie_prog_eval(&*prog, &in.now, &in.cap, in.env.v, scratch.data(), &res);
      ASSERT_EQ(res.value[0], want) << "module vs Z3 on " << e.dump() << " at V=" << in.env.v;
      if (simplified) {
        auto again = evaluate_update_expr(*simplified, in.env);
        ASSERT_TRUE(again) << again.error().message;
        ASSERT_EQ(*again, want) << "simplified " << simplified->dump() << " of " << e.dump();
      }
    }
  }
  printf("%d expressions (%d boolean) on %d inputs each; %d simplified forms back in the language; "
         "%d drawn too big for the module\n", kExpressions, booleans, kInputs, resimplified, too_big);
  // The draw covers both kinds, and Z3's simplified forms mostly stay in
  // the language (what it cannot say, synthesis refuses).
  EXPECT_GT(booleans, 40);
  EXPECT_GT(resimplified, kExpressions * 9 / 10);
  EXPECT_LT(too_big, kExpressions);
}

}  // namespace
}  // namespace kx

namespace kx {
namespace {

// Division and remainder (operation templates' updates) at the edges a CPU
// traps on: the host reference, Z3 and the module agree on SMT-LIB's values.
TEST(UpdateExprDivision, HostZ3AndModuleAgreeOnZeroDivisorsAndMinByMinusOne) {
  const uint64_t values[] = {0, 1, 2, 7, 10, 0x7fffffff, 0x80000000, 0xfffffff6, 0xffffffff,
                             0x8000000000000000ull, ~0ull, ~0ull - 9, 0x123456789abcdefull};
  z3::context c;
  std::vector<__u64> scratch(X_SIE_MAX_NODES);
  int checked = 0;
  for (const char *op : {"udiv", "urem", "sdiv", "srem"})
    for (unsigned w : {32u, 64u})
      for (uint64_t a : values)
        for (uint64_t b : values) {
          uint64_t m = w == 64 ? ~0ull : 0xffffffffull;
          auto konst = [&](uint64_t x) {
            char s[24];
            snprintf(s, sizeof s, "0x%llx", static_cast<unsigned long long>(x & m));
            return json{"const", w, s};
          };
          json e = {op, w, json{"extract", w - 1, 0, json{"reg", "rax"}}, konst(b)};
          ConcreteEnv env;
          env.regs["rax"] = a;
          auto host = evaluate_update_expr(e, env);
          ASSERT_TRUE(host) << host.error().message;
          auto term = from_update_expr(c, e, {{UpdateVars::reg("rax"), c.bv_val(a, 64)}});
          ASSERT_TRUE(term) << term.error().message;
          EXPECT_EQ(*host, term->simplify().get_numeral_uint64()) << e.dump() << " at rax=" << a;
          json update = {{"captures", json::array()},
                         {"assign", {{{"dest", "rbx"}, {"expr", w == 64 ? e : json{"zext", 64, e}}}}}};
          auto prog = compile_update(update, false);
          ASSERT_TRUE(prog) << prog.error().message;
          x_sie_state now{};
          now.regs[0] = a;
          x_sie_results res{};
          x_sie_prog_eval(&*prog, &now, nullptr, 0, scratch.data(), &res);
          EXPECT_EQ(res.value[0], *host) << "module: " << e.dump() << " at rax=" << a;
          ++checked;
        }
  EXPECT_EQ(checked, 4 * 2 * 13 * 13);
}

}  // namespace
}  // namespace kx
