// Deployment (issue 18): analyse once per kernel build, apply anywhere. A
// bundle carries what `kx set` needs of the build host for some consts of
// one kernel build — their scope-table rows, the code of the functions
// their spans and safe spans lie in (with the places KASLR relocates), and
// x-sie.ko built for that kernel — so `kx apply` plans and loads the same
// transaction on a machine with no compiler, kernel source or debug
// vmlinux. The format is docs/bundle.md; every member is checked on use.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/transaction.h"
#include "util/result.h"

namespace kx {

inline constexpr const char *kBundleFormat = "kernelx-bundle";
inline constexpr int kBundleFormatVersion = 1;

// The members of a bundle besides manifest.json, by name.
inline constexpr const char *kBundleReports = "reports.json";
inline constexpr const char *kBundleCode = "code.json";
inline constexpr const char *kBundleModule = "x-sie.ko";

struct Bundle {
  nlohmann::json manifest;
  std::vector<nlohmann::json> reports;  // scope-table rows
  nlohmann::json code;                  // see code_excerpt()
  std::string module;                   // x-sie.ko's bytes

  std::string build_id() const;  // of the kernel it was made for
  uint64_t text_base() const;    // link address of that kernel's _text
  // A const's report by id or spec; an error naming the consts it holds.
  Result<nlohmann::json> report(const std::string &key) const;
};

// The code of every function the reports' critical and safe spans lie in,
// with its KASLR fixups and the symbols planning looks up, as JSON.
Result<nlohmann::json> code_excerpt(const KernelImage &image, const std::vector<nlohmann::json> &reports);

// A KernelImage from a code excerpt: what plan_transaction reads, and no more.
Result<std::unique_ptr<KernelImage>> excerpt_image(const nlohmann::json &code);

// Writes `b` (its manifest's "members" are filled in here) as a gzip'd tar.
Status write_bundle(const std::filesystem::path &file, Bundle b);

// Reads and checks a bundle: format and version, every member present,
// listed once and matching its sha256, nothing else in it. Any failure is
// one line saying what is wrong.
Result<Bundle> read_bundle(const std::filesystem::path &file);

std::string sha256_hex(const std::string &data);

// kx's version, as manifests record it.
const char *kx_version();

}  // namespace kx
