// Reading the guest kernel's console log: the command's exit status that
// stage 2 reports there, and any WARN/BUG/oops/panic with its trace.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace kx {

struct KernelFault {
  std::string kind;   // "WARNING", "BUG", "Oops", "panic", "general protection fault"
  std::string trace;  // the report, from its first line to its end marker
};

struct ConsoleReport {
  std::optional<int> exit_code;      // from "kx-lab-exit=N"
  std::vector<KernelFault> faults;
  std::vector<std::string> lab_messages;  // "kx-lab: …" lines from the guest scripts
};

ConsoleReport scan_console(const std::string &log);

}  // namespace kx
