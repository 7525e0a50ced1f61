#include "synth/update_expr.h"

#include "symbolic/sym_state.h"
#include "util/hex.h"

#include <cstdio>

namespace kx {

namespace {

uint64_t mask(unsigned w) { return w >= 64 ? ~0ull : ((1ull << w) - 1); }

int64_t signed_of(uint64_t v, unsigned w) {
  if (w >= 64) return static_cast<int64_t>(v);
  uint64_t m = 1ull << (w - 1);
  return static_cast<int64_t>(((v & mask(w)) ^ m) - m);
}

// Left-folds an n-ary Z3 application into binary nodes.
nlohmann::json fold(const std::string &op, unsigned w, std::vector<nlohmann::json> args) {
  nlohmann::json acc = args[0];
  for (size_t i = 1; i < args.size(); ++i) acc = nlohmann::json::array({op, w, acc, args[i]});
  return acc;
}

}  // namespace

std::string UpdateVars::linked(uint64_t offset) { return linked_symbol(offset); }
std::string UpdateVars::load(unsigned bits) { return load_symbol(bits); }

Result<nlohmann::json> to_update_expr(const z3::expr &e) {
  if (e.is_numeral()) return nlohmann::json::array({"const", e.get_sort().bv_size(), hex(e.get_numeral_uint64())});
  if (e.is_true()) return nlohmann::json::array({"true"});
  if (e.is_false()) return nlohmann::json::array({"false"});
  if (e.is_const()) {
    std::string n = e.decl().name().str();
    if (n == UpdateVars::kValue) return nlohmann::json::array({"v"});
    if (n == UpdateVars::kGsBase) return nlohmann::json::array({"gsbase"});
    if (n.rfind("linked_", 0) == 0) return nlohmann::json::array({"linked", n.substr(7)});
    if (n.rfind("r_", 0) == 0) return nlohmann::json::array({"reg", n.substr(2)});
    if (n.rfind("f_", 0) == 0) return nlohmann::json::array({"flag", n.substr(2)});
    if (n.rfind("c_", 0) == 0) return nlohmann::json::array({e.is_bool() ? "capflag" : "cap", n.substr(2)});
    return make_error("the update reads " + n + ", which the runtime cannot provide");
  }
  if (!e.is_app()) return make_error("unsupported term in an update: " + e.to_string());
  if (e.decl().decl_kind() == Z3_OP_UNINTERPRETED && e.num_args() == 1) {
    unsigned bits = e.get_sort().bv_size();
    if (e.decl().name().str() == UpdateVars::load(bits)) {
      KX_ASSIGN(addr, to_update_expr(e.arg(0)));
      return nlohmann::json::array({"load", bits, addr});
    }
  }
  if (e.decl().decl_kind() == Z3_OP_SELECT)
    return make_error("the update reads memory the span itself wrote (a load after a store)");
  std::vector<nlohmann::json> args;
  for (unsigned i = 0; i < e.num_args(); ++i) {
    KX_ASSIGN(a, to_update_expr(e.arg(i)));
    args.push_back(a);
  }
  unsigned w = e.is_bv() ? e.get_sort().bv_size() : 1;
  if (w > 64) return make_error("an update needs " + std::to_string(w) + "-bit arithmetic (at most 64): " + e.to_string().substr(0, 80));
  switch (e.decl().decl_kind()) {
    case Z3_OP_BADD: return fold("add", w, args);
    case Z3_OP_BSUB: return fold("sub", w, args);
    case Z3_OP_BMUL: return fold("mul", w, args);
    case Z3_OP_BAND: return fold("and", w, args);
    case Z3_OP_BOR: return fold("or", w, args);
    case Z3_OP_BXOR: return fold("xor", w, args);
    case Z3_OP_BNOT: return nlohmann::json::array({"not", w, args[0]});
    case Z3_OP_BNEG: return nlohmann::json::array({"neg", w, args[0]});
    case Z3_OP_BSHL: return nlohmann::json::array({"shl", w, args[0], args[1]});
    case Z3_OP_BLSHR: return nlohmann::json::array({"lshr", w, args[0], args[1]});
    case Z3_OP_BASHR: return nlohmann::json::array({"ashr", w, args[0], args[1]});
    // Division and remainder (operation templates, synth/op_template.h).
    // The _I forms are Z3's "divisor known non-zero" variants; the language
    // gives a zero divisor SMT-LIB's meaning either way, so both map alike.
    case Z3_OP_BUDIV: case Z3_OP_BUDIV_I: return nlohmann::json::array({"udiv", w, args[0], args[1]});
    case Z3_OP_BUREM: case Z3_OP_BUREM_I: return nlohmann::json::array({"urem", w, args[0], args[1]});
    case Z3_OP_BSDIV: case Z3_OP_BSDIV_I: return nlohmann::json::array({"sdiv", w, args[0], args[1]});
    case Z3_OP_BSREM: case Z3_OP_BSREM_I: return nlohmann::json::array({"srem", w, args[0], args[1]});
    case Z3_OP_EXTRACT:
      return nlohmann::json::array({"extract", e.hi(), e.lo(), args[0]});
    case Z3_OP_ZERO_EXT: return nlohmann::json::array({"zext", w, args[0]});
    case Z3_OP_SIGN_EXT: return nlohmann::json::array({"sext", w, args[0]});
    case Z3_OP_CONCAT: {
      // n-ary: fold from the right, widths accumulate.
      nlohmann::json acc = args.back();
      unsigned accw = e.arg(e.num_args() - 1).get_sort().bv_size();
      for (int i = static_cast<int>(args.size()) - 2; i >= 0; --i) {
        accw += e.arg(i).get_sort().bv_size();
        acc = nlohmann::json::array({"concat", accw, args[i], acc});
      }
      return acc;
    }
    case Z3_OP_ITE: return nlohmann::json::array({"ite", w, args[0], args[1], args[2]});
    case Z3_OP_EQ: return nlohmann::json::array({"eq", args[0], args[1]});
    case Z3_OP_DISTINCT: return nlohmann::json::array({"bnot", nlohmann::json::array({"eq", args[0], args[1]})});
    case Z3_OP_ULT: return nlohmann::json::array({"ult", args[0], args[1]});
    case Z3_OP_ULEQ: return nlohmann::json::array({"ule", args[0], args[1]});
    case Z3_OP_UGT: return nlohmann::json::array({"ult", args[1], args[0]});
    case Z3_OP_UGEQ: return nlohmann::json::array({"ule", args[1], args[0]});
    case Z3_OP_SLT: return nlohmann::json::array({"slt", args[0], args[1]});
    case Z3_OP_SLEQ: return nlohmann::json::array({"sle", args[0], args[1]});
    case Z3_OP_SGT: return nlohmann::json::array({"slt", args[1], args[0]});
    case Z3_OP_SGEQ: return nlohmann::json::array({"sle", args[1], args[0]});
    case Z3_OP_AND: return fold("band", 1, args);
    case Z3_OP_OR: return fold("bor", 1, args);
    case Z3_OP_XOR: return fold("bxor", 1, args);
    case Z3_OP_NOT: return nlohmann::json::array({"bnot", args[0]});
    default: break;
  }
  return make_error("operation " + e.decl().name().str() + " is outside the update language");
}

Result<z3::expr> from_update_expr(z3::context &c, const nlohmann::json &j, const std::map<std::string, z3::expr> &vars) {
  if (!j.is_array() || j.empty() || !j[0].is_string()) return make_error("malformed update expression");
  std::string op = j[0];
  auto sub = [&](size_t i) { return from_update_expr(c, j.at(i), vars); };
  auto var = [&](const std::string &name) -> Result<z3::expr> {
    auto it = vars.find(name);
    if (it == vars.end()) return make_error("unbound update variable " + name);
    return it->second;
  };
  if (op == "const")
    return c.bv_val(static_cast<uint64_t>(std::stoull(j[2].get<std::string>(), nullptr, 16)), j[1].get<unsigned>());
  if (op == "true") return c.bool_val(true);
  if (op == "false") return c.bool_val(false);
  if (op == "v") return var(UpdateVars::kValue);
  if (op == "gsbase") return var(UpdateVars::kGsBase);
  if (op == "linked") {
    uint64_t offset = 0;
    try {
      offset = std::stoull(j.at(1).get<std::string>(), nullptr, 16);
    } catch (const std::exception &) {
      return make_error("malformed linked address " + j.dump());
    }
    return c.bv_const(linked_symbol(offset).c_str(), 64);
  };
  if (op == "load") {
    // The bytes of the memory at the probe, little-endian, as the span reads them.
    unsigned bits = j.at(1).get<unsigned>();
    if (bits != 8 && bits != 16 && bits != 32 && bits != 64) return make_error("a load of " + std::to_string(bits) + " bits");
    KX_ASSIGN(mem, var(UpdateVars::kMemory));
    KX_ASSIGN(addr, sub(2));
    z3::expr v = z3::select(mem, addr);
    for (unsigned i = 1; i < bits / 8; ++i) v = z3::concat(z3::select(mem, addr + c.bv_val(i, 64)), v);
    return v;
  }
  if (op == "reg") return var(UpdateVars::reg(j[1]));
  if (op == "flag") return var(UpdateVars::flag(j[1]));
  if (op == "cap" || op == "capflag") return var(UpdateVars::cap(j[1]));
  if (op == "extract") {
    KX_ASSIGN(a, sub(3));
    return a.extract(j[1].get<unsigned>(), j[2].get<unsigned>());
  }
  if (op == "bnot") {
    KX_ASSIGN(a, sub(1));
    return !a;
  }
  if (op == "eq" || op == "ult" || op == "ule" || op == "slt" || op == "sle") {
    KX_ASSIGN(a, sub(1));
    KX_ASSIGN(b, sub(2));
    if (op == "eq") return a == b;
    if (op == "ult") return z3::ult(a, b);
    if (op == "ule") return z3::ule(a, b);
    if (op == "slt") return a < b;
    return a <= b;
  }
  unsigned w = j.at(1).get<unsigned>();
  KX_ASSIGN(a, sub(2));
  if (op == "not") return ~a;
  if (op == "neg") return -a;
  if (op == "zext") return z3::zext(a, w - a.get_sort().bv_size());
  if (op == "sext") return z3::sext(a, w - a.get_sort().bv_size());
  KX_ASSIGN(b, sub(3));
  if (op == "add") return a + b;
  if (op == "sub") return a - b;
  if (op == "mul") return a * b;
  if (op == "and") return a & b;
  if (op == "or") return a | b;
  if (op == "xor") return a ^ b;
  if (op == "shl") return z3::shl(a, b);
  if (op == "lshr") return z3::lshr(a, b);
  if (op == "ashr") return z3::ashr(a, b);
  if (op == "udiv") return z3::udiv(a, b);
  if (op == "urem") return z3::urem(a, b);
  if (op == "sdiv") return a / b;  // bvsdiv
  if (op == "srem") return z3::srem(a, b);
  if (op == "concat") return z3::concat(a, b);
  if (op == "band") return a && b;
  if (op == "bor") return a || b;
  if (op == "bxor") return a != b;
  if (op == "ite") {
    KX_ASSIGN(e, sub(4));
    return z3::ite(a, b, e);
  }
  return make_error("unknown update operation " + op);
}

// Widths: every bit-vector node carries its own; booleans are 0/1.
static Result<uint64_t> eval(const nlohmann::json &j, const ConcreteEnv &env, unsigned &w_out) {
  std::string op = j.at(0);
  auto sub = [&](size_t i, unsigned &w) { return eval(j.at(i), env, w); };
  unsigned wa = 0, wb = 0, wc = 0;
  if (op == "const") {
    w_out = j[1];
    return std::stoull(j[2].get<std::string>(), nullptr, 16) & mask(w_out);
  }
  if (op == "true" || op == "false") {
    w_out = 1;
    return op == "true" ? 1 : 0;
  }
  if (op == "v" || op == "reg" || op == "cap") {
    w_out = 64;
    if (op == "v") return env.v;
    auto &m = op == "reg" ? env.regs : env.caps;
    auto it = m.find(j[1]);
    if (it == m.end()) return make_error("no value for " + op + " " + j[1].get<std::string>());
    return it->second;
  }
  if (op == "gsbase") {
    w_out = 64;
    return env.gs_base;
  }
  if (op == "linked") {
    w_out = 64;
    auto it = env.linked.find(j.at(1).get<std::string>());
    if (it == env.linked.end()) return make_error("no linked address for the instruction at " + j[1].get<std::string>());
    return it->second;
  }
  if (op == "load") {
    KX_ASSIGN(addr, sub(2, wa));
    w_out = j.at(1);
    if (!env.load) return make_error("the update reads memory, and there is none");
    auto v = env.load(addr, w_out / 8);
    if (!v) return make_error("the update's read of " + std::to_string(w_out / 8) + " bytes at " + hex(addr) + " faulted");
    return *v & mask(w_out);
  }
  if (op == "flag" || op == "capflag") {
    w_out = 1;
    auto &m = op == "flag" ? env.flags : env.capflags;
    auto it = m.find(j[1]);
    if (it == m.end()) return make_error("no value for " + op + " " + j[1].get<std::string>());
    return it->second ? 1 : 0;
  }
  if (op == "extract") {
    KX_ASSIGN(a, sub(3, wa));
    unsigned hi = j[1], lo = j[2];
    w_out = hi - lo + 1;
    return (a >> lo) & mask(w_out);
  }
  if (op == "bnot") {
    KX_ASSIGN(a, sub(1, wa));
    w_out = 1;
    return a ^ 1;
  }
  if (op == "eq" || op == "ult" || op == "ule" || op == "slt" || op == "sle") {
    KX_ASSIGN(a, sub(1, wa));
    KX_ASSIGN(b, sub(2, wb));
    w_out = 1;
    if (op == "eq") return a == b;
    if (op == "ult") return a < b;
    if (op == "ule") return a <= b;
    if (op == "slt") return signed_of(a, wa) < signed_of(b, wb);
    return signed_of(a, wa) <= signed_of(b, wb);
  }
  unsigned w = j.at(1);
  w_out = w;
  KX_ASSIGN(a, sub(2, wa));
  if (op == "not") return ~a & mask(w);
  if (op == "neg") return (0 - a) & mask(w);
  if (op == "zext") return a & mask(w);
  if (op == "sext") return static_cast<uint64_t>(signed_of(a, wa)) & mask(w);
  KX_ASSIGN(b, sub(3, wb));
  if (op == "add") return (a + b) & mask(w);
  if (op == "sub") return (a - b) & mask(w);
  if (op == "mul") return (a * b) & mask(w);
  if (op == "and") return a & b & mask(w);
  if (op == "or") return (a | b) & mask(w);
  if (op == "xor") return (a ^ b) & mask(w);
  if (op == "shl") return b >= w ? 0 : (a << b) & mask(w);
  if (op == "lshr") return b >= w ? 0 : (a >> b) & mask(w);
  if (op == "ashr") return static_cast<uint64_t>(signed_of(a, w) >> (b >= w ? w - 1 : b)) & mask(w);
  // SMT-LIB semantics, as Z3 proves them: x/0 is all ones (unsigned) or
  // -1/1 by the dividend's sign (signed), x%0 is x, and the one signed
  // overflow, MIN/-1, wraps to MIN. The kernel module computes the same
  // without trapping (kmod/x_sie_update.c).
  if (op == "udiv") return b == 0 ? mask(w) : (a / b) & mask(w);
  if (op == "urem") return b == 0 ? a & mask(w) : (a % b) & mask(w);
  if (op == "sdiv" || op == "srem") {
    int64_t sa = signed_of(a, w), sb = signed_of(b, w);
    if (sb == 0) return op == "sdiv" ? (sa < 0 ? 1 : mask(w)) : a & mask(w);
    if (sb == -1) return op == "sdiv" ? (0 - a) & mask(w) : 0;  // no MIN/-1 trap
    return static_cast<uint64_t>(op == "sdiv" ? sa / sb : sa % sb) & mask(w);
  }
  if (op == "concat") return ((a << wb) | b) & mask(w);
  if (op == "band") return a & b;
  if (op == "bor") return a | b;
  if (op == "bxor") return a ^ b;
  if (op == "ite") {
    KX_ASSIGN(c, sub(4, wc));
    return a ? b : c;
  }
  return make_error("unknown update operation " + op);
}

Result<uint64_t> evaluate_update_expr(const nlohmann::json &j, const ConcreteEnv &env) {
  unsigned w = 0;
  return eval(j, env, w);
}

}  // namespace kx
