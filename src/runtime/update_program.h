// Compiles a critical span's update (the update language of
// synth/update_expr.h, as `kx build --json` reports it) into the bounded
// program x-sie.ko runs in its kprobe handler (kmod/x_sie_uapi.h). Equal
// subterms become one node, so the flag updates, which repeat the value
// computation once per flag, stay small.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "util/result.h"
#include "x_sie_uapi.h"

namespace kx {

// Register index (x86 encoding order) of "rax" … "r15".
std::optional<unsigned> update_register(const std::string &name);
// EFLAGS bit of "cf", "pf", "af", "zf", "sf", "of".
std::optional<unsigned> update_flag(const std::string &name);

// `update` is {"captures": [...], "assign": [{"dest", "expr"}]}; a dual span
// has a capture site, the others must capture nothing. The result has passed
// the module's own check (x_sie_prog_check).
Result<x_sie_prog> compile_update(const nlohmann::json &update, bool has_capture);

}  // namespace kx
