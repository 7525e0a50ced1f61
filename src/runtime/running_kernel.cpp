#include "runtime/running_kernel.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "util/files.h"

namespace kx {

Result<std::string> build_id_from_notes(const std::string &notes) {
  // Elf_Nhdr: namesz, descsz, type (4 bytes each), then name and desc, each
  // padded to 4 bytes.
  auto align4 = [](size_t n) { return (n + 3) & ~size_t{3}; };
  size_t at = 0;
  while (at + 12 <= notes.size()) {
    uint32_t namesz, descsz, type;
    memcpy(&namesz, notes.data() + at, 4);
    memcpy(&descsz, notes.data() + at + 4, 4);
    memcpy(&type, notes.data() + at + 8, 4);
    size_t name_at = at + 12, desc_at = name_at + align4(namesz);
    if (desc_at > notes.size() || descsz > notes.size() - desc_at) break;
    if (type == 3 /* NT_GNU_BUILD_ID */ && namesz == 4 && memcmp(notes.data() + name_at, "GNU", 4) == 0) {
      std::string hex;
      char b[3];
      for (size_t i = 0; i < descsz; ++i) {
        snprintf(b, sizeof b, "%02x", static_cast<unsigned char>(notes[desc_at + i]));
        hex += b;
      }
      return hex;
    }
    at = desc_at + align4(descsz);
  }
  return make_error("no GNU build-id note");
}

Result<uint64_t> kallsyms_address(const std::string &kallsyms, const std::string &symbol) {
  std::istringstream in(kallsyms);
  return kallsyms_address(in, symbol);
}

// Reads only up to the symbol: the kernel formats /proc/kallsyms as it is
// read, and the whole of it (150,000 lines) costs most of a plan in the lab.
Result<uint64_t> kallsyms_address(std::istream &in, const std::string &symbol) {
  std::string line;
  while (std::getline(in, line)) {
    // "ffffffff81000000 T _text"
    auto sp1 = line.find(' ');
    if (sp1 == std::string::npos || line.size() < sp1 + 3) continue;
    auto sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string::npos) continue;
    auto end = line.find_first_of(" \t", sp2 + 1);
    if (line.compare(sp2 + 1, end == std::string::npos ? std::string::npos : end - sp2 - 1, symbol) != 0) continue;
    uint64_t addr = std::stoull(line.substr(0, sp1), nullptr, 16);
    if (addr == 0) return make_error("/proc/kallsyms hides addresses (run as root, kptr_restrict)");
    return addr;
  }
  return make_error("/proc/kallsyms has no " + symbol);
}

Result<RunningKernel> inspect_running_kernel(uint64_t text_base) {
  RunningKernel k;
  auto notes = read_file("/sys/kernel/notes");
  if (!notes) return make_error("cannot read the running kernel's build-id: " + notes.error().message);
  auto id = build_id_from_notes(*notes);
  if (!id) return make_error("/sys/kernel/notes has " + id.error().message);
  k.build_id = *id;
  std::ifstream syms("/proc/kallsyms");
  if (!syms) return make_error("cannot read /proc/kallsyms");
  KX_ASSIGN(text, kallsyms_address(syms, "_text"));
  k.slide = text - text_base;
  return k;
}

bool return_thunks_in_use(const std::function<std::string(const std::string &)> &read) {
  static const std::pair<const char *, const char *> kSetBy[] = {
      {"retbleed", "untrained return thunk"},
      {"spec_rstack_overflow", "Safe RET"},
      {"indirect_target_selection", "Aligned branch/return thunks"},
  };
  for (auto &[file, mitigation] : kSetBy)
    if (read(file).find(mitigation) != std::string::npos) return true;
  return false;
}

bool return_thunks_in_use() {
  return return_thunks_in_use([](const std::string &name) {
    auto text = read_file("/sys/devices/system/cpu/vulnerabilities/" + name);
    return text ? *text : std::string();
  });
}

}  // namespace kx
