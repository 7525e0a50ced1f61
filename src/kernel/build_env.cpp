#include "kernel/build_env.h"

#include <regex>
#include <sstream>

#include "binary/elf_file.h"
#include "util/files.h"
#include "util/process.h"

namespace kx {

Result<Banner> parse_banner(const std::string &text) {
  // The compiler part nests parentheses, so anchor on ") #" after it.
  static const std::regex re(R"(Linux version (\S+) \(([^@\s]+)@([^)\s]+)\) \((.*)\) #(\S+) (.*))");
  std::smatch m;
  std::string line = text.substr(0, text.find('\n'));
  if (!std::regex_match(line, m, re)) return make_error("unrecognised kernel banner: " + line);
  Banner b{m[1], m[2], m[3], m[4], m[5], m[6]};
  // UTS_VERSION is "#V SMP PREEMPT_DYNAMIC <timestamp>": drop the flag words.
  std::istringstream words(b.timestamp);
  std::string w, rest;
  size_t skipped = 0;
  while (words >> w && (w == "SMP" || w.rfind("PREEMPT", 0) == 0)) skipped += w.size() + 1;
  b.timestamp = b.timestamp.substr(std::min(skipped, b.timestamp.size()));
  // The compiler text ends before ", GNU ld …" (or ", LLD …").
  auto comma = b.compiler_text.find(", GNU ld");
  if (comma == std::string::npos) comma = b.compiler_text.find(", LLD");
  if (comma != std::string::npos) b.compiler_text.resize(comma);
  return b;
}

Result<Banner> read_banner(const std::filesystem::path &vmlinux) {
  KX_ASSIGN(elf, ElfFile::open(vmlinux));
  auto syms = elf.find_symbols("linux_banner");
  if (syms.empty()) return make_error(vmlinux.string() + " has no linux_banner symbol");
  KX_ASSIGN(bytes, elf.symbol_bytes(*syms[0]));
  std::string s(bytes.begin(), bytes.end());
  return parse_banner(s.substr(0, s.find('\0')));
}

Result<std::string> config_compiler_text(const std::filesystem::path &config) {
  KX_ASSIGN(text, read_file(config));
  static const std::regex re(R"re(^CONFIG_CC_VERSION_TEXT="(.*)"$)re", std::regex::multiline);
  std::smatch m;
  if (!std::regex_search(text, m, re)) return make_error(config.string() + " has no CONFIG_CC_VERSION_TEXT");
  return m[1].str();
}

Result<BuildEnv> build_env(const KernelProfile &p) {
  KX_ASSIGN(cc_text, config_compiler_text(p.config));
  BuildEnv env;
  env.compiler = cc_text.substr(0, cc_text.find(' '));
  if (!find_program(env.compiler))
    return make_error("the kernel was built with '" + cc_text + "' but " + env.compiler +
                      " is not installed (run scripts/setup.sh)");
  KX_ASSIGN(version, run_checked({env.compiler, "--version"}));
  std::string first = version.substr(0, version.find('\n'));
  if (first != cc_text)
    return make_error("compiler mismatch: the kernel was built with '" + cc_text + "', host " +
                      env.compiler + " is '" + first + "'; rebuilt objects would not match the kernel");
  KX_ASSIGN(banner, read_banner(p.debug_vmlinux));
  if (banner.release != p.release)
    return make_error(p.debug_vmlinux.string() + " is release " + banner.release + ", profile expects " +
                      p.release);
  env.make_vars = {"CC=" + env.compiler,
                   "KERNELRELEASE=" + banner.release,
                   "KBUILD_BUILD_USER=" + banner.user,
                   "KBUILD_BUILD_HOST=" + banner.host,
                   "KBUILD_BUILD_VERSION=" + banner.version,
                   "KBUILD_BUILD_VERSION_TIMESTAMP=" + banner.timestamp};
  return env;
}

}  // namespace kx
