// Compiled X-tune policies for machines without a compiler: the stamp kx
// compile adds on the build host, and what kx apply / kx load check of it.
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <filesystem>
#include <optional>

#include "policy/x_tune.h"
#include "util/files.h"
#include "util/process.h"

namespace kx {
namespace fs = std::filesystem;

nlohmann::json PolicyStamp::json() const {
  nlohmann::json consts = nlohmann::json::array();
  for (auto &[id, analysis] : analyses) consts.push_back({{"id", id}, {"analysis", analysis}});
  return {{"format", kPolicyFormat},        {"format_version", kPolicyFormatVersion},
          {"kernel", {{"build_id", build_id}}}, {"consts", consts},
          {"source", source},               {"kx_version", kx_version}};
}

Status stamp_x_tune(const fs::path &object, const PolicyStamp &stamp, const fs::path &out) {
  const fs::path json_file = object.string() + ".stamp.json";
  KX_TRY(write_file_atomic(json_file, stamp.json().dump() + "\n"));
  // Beside the target and renamed: a reader never sees an unstamped object there.
  const fs::path tmp = out.string() + ".tmp";
  KX_ASSIGN(r, run({"llvm-objcopy", "--add-section", std::string(kPolicyStampSection) + "=" + json_file.string(),
                    object.string(), tmp.string()}));
  if (r.exit_code != 0) return make_error("stamping " + object.string() + " failed: " + tail_lines(r.output, 5));
  std::error_code ec;
  fs::rename(tmp, out, ec);
  if (ec) return make_error("cannot rename " + tmp.string() + " to " + out.string() + ": " + ec.message());
  return {};
}

namespace {

// The bytes of section `name` of a BPF object file (nullopt: no such
// section); an error when the file is not a BPF ELF object.
Result<std::optional<std::string>> bpf_elf_section(const fs::path &object, const std::string &name) {
  const std::string where = object.string();
  elf_version(EV_CURRENT);
  int fd = ::open(object.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error("cannot open " + where);
  Elf *elf = elf_begin(fd, ELF_C_READ, nullptr);
  struct Close {
    int fd;
    Elf *elf;
    ~Close() {
      if (elf) elf_end(elf);
      ::close(fd);
    }
  } close_on_return{fd, elf};
  GElf_Ehdr ehdr;
  size_t strndx = 0;
  if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr) || ehdr.e_type != ET_REL ||
      ehdr.e_machine != EM_BPF || elf_getshdrstrndx(elf, &strndx) != 0)
    return make_error(where + " is not a compiled X-tune policy (not a BPF object file; make one with kx compile)");
  for (Elf_Scn *scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh)) return make_error(where + " is damaged: a bad section header");
    const char *n = elf_strptr(elf, strndx, sh.sh_name);
    if (!n || name != n) continue;
    Elf_Data *d = elf_getdata(scn, nullptr);
    if (!d || (d->d_size && !d->d_buf)) return make_error(where + " is damaged: section " + name + " cannot be read");
    return std::optional<std::string>(std::string(static_cast<const char *>(d->d_buf), d->d_size));
  }
  return std::optional<std::string>();
}

Result<PolicyStamp> parse_stamp(const std::string &text, const std::string &where) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("format", "") != kPolicyFormat)
    return make_error(where + ": its " + kPolicyStampSection + " section is not a kernelx policy stamp");
  if (j.value("format_version", 0) != kPolicyFormatVersion)
    return make_error(where + " is policy stamp format " + std::to_string(j.value("format_version", 0)) +
                      "; this kx reads format " + std::to_string(kPolicyFormatVersion));
  PolicyStamp s;
  try {
    s.build_id = j.at("kernel").at("build_id").get<std::string>();
    for (auto &c : j.at("consts")) s.analyses[c.at("id").get<std::string>()] = c.at("analysis").get<std::string>();
    s.source = j.value("source", "");
    s.kx_version = j.value("kx_version", "");
  } catch (const nlohmann::json::exception &) {
    return make_error(where + ": its policy stamp is malformed");
  }
  return s;
}

}  // namespace

Result<CompiledPolicy> inspect_x_tune(const fs::path &object) {
  const std::string where = object.string();
  std::error_code ec;
  if (!fs::is_regular_file(object, ec)) return make_error("no compiled policy at " + where);
  CompiledPolicy p;
  p.file = object;
  KX_ASSIGN(bytes, read_file(object));
  p.bytes = std::move(bytes);
  KX_ASSIGN(text, bpf_elf_section(object, kPolicyStampSection));
  if (!text)
    return make_error(where + " carries no kernelx stamp: compile it with kx compile on a host with the kernel's profile");
  KX_ASSIGN(stamp, parse_stamp(*text, where));
  p.stamp = std::move(stamp);
  auto ids = x_tune_program_ids(object);
  if (!ids) return make_error(where + " is damaged: " + ids.error().message);
  p.ids = std::move(*ids);
  std::vector<std::string> stamped;
  for (auto &[id, a] : p.stamp.analyses) stamped.push_back(id);
  if (stamped != p.ids) return make_error(where + ": its programs are not the consts its stamp names (edited?)");
  return p;
}

Status check_policy_stamp(const CompiledPolicy &p, const std::string &build_id,
                          const std::map<std::string, std::string> &analyses, const std::string &where) {
  const std::string file = p.file.string();
  if (p.stamp.build_id != build_id)
    return make_error(file + " was compiled for kernel build-id " + p.stamp.build_id + ", not " + where + "'s (" +
                      build_id + "): recompile it with kx compile");
  for (auto &[id, analysis] : p.stamp.analyses) {
    auto it = analyses.find(id);
    if (it == analyses.end()) return make_error(file + " tunes " + id + ", which is not in " + where);
    if (it->second != analysis)
      return make_error(file + " was compiled against analysis " + analysis + " of " + id + ", " + where +
                        " has " + it->second + ": recompile it with kx compile");
  }
  return {};
}

}  // namespace kx
