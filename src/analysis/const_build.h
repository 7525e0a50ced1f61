// `kx build`, part 1 (paper §3.3.2): from a const spec to its seeds in the
// running kernel. Locate the literal, find the vmlinux objects that can see
// it, rebuild them at test values, diff, fit T = f(V), map each seed onto the
// original object and from there to a vmlinux address and source position.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "binary/debug_info.h"
#include "binary/module_image.h"
#include "kernel/tree_cache.h"
#include "seeds/seeds.h"
#include "spec/locate.h"
#include "slice/safe_span.h"
#include "synth/critical_span.h"

namespace kx {

struct ConstUse {
  Seed seed;
  uint64_t address = 0;  // vmlinux link address; add the KASLR slide at run time
  SourceLocation source;
  // A use in a loadable module: section + offset in its .ko instead of an address.
  std::optional<ModuleLocation> module;
};

enum class ConstStatus { Tunable, Untunable, Error };
const char *status_name(ConstStatus s);

struct ConstReport {
  std::string id;
  ConstSite site;
  std::string release, build_id;
  std::vector<std::string> objects;      // rebuilt: those of objects_seeing that expand it
  size_t objects_seeing = 0;             // units that include its file and mention it
  std::vector<std::string> macros;       // names followed to find them
  std::vector<int64_t> test_values;
  TestFamily test_family = TestFamily::Shaped;  // which kind of test values these are
  // The other families tried, each with the reason it left the constant
  // untunable ("plain (37, 53, 61): …").
  std::vector<std::string> families_tried;
  std::vector<ConstUse> uses;
  std::vector<CriticalSpan> spans;  // with the vmlinux address of each span's function
  std::map<std::string, uint64_t> function_address;  // "object:function" -> vmlinux link address
  std::map<std::string, ModuleLocation> function_module;  // "object:function" of a module -> where it starts
  std::vector<std::string> module_fidelity;  // per module object: its functions against the debug .ko
  std::vector<std::string> notes;            // what the analysis left out, and why
  std::vector<SafeSpan> safe_spans;
  std::vector<std::string> structural, unmapped, layout;
  ConstStatus status = ConstStatus::Error;
  std::string reason;
  std::vector<std::pair<std::string, double>> timing;  // phase -> seconds, in order
};

// A spec (FILE:LINE:TOKEN) or a bare macro name.
Result<ConstSite> resolve_const(const std::filesystem::path &tree, const std::string &arg);

// Runs the pipeline for one constant. Errors are for what stops the analysis
// (bad spec, build failure); untunable constants are a report, with a reason.
struct BuildOptions {
  bool seeds_only = false;  // stop after the seeds (no spans, no proofs)
  // A header constant can reach hundreds of objects; rebuilding them all at
  // several values takes long. Above this many that expand it, stop and say so.
  size_t max_objects = 48;
};
Result<ConstReport> build_const(const PreparedKernel &k, const std::string &arg, const BuildOptions &opts = {});

// The report as stored in the scope table and printed by `kx build --json`.
nlohmann::json to_json(const ConstReport &r);

}  // namespace kx
