// X-tune policies (paper §3.6): `kx gen` writes an eBPF C stub per const,
// `kx load` compiles it against the profile's BTF and loads its programs
// through libbpf, unattached, for x-sie.ko to run at the critical spans.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernel/profile.h"
#include "util/result.h"

struct bpf_object;

namespace kx {

// A C identifier for a const ID ("blk-mq_385_1" -> "blk_mq_385_1").
std::string c_identifier(const std::string &id);

// The stub: one X_TUNE function per analysed const (its ID, default, source
// line, uses and proven range in a comment), each keeping the default.
Result<std::string> generate_x_tune(const std::vector<nlohmann::json> &reports);

// The X_TUNE("ID") markers of a policy source, in order (without compiling it).
std::vector<std::string> x_tune_ids(const std::string &source);

// vmlinux.h of the profile's kernel (bpftool, from the debug vmlinux's BTF), cached.
Result<std::filesystem::path> vmlinux_header(const KernelProfile &p);

// Directory holding x_tune.h (the policy API header).
std::filesystem::path x_tune_include_dir();

// clang -target bpf: the object file, or clang's diagnostics as the error.
Result<std::filesystem::path> compile_x_tune(const KernelProfile &p, const std::filesystem::path &source,
                                             const std::filesystem::path &out_dir);

// The programs' const IDs of a compiled policy, opened but not loaded.
Result<std::vector<std::string>> x_tune_program_ids(const std::filesystem::path &object);

// A policy compiled once on the build host (kx compile) for machines with no
// compiler: the object carries, in an ELF section libbpf skips, what it was
// compiled against, so kx apply and kx load can refuse it for another
// kernel build or another analysis of its consts.
inline constexpr const char *kPolicyStampSection = ".kernelx.policy";
inline constexpr const char *kPolicyFormat = "kernelx-policy";
inline constexpr int kPolicyFormatVersion = 1;

struct PolicyStamp {
  std::string build_id;                         // the kernel's (hex GNU build-id)
  std::map<std::string, std::string> analyses;  // const ID -> analysis version of its report
  std::string source;                           // the .bpf.c's file name
  std::string kx_version;
  nlohmann::json json() const;
};

// Writes `object` with `stamp` added (llvm-objcopy, on the build host).
Status stamp_x_tune(const std::filesystem::path &object, const PolicyStamp &stamp,
                    const std::filesystem::path &out);

// A compiled policy as a machine without a compiler sees it: its stamp, its
// programs' const IDs (equal to the stamp's consts) and its bytes.
struct CompiledPolicy {
  std::filesystem::path file;
  PolicyStamp stamp;
  std::vector<std::string> ids;
  std::string bytes;
};

// Refuses, in one line: a missing file, one that is not a BPF object, one
// without a stamp (not from kx compile) or whose programs differ from it.
Result<CompiledPolicy> inspect_x_tune(const std::filesystem::path &object);

// Refuses a compiled policy made for another kernel build than `build_id`,
// naming a const `analyses` (const ID -> analysis version, of the bundle or
// the scope table: `where`) lacks, or compiled against another analysis of one.
Status check_policy_stamp(const CompiledPolicy &p, const std::string &build_id,
                          const std::map<std::string, std::string> &analyses, const std::string &where);

// A loaded policy object: programs by const ID and the shared slot map. The
// kernel keeps programs alive while the object or x-sie.ko holds them.
class LoadedPolicy {
 public:
  // Opens and loads the object: the verifier's complaint becomes the error.
  static Result<LoadedPolicy> load(const std::filesystem::path &object);
  LoadedPolicy(LoadedPolicy &&) noexcept;
  ~LoadedPolicy();
  const std::map<std::string, int> &programs() const { return progs_; }  // ID -> fd
  int slot_fd() const { return slot_fd_; }

 private:
  LoadedPolicy() = default;
  bpf_object *obj_ = nullptr;
  std::map<std::string, int> progs_;
  int slot_fd_ = -1;
};

}  // namespace kx
