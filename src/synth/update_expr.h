// The small, explicit, side-effect-free language updates are written in
// (paper §3.4: the {location, update} pairs). The runtime module evaluates
// it in a kprobe handler, so it has no loops, no calls and no memory reads:
// only the probed task's registers and flags, values captured at the start
// of the span, the new value V and constants, combined by bit-vector
// operations of at most 64 bits.
//
// Serialized as JSON, prefix form: ["add", 32, A, B], ["reg", "rax"],
// ["flag", "cf"], ["cap", "rax"], ["capflag", "cf"], ["v"],
// ["const", 32, "0xffffffe0"], …
#pragma once
#include <z3++.h>

#include <map>
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
};
Result<uint64_t> evaluate_update_expr(const nlohmann::json &j, const ConcreteEnv &env);

}  // namespace kx
