// Compiles a critical span's update (the update language of
// synth/update_expr.h, as `kx build --json` reports it) into the bounded
// program x-sie.ko runs in its kprobe handler (kmod/x_sie_uapi.h). Equal
// subterms become one node, so the flag updates, which repeat the value
// computation once per flag, stay small.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>

#include "util/result.h"
#include "x_sie_uapi.h"

namespace kx {

// Register index (x86 encoding order) of "rax" … "r15".
std::optional<unsigned> update_register(const std::string &name);
// EFLAGS bit of "cf", "pf", "af", "zf", "sf", "of".
std::optional<unsigned> update_flag(const std::string &name);

// The linked part of the address of the memory operand of the instruction
// whose bytes (as the running kernel has them: KASLR-relocated) start
// `code`, at runtime address `addr`: a rip-relative operand's target, else
// its displacement, sign-extended.
Result<uint64_t> linked_address(std::span<const uint8_t> code, uint64_t addr);

// The update with every ["linked", "0x…"] (synth/update_expr.h) replaced by
// the 64-bit constant `resolve` gives for that function offset.
Result<nlohmann::json> resolve_linked(const nlohmann::json &update,
                                      const std::function<Result<uint64_t>(uint64_t offset)> &resolve);

// `update` is {"captures": [...], "assign": [{"dest", "expr"}]}; a dual span
// has a capture site, the others must capture nothing. The result has passed
// the module's own check (x_sie_prog_check).
Result<x_sie_prog> compile_update(const nlohmann::json &update, bool has_capture);

}  // namespace kx
