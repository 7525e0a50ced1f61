#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cstdarg>
#include <mutex>

#include "policy/x_tune.h"
#include "util/files.h"
#include "util/process.h"
#include "x_sie_uapi.h"

namespace kx {
namespace fs = std::filesystem;

std::filesystem::path x_tune_include_dir() { return KX_POLICY_INCLUDE_DIR; }

Result<fs::path> vmlinux_header(const KernelProfile &p) {
  const fs::path out = profile_cache_dir(p) / "bpf" / "vmlinux.h";
  std::error_code ec;
  if (fs::exists(out, ec) && fs::last_write_time(out, ec) >= fs::last_write_time(p.debug_vmlinux, ec)) return out;
  if (!fs::exists(p.debug_vmlinux)) return make_error("no debug vmlinux at " + p.debug_vmlinux.string() + ": run kx kernel prepare");
  KX_ASSIGN(text, run_checked({"bpftool", "btf", "dump", "file", p.debug_vmlinux.string(), "format", "c"}));
  fs::create_directories(out.parent_path(), ec);
  KX_TRY(write_file_atomic(out, text));
  return out;
}

Result<fs::path> compile_x_tune(const KernelProfile &p, const fs::path &source, const fs::path &out_dir) {
  if (!fs::exists(source)) return make_error("no such policy file: " + source.string());
  KX_ASSIGN(header, vmlinux_header(p));
  fs::path obj = out_dir / (source.stem().string() + ".o");
  KX_ASSIGN(r, run({"clang", "-O2", "-g", "-target", "bpf", "-mcpu=v3", "-D__TARGET_ARCH_x86", "-Wall", "-Wno-unused-function",
                    "-I", header.parent_path().string(), "-I", x_tune_include_dir().string(), "-c", source.string(),
                    "-o", obj.string()}));
  if (r.exit_code != 0) return make_error("compiling " + source.string() + " failed:\n" + tail_lines(r.output, 20));
  return obj;
}

namespace {

// libbpf reports through one global callback: collect the messages of the
// load in progress (the verifier log among them) for the error.
std::mutex log_mu;
std::string *log_sink = nullptr;

int collect(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (level == LIBBPF_DEBUG || !log_sink) return 0;
  char buf[4096];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  log_sink->append(buf);
  return n;
}

constexpr std::string_view kSectionPrefix = "kprobe/x_tune/";

}  // namespace

namespace {

// Collects libbpf's messages into `log` while it lives (one at a time).
class LibbpfLog {
 public:
  explicit LibbpfLog(std::string &log) : lock_(log_mu), old_(libbpf_set_print(collect)) { log_sink = &log; }
  ~LibbpfLog() {
    libbpf_set_print(old_);
    log_sink = nullptr;
  }

 private:
  std::lock_guard<std::mutex> lock_;
  libbpf_print_fn_t old_;
};

// Opens (does not load) a policy object and maps its programs to const IDs:
// every program must be an X_TUNE kprobe, one per const, beside the slot map.
Result<std::map<std::string, int>> open_x_tune(const fs::path &object, bpf_object *&obj, const std::string &log) {
  obj = bpf_object__open_file(object.c_str(), nullptr);
  if (!obj) {
    obj = nullptr;
    return make_error("cannot open " + object.string() + " as a BPF object: " + tail_lines(log, 5));
  }
  std::map<std::string, int> progs;
  bpf_program *prog;
  bpf_object__for_each_program(prog, obj) {
    std::string sec = bpf_program__section_name(prog);
    if (sec.rfind(kSectionPrefix, 0) != 0 || bpf_program__type(prog) != BPF_PROG_TYPE_KPROBE)
      return make_error("program " + std::string(bpf_program__name(prog)) + " (section " + sec +
                        ") is not an X-tune: mark it X_TUNE(\"ID\")");
    std::string id = sec.substr(kSectionPrefix.size());
    if (!progs.emplace(id, -1).second) return make_error("two X-tunes for " + id);
  }
  if (progs.empty()) return make_error(object.string() + " holds no X_TUNE program");
  bpf_map *slot = bpf_object__find_map_by_name(obj, "x_sie_slot");
  if (!slot || bpf_map__type(slot) != BPF_MAP_TYPE_PERCPU_ARRAY || bpf_map__value_size(slot) != sizeof(x_sie_slot))
    return make_error(object.string() + " has no x_sie_slot map of the runtime's layout: include x_tune.h");
  return progs;
}

}  // namespace

Result<std::vector<std::string>> x_tune_program_ids(const fs::path &object) {
  std::string log;
  LibbpfLog capture(log);
  bpf_object *obj = nullptr;
  auto progs = open_x_tune(object, obj, log);
  if (obj) bpf_object__close(obj);
  if (!progs) return progs.error();
  std::vector<std::string> ids;
  for (auto &[id, fd] : *progs) ids.push_back(id);
  return ids;
}

Result<LoadedPolicy> LoadedPolicy::load(const fs::path &object) {
  std::string log;
  LibbpfLog capture(log);
  LoadedPolicy p;
  KX_ASSIGN(progs, open_x_tune(object, p.obj_, log));
  p.progs_ = std::move(progs);
  if (bpf_object__load(p.obj_) != 0) {
    // The verifier's log ends with its verdict: show the end.
    return make_error("the kernel refused the policy " + object.string() + ":\n" + tail_lines(log, 25));
  }
  bpf_program *prog;
  bpf_object__for_each_program(prog, p.obj_) {
    std::string id = std::string(bpf_program__section_name(prog)).substr(kSectionPrefix.size());
    p.progs_[id] = bpf_program__fd(prog);
  }
  p.slot_fd_ = bpf_map__fd(bpf_object__find_map_by_name(p.obj_, "x_sie_slot"));
  return p;
}

LoadedPolicy::LoadedPolicy(LoadedPolicy &&o) noexcept
    : obj_(o.obj_), progs_(std::move(o.progs_)), slot_fd_(o.slot_fd_) {
  o.obj_ = nullptr;
}

LoadedPolicy::~LoadedPolicy() {
  if (obj_) bpf_object__close(obj_);
}

}  // namespace kx
