// The small, explicit, side-effect-free language updates are written in
// (paper §3.4: the {location, update} pairs). The runtime module evaluates
// it in a kprobe handler, so it has no loops and no calls: only the probed
// task's registers and flags, values captured at the start of the span, the
// new value V and constants, combined by bit-vector operations of at most
// 64 bits — and the memory the span itself reads (a span that compares a
// struct field with the constant): ["load", 32, ADDR] reads 4 bytes, once,
// at an address over the task's registers, the CPU's per-CPU base
// ["gsbase"] (what %gs: adds) and ["linked", "0x1c"], the part of the
// address of the memory operand of the instruction at that offset of the
// span's function the linker fills in — a rip-relative operand's target, a
// relocated displacement — resolved when a transaction is planned, from the
// linked kernel, KASLR slide included.
//
// Serialized as JSON, prefix form: ["add", 32, A, B], ["reg", "rax"],
// ["flag", "cf"], ["cap", "rax"], ["capflag", "cf"], ["v"],
// ["const", 32, "0xffffffe0"], ["udiv", 32, A, B] (udiv/urem/sdiv/srem
// with SMT-LIB's meaning: never a trap, x/0 and MIN/-1 are defined), …
#pragma once
#include <z3++.h>

#include <functional>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/result.h"

namespace kx {

// Names the variables of an update: a Z3 constant named r_<reg>/f_<flag>
// reads the task's current state, c_<reg> a captured register, and V the
// new value.
struct UpdateVars {
  static std::string reg(const std::string &name) { return "r_" + name; }
  static std::string flag(const std::string &name) { return "f_" + name; }
  static std::string cap(const std::string &name) { return "c_" + name; }
  static constexpr const char *kValue = "V";
  // The per-CPU base at the probe, and the memory there (an array of bytes).
  static constexpr const char *kGsBase = "gsbase";
  static constexpr const char *kMemory = "M";
  // A span's memory read, as synthesis sees it: load_<bits>(address), an
  // uninterpreted function (proofs read the bytes of kMemory instead).
  static std::string load(unsigned bits);
  // The linked part of the address of the memory operand of the instruction
  // at function offset `offset`: a symbol, since objects are not linked yet.
  static std::string linked(uint64_t offset);
};

// Translates a simplified Z3 term into the update language; an error names
// the first operation outside it.
Result<nlohmann::json> to_update_expr(const z3::expr &e);

// Rebuilds a Z3 term from the update language (for proofs of stored
// updates and for tests).
Result<z3::expr> from_update_expr(z3::context &c, const nlohmann::json &j,
                                  const std::map<std::string, z3::expr> &vars);

// Evaluates the update language on concrete values, exactly as the runtime
// module does (u64 arithmetic, masked to each node's width).
struct ConcreteEnv {
  std::map<std::string, uint64_t> regs;   // "rax" -> value
  std::map<std::string, bool> flags;      // "cf" -> value
  std::map<std::string, uint64_t> caps;   // "rax" -> captured value
  std::map<std::string, bool> capflags;   // "cf" -> captured flag
  uint64_t v = 0;
  uint64_t gs_base = 0;
  std::map<std::string, uint64_t> linked;  // "0x1c" -> the linked part of its address
  // Reads `bytes` bytes at an address (little-endian); empty when the read
  // faults, and then the update must not run (the evaluation fails).
  std::function<std::optional<uint64_t>(uint64_t addr, unsigned bytes)> load;
};
Result<uint64_t> evaluate_update_expr(const nlohmann::json &j, const ConcreteEnv &env);

}  // namespace kx
