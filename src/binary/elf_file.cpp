#include "binary/elf_file.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kx {

struct ElfFile::Impl {
  int fd = -1;
  Elf *elf = nullptr;
  GElf_Ehdr ehdr{};
  std::vector<GElf_Shdr> shdrs;
  ~Impl() {
    if (elf) elf_end(elf);
    if (fd >= 0) close(fd);
  }
};

ElfFile::ElfFile(ElfFile &&) noexcept = default;
ElfFile &ElfFile::operator=(ElfFile &&) noexcept = default;
ElfFile::~ElfFile() = default;

Result<ElfFile> ElfFile::open(const std::filesystem::path &path) {
  elf_version(EV_CURRENT);
  ElfFile f;
  f.path_ = path;
  f.impl_ = std::make_unique<Impl>();
  auto &im = *f.impl_;
  im.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (im.fd < 0) return make_error("cannot open " + path.string() + ": " + strerror(errno));
  im.elf = elf_begin(im.fd, ELF_C_READ_MMAP, nullptr);
  if (!im.elf || elf_kind(im.elf) != ELF_K_ELF || !gelf_getehdr(im.elf, &im.ehdr))
    return make_error(path.string() + " is not an ELF file");
  if (im.ehdr.e_machine != EM_X86_64)
    return make_error(path.string() + " is not an x86-64 ELF file");

  size_t nsec = 0;
  elf_getshdrnum(im.elf, &nsec);
  im.shdrs.resize(nsec);
  for (size_t i = 0; i < nsec; ++i) gelf_getshdr(elf_getscn(im.elf, i), &im.shdrs[i]);

  for (size_t i = 0; i < nsec; ++i) {
    if (im.shdrs[i].sh_type != SHT_SYMTAB) continue;
    Elf_Data *d = elf_getdata(elf_getscn(im.elf, i), nullptr);
    size_t n = im.shdrs[i].sh_entsize ? im.shdrs[i].sh_size / im.shdrs[i].sh_entsize : 0;
    f.symbols_.reserve(n);
    for (size_t k = 0; k < n; ++k) {
      GElf_Sym s;
      gelf_getsym(d, k, &s);
      const char *name = elf_strptr(im.elf, im.shdrs[i].sh_link, s.st_name);
      f.symbols_.push_back({name ? name : "", s.st_value, s.st_size, s.st_shndx,
                            static_cast<unsigned char>(GELF_ST_TYPE(s.st_info)),
                            static_cast<unsigned char>(GELF_ST_BIND(s.st_info))});
    }
  }
  return f;
}

bool ElfFile::relocatable() const { return impl_->ehdr.e_type == ET_REL; }

std::vector<const ElfSymbol *> ElfFile::functions() const {
  std::vector<const ElfSymbol *> out;
  for (auto &s : symbols_)
    if (s.type == STT_FUNC && s.size > 0 && s.section != SHN_UNDEF && s.section < SHN_LORESERVE)
      out.push_back(&s);
  return out;
}

std::vector<const ElfSymbol *> ElfFile::find_symbols(const std::string &name) const {
  std::vector<const ElfSymbol *> out;
  for (auto &s : symbols_)
    if (s.name == name) out.push_back(&s);
  return out;
}

std::string ElfFile::section_name(size_t index) const {
  if (index >= impl_->shdrs.size()) return "";
  const char *n = elf_strptr(impl_->elf, impl_->ehdr.e_shstrndx, impl_->shdrs[index].sh_name);
  return n ? n : "";
}

std::optional<size_t> ElfFile::section_index(const std::string &name) const {
  for (size_t i = 0; i < impl_->shdrs.size(); ++i)
    if (section_name(i) == name) return i;
  return std::nullopt;
}

uint64_t ElfFile::section_size(size_t index) const {
  return index < impl_->shdrs.size() ? impl_->shdrs[index].sh_size : 0;
}

bool ElfFile::section_executable(size_t index) const {
  return index < impl_->shdrs.size() && (impl_->shdrs[index].sh_flags & SHF_EXECINSTR);
}

Result<std::span<const uint8_t>> ElfFile::bytes(size_t section, uint64_t value, uint64_t size) const {
  if (section >= impl_->shdrs.size()) return make_error("bad section index");
  const GElf_Shdr &sh = impl_->shdrs[section];
  if (sh.sh_type == SHT_NOBITS) return make_error("section " + section_name(section) + " has no bytes");
  uint64_t off = relocatable() ? value : value - sh.sh_addr;
  if (off > sh.sh_size || size > sh.sh_size - off)
    return make_error("range outside section " + section_name(section));
  Elf_Data *d = elf_rawdata(elf_getscn(impl_->elf, section), nullptr);
  if (!d || !d->d_buf) return make_error("cannot read section " + section_name(section));
  return std::span<const uint8_t>(static_cast<const uint8_t *>(d->d_buf) + off, size);
}

std::vector<ElfRelocation> ElfFile::relocations_for(size_t section) const {
  std::vector<ElfRelocation> out;
  for (size_t i = 0; i < impl_->shdrs.size(); ++i) {
    const GElf_Shdr &sh = impl_->shdrs[i];
    if (sh.sh_type != SHT_RELA || sh.sh_info != section) continue;
    Elf_Data *d = elf_getdata(elf_getscn(impl_->elf, i), nullptr);
    size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
    for (size_t k = 0; k < n; ++k) {
      GElf_Rela r;
      gelf_getrela(d, k, &r);
      out.push_back({r.r_offset, static_cast<uint32_t>(GELF_R_TYPE(r.r_info)),
                     static_cast<uint32_t>(GELF_R_SYM(r.r_info)), r.r_addend});
    }
  }
  std::sort(out.begin(), out.end(), [](auto &a, auto &b) { return a.offset < b.offset; });
  return out;
}

std::string ElfFile::build_id() const {
  for (size_t i = 0; i < impl_->shdrs.size(); ++i) {
    if (impl_->shdrs[i].sh_type != SHT_NOTE) continue;
    Elf_Data *d = elf_getdata(elf_getscn(impl_->elf, i), nullptr);
    size_t off = 0, name_off, desc_off;
    GElf_Nhdr nh;
    while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
      if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
          memcmp(static_cast<char *>(d->d_buf) + name_off, "GNU", 4) == 0) {
        static const char hex[] = "0123456789abcdef";
        std::string id;
        auto *p = static_cast<const uint8_t *>(d->d_buf) + desc_off;
        for (size_t k = 0; k < nh.n_descsz; ++k) {
          id += hex[p[k] >> 4];
          id += hex[p[k] & 15];
        }
        return id;
      }
    }
  }
  return "";
}

unsigned relocation_width(uint32_t type) {
  switch (type) {
    case R_X86_64_64:
    case R_X86_64_PC64:
    case R_X86_64_GOTOFF64:
    case R_X86_64_GOTPC64:
      return 8;
    case R_X86_64_16:
    case R_X86_64_PC16:
      return 2;
    case R_X86_64_8:
    case R_X86_64_PC8:
      return 1;
    default:
      return 4;  // PC32, PLT32, 32, 32S, GOTPCREL(X), ...
  }
}

}  // namespace kx
