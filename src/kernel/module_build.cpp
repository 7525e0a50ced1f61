#include "kernel/module_build.h"

#include "binary/elf_file.h"
#include "util/files.h"
#include "util/process.h"

namespace kx {
namespace fs = std::filesystem;

fs::path module_build_dir(const KernelProfile &p, const fs::path &src) {
  fs::path abs = fs::weakly_canonical(src);
  return kx_home() / "modules" / p.name / (abs.filename().string() + "-" + hash_hex(abs.string()).substr(0, 8));
}

Result<std::vector<fs::path>> build_module(const PreparedKernel &k, const fs::path &src, const fs::path &out) {
  if (!fs::exists(src / "Kbuild") && !fs::exists(src / "Makefile"))
    return make_error(src.string() + " has no Kbuild or Makefile");
  if (!fs::exists(k.profile.headers / "Makefile"))
    return make_error("kernel headers not found: " + k.profile.headers.string() + " (run kx kernel prepare)");
  std::error_code ec;
  fs::create_directories(out, ec);
  // Sources only; build products of earlier runs in `out` are kept so make
  // rebuilds just what changed.
  for (auto &e : fs::directory_iterator(src)) {
    if (!e.is_regular_file()) continue;
    auto ext = e.path().extension();
    if (ext == ".c" || ext == ".h" || e.path().filename() == "Kbuild" || e.path().filename() == "Makefile") {
      fs::copy_file(e.path(), out / e.path().filename(), fs::copy_options::update_existing, ec);
      if (ec) return make_error("cannot copy " + e.path().string() + ": " + ec.message());
    }
  }
  std::vector<std::string> cmd = {"make", "-C", k.profile.headers.string(), "M=" + out.string()};
  // Only the compiler: the headers tree knows its own release.
  cmd.push_back("CC=" + k.env.compiler);
  cmd.push_back("modules");
  auto built = run_checked(cmd);
  if (!built) return make_error("building " + src.string() + " failed: " + built.error().message);

  std::vector<fs::path> kos;
  for (auto &e : fs::directory_iterator(out))
    if (e.path().extension() == ".ko") kos.push_back(e.path());
  if (kos.empty()) return make_error("building " + src.string() + " produced no .ko");
  for (auto &ko : kos) {
    KX_ASSIGN(elf, ElfFile::open(ko));
    if (elf.section_index(".BTF")) continue;  // already added by an earlier run
    KX_TRY(run_checked({"pahole", "-J", "--btf_base", k.btf.string(), ko.string()}));
    KX_TRY(run_checked({k.resolve_btfids.string(), "-b", k.btf.string(), ko.string()}));
  }
  return kos;
}

}  // namespace kx
