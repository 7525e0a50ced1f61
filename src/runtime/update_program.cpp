#include "runtime/update_program.h"

#include <Zydis/Zydis.h>

#include <map>

#include "binary/disasm.h"
#include "util/hex.h"
#include "x_sie_update.h"

namespace kx {

namespace {

const char *const kRegs[X_SIE_NR_REGS] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                          "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

const std::map<std::string, unsigned> kFlags = {{"cf", X_SIE_FLAG_CF}, {"pf", X_SIE_FLAG_PF},
                                                {"af", X_SIE_FLAG_AF}, {"zf", X_SIE_FLAG_ZF},
                                                {"sf", X_SIE_FLAG_SF}, {"of", X_SIE_FLAG_OF}};

const std::map<std::string, uint8_t> kUnary = {{"not", X_SIE_OP_NOT}, {"neg", X_SIE_OP_NEG},
                                               {"zext", X_SIE_OP_ZEXT}, {"sext", X_SIE_OP_SEXT}};

const std::map<std::string, uint8_t> kBinary = {
    {"add", X_SIE_OP_ADD},   {"sub", X_SIE_OP_SUB},   {"mul", X_SIE_OP_MUL},       {"and", X_SIE_OP_AND},
    {"or", X_SIE_OP_OR},     {"xor", X_SIE_OP_XOR},   {"shl", X_SIE_OP_SHL},       {"lshr", X_SIE_OP_LSHR},
    {"ashr", X_SIE_OP_ASHR}, {"concat", X_SIE_OP_CONCAT}, {"band", X_SIE_OP_BAND}, {"bor", X_SIE_OP_BOR},
    {"bxor", X_SIE_OP_BXOR}, {"udiv", X_SIE_OP_UDIV}, {"urem", X_SIE_OP_UREM},   {"sdiv", X_SIE_OP_SDIV},
    {"srem", X_SIE_OP_SREM}};

const std::map<std::string, uint8_t> kCompare = {{"eq", X_SIE_OP_EQ},
                                                 {"ult", X_SIE_OP_ULT},
                                                 {"ule", X_SIE_OP_ULE},
                                                 {"slt", X_SIE_OP_SLT},
                                                 {"sle", X_SIE_OP_SLE}};

uint64_t mask(unsigned w) { return w >= 64 ? ~0ull : ((1ull << w) - 1); }

class Compiler {
 public:
  explicit Compiler(x_sie_prog &p) : p_(p) {}

  Result<uint8_t> node(const nlohmann::json &j) {
    if (!j.is_array() || j.empty() || !j[0].is_string()) return make_error("malformed expression " + brief(j));
    std::string key = j.dump();
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    KX_ASSIGN(n, build(j));
    if (p_.n_nodes >= X_SIE_MAX_NODES)
      return make_error("more than " + std::to_string(X_SIE_MAX_NODES) + " distinct subterms");
    uint8_t index = static_cast<uint8_t>(p_.n_nodes);
    p_.nodes[p_.n_nodes++] = n;
    memo_[key] = index;
    return index;
  }

 private:
  static std::string brief(const nlohmann::json &j) { return j.dump().substr(0, 60); }

  Result<unsigned> width_field(const nlohmann::json &j) {
    if (j.size() < 2 || !j[1].is_number_integer() || j[1].get<int64_t>() < 1 || j[1].get<int64_t>() > 64)
      return make_error("width outside 1..64 in " + brief(j));
    return static_cast<unsigned>(j[1].get<int64_t>());
  }

  Result<uint8_t> operand(const nlohmann::json &j, size_t i) {
    if (j.size() <= i) return make_error("missing operand in " + brief(j));
    return node(j[i]);
  }

  Result<x_sie_node> build(const nlohmann::json &j) {
    const std::string op = j[0];
    x_sie_node n{};
    if (op == "const") {
      KX_ASSIGN(w, width_field(j));
      if (j.size() != 3 || !j[2].is_string()) return make_error("malformed const " + brief(j));
      uint64_t v = 0;
      try {
        v = std::stoull(j[2].get<std::string>(), nullptr, 16);
      } catch (const std::exception &) {
        return make_error("malformed const " + brief(j));
      }
      n.op = X_SIE_OP_CONST, n.width = w, n.imm = v & mask(w);
      return n;
    }
    if (op == "true" || op == "false") {
      n.op = X_SIE_OP_CONST, n.width = 1, n.imm = op == "true";
      return n;
    }
    if (op == "v" || op == "gsbase") {
      n.op = op == "v" ? X_SIE_OP_V : X_SIE_OP_GSBASE, n.width = 64;
      return n;
    }
    if (op == "load") {
      KX_ASSIGN(w, width_field(j));
      if (w != 8 && w != 16 && w != 32 && w != 64) return make_error("a load of " + std::to_string(w) + " bits");
      KX_ASSIGN(a, operand(j, 2));
      n.op = X_SIE_OP_LOAD, n.width = w, n.a = a;
      return n;
    }
    if (op == "linked") return make_error("the update's linked address " + brief(j) + " was not resolved");
    if (op == "reg" || op == "cap" || op == "flag" || op == "capflag") {
      if (j.size() != 2 || !j[1].is_string()) return make_error("malformed " + brief(j));
      std::string name = j[1];
      bool is_flag = op == "flag" || op == "capflag";
      auto idx = is_flag ? update_flag(name) : update_register(name);
      if (!idx) return make_error("the update reads " + name + ", which is not a " + (is_flag ? "flag" : "register") +
                                  " it may read");
      n.op = op == "reg" ? X_SIE_OP_REG : op == "cap" ? X_SIE_OP_CAP : op == "flag" ? X_SIE_OP_FLAG : X_SIE_OP_CAPFLAG;
      n.width = is_flag ? 1 : 64, n.arg = *idx;
      return n;
    }
    if (op == "extract") {
      if (j.size() != 4 || !j[1].is_number_integer() || !j[2].is_number_integer())
        return make_error("malformed extract " + brief(j));
      int64_t hi = j[1], lo = j[2];
      if (lo < 0 || lo > hi || hi > 63)
        return make_error("extract of bits " + std::to_string(lo) + ".." + std::to_string(hi));
      KX_ASSIGN(a, operand(j, 3));
      n.op = X_SIE_OP_EXTRACT, n.width = hi - lo + 1, n.arg = lo, n.a = a;
      return n;
    }
    if (op == "bnot") {
      KX_ASSIGN(a, operand(j, 1));
      n.op = X_SIE_OP_BNOT, n.width = 1, n.a = a;
      return n;
    }
    if (auto it = kCompare.find(op); it != kCompare.end()) {
      KX_ASSIGN(a, operand(j, 1));
      KX_ASSIGN(b, operand(j, 2));
      n.op = it->second, n.width = 1, n.a = a, n.b = b;
      return n;
    }
    KX_ASSIGN(w, width_field(j));
    n.width = w;
    if (auto it = kUnary.find(op); it != kUnary.end()) {
      KX_ASSIGN(a, operand(j, 2));
      n.op = it->second, n.a = a;
      return n;
    }
    if (auto it = kBinary.find(op); it != kBinary.end()) {
      KX_ASSIGN(a, operand(j, 2));
      KX_ASSIGN(b, operand(j, 3));
      n.op = it->second, n.a = a, n.b = b;
      return n;
    }
    if (op == "ite") {
      KX_ASSIGN(c, operand(j, 2));
      KX_ASSIGN(a, operand(j, 3));
      KX_ASSIGN(b, operand(j, 4));
      n.op = X_SIE_OP_ITE, n.a = c, n.b = a, n.c = b;
      return n;
    }
    return make_error("operation " + op + " is outside the update language");
  }

  x_sie_prog &p_;
  std::map<std::string, uint8_t> memo_;
};

}  // namespace

std::optional<unsigned> update_register(const std::string &name) {
  for (unsigned i = 0; i < X_SIE_NR_REGS; ++i)
    if (name == kRegs[i]) return i;
  return std::nullopt;
}

std::optional<unsigned> update_flag(const std::string &name) {
  auto it = kFlags.find(name);
  if (it == kFlags.end()) return std::nullopt;
  return it->second;
}

Result<uint64_t> linked_address(std::span<const uint8_t> code, uint64_t addr) {
  ZydisDecodedInstruction in;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&x86_64_decoder(), code.data(), code.size(), &in, ops)))
    return make_error("no instruction at " + hex(addr));
  for (uint8_t i = 0; i < in.operand_count_visible; ++i) {
    if (ops[i].type != ZYDIS_OPERAND_TYPE_MEMORY) continue;
    const auto &m = ops[i].mem;
    int64_t disp = m.disp.has_displacement ? static_cast<int64_t>(m.disp.value) : 0;
    if (m.base == ZYDIS_REGISTER_RIP) return addr + in.length + static_cast<uint64_t>(disp);
    return static_cast<uint64_t>(disp);
  }
  return make_error("the instruction at " + hex(addr) + " has no memory operand");
}

Result<nlohmann::json> resolve_linked(const nlohmann::json &update,
                                      const std::function<Result<uint64_t>(uint64_t offset)> &resolve) {
  if (update.is_array() && update.size() == 2 && update[0] == "linked" && update[1].is_string()) {
    uint64_t offset = 0;
    try {
      offset = std::stoull(update[1].get<std::string>(), nullptr, 16);
    } catch (const std::exception &) {
      return make_error("malformed linked address " + update.dump());
    }
    KX_ASSIGN(value, resolve(offset));
    return nlohmann::json::array({"const", 64, hex(value)});
  }
  if (!update.is_array() && !update.is_object()) return update;
  nlohmann::json out = update;
  for (auto it = out.begin(); it != out.end(); ++it) {
    KX_ASSIGN(x, resolve_linked(*it, resolve));
    *it = x;
  }
  return out;
}

Result<x_sie_prog> compile_update(const nlohmann::json &update, bool has_capture) {
  x_sie_prog p{};
  if (!update.is_object() || !update.contains("assign") || !update["assign"].is_array())
    return make_error("the update has no assignments");
  for (auto &c : update.value("captures", nlohmann::json::array())) {
    if (!c.is_string()) return make_error("malformed capture list");
    if (auto r = update_register(c)) p.capture_mask |= 1u << *r;
    else if (update_flag(c)) p.capture_mask |= X_SIE_CAPTURE_FLAGS;
    else if (c == "switches") p.capture_mask |= X_SIE_CAPTURE_SWITCHES;
    else return make_error("cannot capture " + c.get<std::string>());
  }
  if (update["assign"].size() > X_SIE_MAX_ASSIGNS)
    return make_error(std::to_string(update["assign"].size()) + " assignments (at most " +
                      std::to_string(X_SIE_MAX_ASSIGNS) + ")");
  Compiler c(p);
  // Values and addresses first, so the assignments index finished nodes.
  for (auto &a : update["assign"]) {
    if (!a.is_object() || !a.contains("dest") || !a.contains("expr")) return make_error("malformed assignment");
    x_sie_assign out{};
    KX_ASSIGN(value, c.node(a["expr"]));
    out.value = value;
    const auto &d = a["dest"];
    if (d.is_string()) {
      std::string name = d;
      if (auto r = update_register(name)) out.dest = X_SIE_DEST_REG, out.index = *r;
      else if (auto f = update_flag(name)) out.dest = X_SIE_DEST_FLAG, out.index = *f;
      else return make_error("the update writes " + name + ", which it may not");
    } else if (d.is_object() && d.contains("mem8")) {
      KX_ASSIGN(addr, c.node(d["mem8"]));
      out.dest = X_SIE_DEST_MEM8, out.addr = addr;
    } else {
      return make_error("malformed destination " + d.dump());
    }
    p.assigns[p.n_assigns++] = out;
  }
  char why[160] = {0};
  if (x_sie_prog_check(&p, has_capture ? 1 : 0, why, sizeof why) != 0)
    return make_error(std::string("the update does not compile to a valid program: ") + why);
  return p;
}

}  // namespace kx
