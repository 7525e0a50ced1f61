#include "lab/console_log.h"

#include <regex>
#include <sstream>

namespace kx {

namespace {

// Strips "[    3.127490] " timestamps so patterns anchor on the message.
std::string message_of(const std::string &line) {
  static const std::regex ts(R"(^\s*\[\s*\d+\.\d+\]\s?)");
  std::string s = std::regex_replace(line, ts, "");
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

// The kinds of report the kernel prints when something is wrong, keyed by
// the first line of each report.
std::optional<std::string> fault_kind(const std::string &msg) {
  if (msg.rfind("WARNING: CPU:", 0) == 0) return "WARNING";
  if (msg.rfind("kernel BUG at", 0) == 0) return "BUG";
  if (msg.rfind("BUG:", 0) == 0 || msg.find(" BUG: ") != std::string::npos) return "BUG";
  if (msg.rfind("Oops:", 0) == 0) return "Oops";
  if (msg.rfind("general protection fault", 0) == 0) return "general protection fault";
  if (msg.rfind("Kernel panic - not syncing", 0) == 0) return "panic";
  return std::nullopt;
}

bool ends_report(const std::string &msg) {
  return msg.rfind("---[ end trace", 0) == 0 || msg.rfind("---[ end Kernel panic", 0) == 0;
}

}  // namespace

ConsoleReport scan_console(const std::string &log) {
  ConsoleReport r;
  std::vector<std::string> lines;
  {
    std::istringstream in(log);
    std::string line;
    while (std::getline(in, line)) lines.push_back(message_of(line));
  }
  static const std::regex exit_re(R"(kx-lab-exit=(\d+))");
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto &msg = lines[i];
    std::smatch m;
    if (std::regex_search(msg, m, exit_re)) {
      r.exit_code = std::stoi(m[1]);
      continue;
    }
    if (msg.rfind("kx-lab: ", 0) == 0) r.lab_messages.push_back(msg.substr(8));
    auto kind = fault_kind(msg);
    if (!kind) continue;
    // One report: a panic after an oops belongs to the oops' report.
    KernelFault f{*kind, ""};
    size_t k = (i > 0 && lines[i - 1].find("cut here") != std::string::npos) ? i - 1 : i;
    for (; k < lines.size() && k < i + 80; ++k) {
      f.trace += lines[k] + "\n";
      if (k > i && ends_report(lines[k])) break;
    }
    r.faults.push_back(std::move(f));
    i = k;
  }
  return r;
}

}  // namespace kx
