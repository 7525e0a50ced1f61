// The static path (issue 17, beyond the paper): for a plain value, a
// critical span that is one instruction carrying its seed as an immediate
// can be rewritten in place — the same instruction with T' = f(V') as its
// immediate — once every task runs V', and its update probe removed: no cost
// per execution. x-sie.ko does the rewrite (kmod/x_sie_static.c); this
// decides where it is offered and computes the bytes.
//
// Why it means "compiled with V'": the analysis lifted this instruction with
// its immediate as T = f(V), proved the update equal to that lifted span at
// V', and its cross builds show the compiler emits this instruction with
// T = f(V) across the proven range. The patch is that instruction with T'
// in the same encoding (same length, opcode, operands); where T' does not
// fit the encoding (an imm8 for 200), the compiler would emit other bytes,
// and the span stays on its probe.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "runtime/transaction.h"
#include "x_sie_uapi.h"

namespace kx {

// The patch for `span` (a critical span of `report`) at `value` (V, or T
// itself for a const whose relation is non-linear), or the reason there is
// none, for the dry run.
struct StaticPlan {
  x_sie_patch patch{};  // len 0: none
  std::string why_not;
};
StaticPlan plan_static_patch(const nlohmann::json &report, const nlohmann::json &span, int64_t value,
                             const KernelImage &image, uint64_t slide);

}  // namespace kx
