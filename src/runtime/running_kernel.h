// What user space must know about the running kernel before it names any of
// its addresses: which build it is (the GNU build-id note the kernel
// exports in /sys/kernel/notes) and where KASLR put it (`_text` in
// /proc/kallsyms against the link address of `_text`).
#pragma once
#include <cstdint>
#include <functional>
#include <istream>
#include <string>

#include "util/result.h"

namespace kx {

// The GNU build-id in an ELF note section's raw bytes, as hex.
Result<std::string> build_id_from_notes(const std::string &notes);

// The address of `symbol` in /proc/kallsyms text; an error when the file
// hides addresses (not root, or kptr_restrict).
Result<uint64_t> kallsyms_address(const std::string &kallsyms, const std::string &symbol);
Result<uint64_t> kallsyms_address(std::istream &kallsyms, const std::string &symbol);

// The link address of `_text` on x86-64 when the vmlinux does not say.
inline constexpr uint64_t kDefaultTextBase = 0xffffffff81000000ull;

struct RunningKernel {
  std::string build_id;
  uint64_t slide = 0;  // runtime address = link address + slide
};

// Reads /sys/kernel/notes and /proc/kallsyms; `text_base` is the link
// address of `_text` in the analysed vmlinux.
Result<RunningKernel> inspect_running_kernel(uint64_t text_base = kDefaultTextBase);

// Whether the kernel keeps its return thunks (X86_FEATURE_RETHUNK, which
// /proc/cpuinfo hides), from the mitigations that set it in Linux 6.1's
// bugs.c as sysfs names them: retbleed "untrained return thunk", SRSO "Safe
// RET", ITS "Aligned branch/return thunks". `read(name)` gives the text of
// /sys/devices/system/cpu/vulnerabilities/NAME ("" if absent).
bool return_thunks_in_use(const std::function<std::string(const std::string &)> &read);
bool return_thunks_in_use();  // of this machine

}  // namespace kx
