// `kx kernel prepare`: make a profile's kernel tree ready for rebuilding single
// objects, cached under $KX_HOME/kernels/<profile>/ and verified to generate
// the same code as the shipped kernel. A second run only re-checks the stamps.
#pragma once
#include <filesystem>
#include <string>

#include "kernel/build_env.h"
#include "kernel/profile.h"
#include "util/result.h"

namespace kx {

struct PreparedKernel {
  KernelProfile profile;
  BuildEnv env;
  std::filesystem::path tree;       // where objects are rebuilt
  std::filesystem::path btf;        // raw vmlinux BTF (base for module BTF)
  std::filesystem::path resolve_btfids;
  std::string build_id;             // of the debug vmlinux == the running kernel's
};

struct PrepareOptions {
  bool install_missing = true;  // apt-get install missing profile packages (root only)
  std::string sample_object = "kernel/softirq.o";  // fidelity sample
};

// Packages of the profile that are not installed.
std::vector<std::string> missing_packages(const KernelProfile &p);

Result<PreparedKernel> prepare_kernel(const KernelProfile &p, const PrepareOptions &opts = {});

// The cached result of an earlier prepare, or an error telling to run it.
Result<PreparedKernel> load_prepared(const KernelProfile &p);

// Rebuilds `object` (relative to the tree) with the profile's build env.
Status rebuild_object(const PreparedKernel &k, const std::string &object);

}  // namespace kx
