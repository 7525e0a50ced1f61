// From analysed consts (the reports `kx build --json` prints and the scope
// table stores) and the values asked for, to the transaction x-sie.ko loads
// (paper §3.6): per const its value, per critical span the runtime address of
// its probe (and capture) with the instruction bytes expected there, and its
// update compiled to the module's program. Everything that can be refused is
// refused here, before the kernel is touched.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/probe_kind.h"
#include "util/result.h"
#include "x_sie_uapi.h"

namespace kx {

// A place in code that KASLR's boot-time relocation moves: the `width`-byte
// little-endian value at `offset` gains `sign`·slide.
struct SlideFixup {
  uint32_t offset = 0;  // from the start of the bytes it belongs to
  uint8_t width = 0;
  int8_t sign = 1;
};

// `bytes` as the running kernel has them once KASLR moved it by `slide`.
std::vector<uint8_t> apply_slide(std::vector<uint8_t> bytes, const std::vector<SlideFixup> &fixups, uint64_t slide);

// The code of the analysed kernel, at link addresses.
class KernelImage {
 public:
  virtual ~KernelImage() = default;
  // Start address of function `fn` that contains `addr`.
  virtual Result<uint64_t> function_start(const std::string &fn, uint64_t addr) const = 0;
  // Up to `len` bytes at `addr`, not beyond the end of the function holding it.
  virtual Result<std::vector<uint8_t>> code(const std::string &fn, uint64_t addr, size_t len) const = 0;
  // Link address of a symbol the kernel patches call sites of (e.g. __x86_return_thunk).
  virtual std::optional<uint64_t> symbol(const std::string &) const { return std::nullopt; }
  // The bytes the running kernel has at `addr` once KASLR moved it by
  // `slide`: absolute addresses in instructions are relocated at boot.
  virtual Result<std::vector<uint8_t>> live_code(const std::string &fn, uint64_t addr, size_t len,
                                                 uint64_t /*slide*/) const {
    return code(fn, addr, len);
  }
  // Instructions of `fn` from `addr` on (up to `len` bytes) that have an
  // exception-table entry: the kprobe optimizer leaves such functions alone.
  virtual Result<std::vector<uint64_t>> exception_sites(const std::string &, uint64_t, size_t) const {
    return std::vector<uint64_t>{};
  }
  // Sites in `fn` from `addr` on (up to `len` bytes) the kernel patches at
  // run time: jump labels, static calls, ftrace's call sites.
  virtual Result<std::vector<ReservedSite>> reserved_sites(const std::string &, uint64_t, size_t) const {
    return std::vector<ReservedSite>{};
  }
  // What KASLR relocates in the code of `fn` from `addr` on (up to `len`
  // bytes): what live_code applies, for images carried elsewhere (bundles).
  virtual Result<std::vector<SlideFixup>> slide_fixups(const std::string &, uint64_t, size_t) const {
    return std::vector<SlideFixup>{};
  }
};

// The debug vmlinux as a KernelImage.
class VmlinuxImage : public KernelImage {
 public:
  static Result<std::unique_ptr<VmlinuxImage>> open(const std::filesystem::path &vmlinux);
  ~VmlinuxImage() override;
  Result<uint64_t> function_start(const std::string &fn, uint64_t addr) const override;
  Result<std::vector<uint8_t>> code(const std::string &fn, uint64_t addr, size_t len) const override;
  std::optional<uint64_t> symbol(const std::string &name) const override;
  Result<std::vector<uint8_t>> live_code(const std::string &fn, uint64_t addr, size_t len,
                                         uint64_t slide) const override;
  std::string build_id() const;
  uint64_t text_base() const;  // link address of _text
  Result<std::vector<SlideFixup>> slide_fixups(const std::string &fn, uint64_t addr, size_t len) const override;
  Result<std::vector<uint64_t>> exception_sites(const std::string &fn, uint64_t addr, size_t len) const override;
  Result<std::vector<ReservedSite>> reserved_sites(const std::string &fn, uint64_t addr, size_t len) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ConstRequest {
  nlohmann::json report;  // one const, as `kx build --json` prints it
  int64_t value = 0;      // V, or T itself when the relation is non-linear
  // An X-tune policy picks the value instead (loaded BPF program and its
  // x_sie_slot map); the module checks what it picks against the proofs.
  int policy_fd = -1, slot_fd = -1;
  // A plain value may take the static path where a span allows it
  // (static_patch.h); false keeps every span on its kprobe.
  bool static_path = true;
};

// How the consts switch (paper §3.6): the stronger default waits until no
// task is inside a safe span; per-thread lets each task switch at its next
// outermost safe-span entry as well; immediate ignores safe spans.
enum class TransitionMode { global, per_thread, immediate };
Result<TransitionMode> parse_transition_mode(const std::string &s);
const char *transition_mode_name(uint32_t uapi_transition);

struct PlannedSpan {
  std::string label;  // function+0xoff of the probe
  std::string kind;
  uint64_t probe = 0, capture = 0;  // runtime addresses (capture 0: none)
  std::string static_why;           // why the span stays on its probe (static_patch.h), if it does
};

struct Transaction {
  std::vector<x_sie_const> consts;
  std::vector<x_sie_span> spans;
  std::vector<PlannedSpan> planned;  // parallel to spans
  std::vector<x_sie_ss> safe_spans;  // their monitors (none when immediate)
  uint32_t transition = X_SIE_TRANS_GLOBAL;
  std::string build_id;              // of the kernel it was planned for (hex); x-sie.ko checks it
  // The kprobe kind the kernel is predicted to make at each probe, capture
  // and monitor (runtime address): dry runs print it (runtime/probe_kind.h).
  std::map<uint64_t, ProbePrediction> predicted;
  bool return_thunks = false;  // what the predictions assumed
  std::vector<std::string> notes;    // for the user (e.g. "the value is T")
};

// Refuses: an untunable const, a span not proved, a value outside a span's
// proven range, a report for another kernel build than `running_build_id`,
// a const named twice, a probed address whose code is not where the report
// says, a dual span that moves the stack pointer between its capture and
// its update (captures are matched by frame), and, unless immediate, a const
// without safe spans or with one the monitors cannot cover (no exit, too
// many exits or ranges, a point that is not probe-able).
// `return_thunks`: whether the kernel runs with its return thunks (see
// patch_returns), for the predicted probe kinds.
Result<Transaction> plan_transaction(const std::vector<ConstRequest> &consts, const KernelImage &image,
                                     const std::string &running_build_id, uint64_t slide,
                                     TransitionMode mode = TransitionMode::global, bool return_thunks = false);

// kx set/load --dry-run: what x-sie.ko would be given, for people: per
// const its value (or policy), compiled value and proven range; per critical
// span its label, kind, probe (and capture) address and instruction; per
// safe span the monitored entry and exits; per probe the predicted kprobe
// kind (jump-optimized or int3, and the kernel's rule when int3); the
// transition and the notes.
nlohmann::json plan_json(const Transaction &t, uint64_t slide);

// Length of the x86-64 instruction at the start of `code`.
Result<size_t> instruction_length(const std::vector<uint8_t> &code);

}  // namespace kx
