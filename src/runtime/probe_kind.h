// Which kind of kprobe the kernel will make of a probe x-sie.ko registers:
// a 5-byte relative jump to an out-of-line buffer (jump-optimized) or a
// breakpoint (int3). x-sie.ko's kprobes have pre-handlers only, so the
// kernel tries to optimize every one; whether it can is decided by the code
// around the probe, by the rules of Linux 6.1's x86 optprobes
// (arch/x86/kernel/kprobes/opt.c: can_optimize(), insn_is_indirect_jump(),
// insn_jump_into_range(), copy_optimized_instructions(); core.c:
// can_boost(), __copy_instruction()). Those rules are the rows of
// probe_rules(); the prediction is the first row that refuses.
//
// Not seen here (the kernel also refuses for them; kx status shows the
// outcome): another kprobe within the 5 bytes, entry text, lock prefixes
// of a kernel booted on one CPU (alternatives_text_reserved), and
// debug.kprobes-optimization=0.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kx {

// A rule of the kernel's that makes a probe an int3 probe.
struct ProbeRule {
  const char *name;  // stable, in the dry run's JSON
  const char *why;   // for people, with the kernel function it comes from
};

// Every rule, in the order they are checked.
const std::vector<ProbeRule> &probe_rules();

struct ProbePrediction {
  bool optimized = false;
  std::string rule;    // the refusing rule's name ("" when optimized)
  std::string detail;  // where: the instruction or jump that trips it
  std::string kind() const { return optimized ? "jump-optimized" : "int3"; }
};

// Code the kernel patches at run time, which an optimized probe may not
// cover (copy_optimized_instructions: jump_label_text_reserved,
// static_call_text_reserved, ftrace_text_reserved).
struct ReservedSite {
  uint64_t addr = 0;
  uint8_t size = 0;
  std::string what;  // "jump label", "static call", "ftrace"
};

// The code of the function holding a probe, as the running kernel has it.
struct FunctionCode {
  uint64_t start = 0;
  std::vector<uint8_t> bytes;
  // Instructions with an exception-table entry (a fault there is fixed up).
  std::vector<uint64_t> extable = {};
  std::vector<ReservedSite> reserved = {};
};

// [start, end) of the retpoline thunks (__indirect_thunk_start/_end): a
// jump there is an indirect jump. {0, 0} when unknown.
struct ThunkRange {
  uint64_t start = 0, end = 0;
};

// The live code of a function from its link-time code where the kernel
// patched its return thunks out at boot (apply_returns() without
// X86_FEATURE_RETHUNK): each `jmp __x86_return_thunk` becomes ret; int3...
// Where the thunks stay (retbleed "untrained return thunk", SRSO "Safe RET",
// ITS "Aligned branch/return thunks") the jump stays, and as it lands in the
// retpoline thunks' range (6.1's linker script puts the return thunk there)
// no probe in the function is optimized.
FunctionCode patch_returns(FunctionCode fn, uint64_t return_thunk);

ProbePrediction predict_probe_kind(const FunctionCode &fn, uint64_t probe, ThunkRange thunks = {});

}  // namespace kx
