#include "seeds/layout_check.h"

#include <dwarf.h>
#include <elf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <unistd.h>

#include <map>

#include "binary/function_compare.h"

namespace kx {

namespace {

bool is_data_section(const std::string &name) {
  if (name.empty() || name.rfind(".text", 0) == 0 || name.rfind(".debug", 0) == 0 || name.rfind(".rela", 0) == 0)
    return false;
  for (auto p : {".data", ".rodata", ".bss", ".init.data", ".init.rodata", ".ref.data", "__param", ".tbss", ".tdata"})
    if (name.rfind(p, 0) == 0) return true;
  return false;
}

// struct name -> "size=N;member@off;…" from an object's DWARF. An object's
// DWARF is itself relocated (string offsets, …): libdwfl applies those
// relocations, plain dwarf_begin would not.
std::map<std::string, std::string> struct_layouts(const std::string &path) {
  std::map<std::string, std::string> out;
  static const Dwfl_Callbacks callbacks = {dwfl_build_id_find_elf, dwfl_standard_find_debuginfo,
                                           dwfl_offline_section_address, nullptr};
  Dwfl *dwfl = dwfl_begin(&callbacks);
  if (!dwfl) return out;
  Dwfl_Module *mod = dwfl_report_offline(dwfl, "", path.c_str(), -1);
  dwfl_report_end(dwfl, nullptr, nullptr);
  Dwarf_Addr bias = 0;
  Dwarf *dw = mod ? dwfl_module_getdwarf(mod, &bias) : nullptr;
  if (dw) {
    Dwarf_Off off = 0, next;
    size_t hsize;
    while (dwarf_nextcu(dw, off, &next, &hsize, nullptr, nullptr, nullptr) == 0) {
      Dwarf_Die cu, die;
      if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_child(&cu, &die) == 0) {
        do {
          int tag = dwarf_tag(&die);
          if ((tag != DW_TAG_structure_type && tag != DW_TAG_union_type) || !dwarf_diename(&die)) continue;
          Dwarf_Attribute attr;
          Dwarf_Word size = 0;
          if (!dwarf_attr(&die, DW_AT_byte_size, &attr) || dwarf_formudata(&attr, &size) != 0) continue;
          std::string desc = "size=" + std::to_string(size);
          Dwarf_Die member;
          if (dwarf_child(&die, &member) == 0) {
            do {
              Dwarf_Word loc = 0;
              if (dwarf_tag(&member) == DW_TAG_member &&
                  dwarf_attr(&member, DW_AT_data_member_location, &attr) && dwarf_formudata(&attr, &loc) == 0)
                desc += ";" + std::string(dwarf_diename(&member) ? dwarf_diename(&member) : "?") + "@" +
                        std::to_string(loc);
            } while (dwarf_siblingof(&member, &member) == 0);
          }
          out[dwarf_diename(&die)] = desc;
        } while (dwarf_siblingof(&die, &die) == 0);
      }
      off = next;
    }
  }
  dwfl_end(dwfl);
  return out;
}

}  // namespace

std::vector<std::string> layout_changes(const ElfFile &a, const ElfFile &b) {
  std::vector<std::string> out;
  // Sections, matched by name.
  std::map<std::string, uint64_t> sa, sb;
  for (size_t i = 1;; ++i) {
    std::string n = a.section_name(i);
    if (n.empty()) break;
    if (is_data_section(n)) sa[n] = a.section_size(i);
  }
  for (size_t i = 1;; ++i) {
    std::string n = b.section_name(i);
    if (n.empty()) break;
    if (is_data_section(n)) sb[n] = b.section_size(i);
  }
  for (auto &[n, size] : sa)
    if (sb.count(n) && sb[n] != size)
      out.push_back("section " + n + " changes size (" + std::to_string(size) + " -> " + std::to_string(sb[n]) + ")");

  // Data objects: size and contents (outside relocations).
  std::map<std::string, const ElfSymbol *> ob;
  for (auto &s : b.symbols())
    if (s.type == STT_OBJECT && s.section != SHN_UNDEF && s.section < SHN_LORESERVE) ob[s.name] = &s;
  for (auto &s : a.symbols()) {
    if (s.type != STT_OBJECT || s.section == SHN_UNDEF || s.section >= SHN_LORESERVE || !ob.count(s.name)) continue;
    const ElfSymbol &t = *ob[s.name];
    if (s.size != t.size) {
      out.push_back("data object " + s.name + " changes size (" + std::to_string(s.size) + " -> " +
                    std::to_string(t.size) + ")");
      continue;
    }
    auto x = a.symbol_bytes(s), y = b.symbol_bytes(t);
    if (!x || !y) continue;  // .bss: no contents
    if (!compare_masked(*x, *y, relocation_mask(a, s)).identical)
      out.push_back("data object " + s.name + " holds the constant (its contents change)");
  }

  // Structure layouts.
  auto la = struct_layouts(a.path().string()), lb = struct_layouts(b.path().string());
  for (auto &[n, desc] : la)
    if (lb.count(n) && lb[n] != desc) out.push_back("struct " + n + " changes layout");
  return out;
}

}  // namespace kx
