#include "runtime/x_runtime.h"

#include "util/hex.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "host/doctor.h"
#include "kernel/module_build.h"
#include "runtime/uapi_names.h"
#include "util/process.h"

namespace kx {
namespace fs = std::filesystem;

bool x_sie_loaded() { return fs::exists(fs::path("/sys/module") / kXSieModuleName); }

std::string runtime_unsupported_reason() {
  HostReport rep = inspect_host();
  std::string missing;
  for (auto &f : rep.features)
    if ((f.name == "modules" || f.name == "kprobes") && !f.available)
      missing += (missing.empty() ? "" : " and ") + std::string(f.name == "modules" ? "no loadable modules" : "no kprobes");
  if (missing.empty()) return "";
  return "this kernel (" + rep.kernel + ") has " + missing +
         ": run the runtime in the lab VM (kx lab run -- kx set ...)";
}

Result<fs::path> x_sie_module_path(const PreparedKernel &k) {
  if (const char *e = getenv("KX_XSIE_MODULE"); e && *e) return fs::path(e);
  const fs::path src = KX_KMOD_DIR;
  const fs::path dir = module_build_dir(k.profile, src), ko = dir / "x-sie.ko";
  // Reuse a build newer than every source: make itself would be slow in the
  // lab guest, where the prebuilt module is the common case.
  std::error_code ec;
  bool fresh = fs::exists(ko, ec);
  if (fresh)
    for (auto &e : fs::directory_iterator(src, ec))
      if (e.is_regular_file() && fs::last_write_time(e.path(), ec) > fs::last_write_time(ko, ec)) fresh = false;
  if (fresh) return ko;
  KX_ASSIGN(kos, build_module(k, src, dir));
  for (auto &p : kos)
    if (p.filename() == "x-sie.ko") return p;
  return make_error("building " + src.string() + " produced no x-sie.ko");
}

Status ensure_x_sie(const fs::path &ko) {
  if (x_sie_loaded()) return {};
  if (auto why = runtime_unsupported_reason(); !why.empty()) return make_error(why);
  if (!fs::exists(ko)) return make_error("x-sie.ko not found at " + ko.string());
  auto r = run({"insmod", ko.string()});
  if (!r) return r.error();
  // Another kx may have inserted it meanwhile (insmod: File exists).
  if (r->exit_code != 0 && !x_sie_loaded())
    return make_error("insmod " + ko.string() + " failed: " + tail_lines(r->output, 2));
  return {};
}

Result<XRuntime> XRuntime::open() {
  std::string dev = std::string("/dev/") + X_SIE_DEVICE;
  XRuntime x;
  x.fd_ = ::open(dev.c_str(), O_RDWR | O_CLOEXEC);
  if (x.fd_ < 0) {
    int e = errno;
    if (e == ENOENT && !x_sie_loaded()) return make_error("x-sie.ko is not loaded");
    return make_error("cannot open " + dev + ": " + strerror(e) + (e == EACCES || e == EPERM ? " (root only)" : ""));
  }
  return x;
}

XRuntime::XRuntime(XRuntime &&o) noexcept : fd_(o.fd_) { o.fd_ = -1; }

XRuntime::~XRuntime() {
  if (fd_ >= 0) close(fd_);
}

Result<uint32_t> XRuntime::load(const Transaction &t) {
  x_sie_load req{};
  req.abi_version = X_SIE_ABI_VERSION;
  req.n_consts = static_cast<uint32_t>(t.consts.size());
  req.n_spans = static_cast<uint32_t>(t.spans.size());
  req.consts = reinterpret_cast<uintptr_t>(t.consts.data());
  req.spans = reinterpret_cast<uintptr_t>(t.spans.data());
  req.n_ss = static_cast<uint32_t>(t.safe_spans.size());
  req.ss = reinterpret_cast<uintptr_t>(t.safe_spans.data());
  req.transition = t.transition;
  // The module refuses a transaction for another build: hex to the 20 bytes it compares.
  if (t.build_id.size() != 2 * X_SIE_BUILD_ID_LEN)
    return make_error("the transaction has no kernel build-id (got '" + t.build_id + "')");
  for (size_t i = 0; i < X_SIE_BUILD_ID_LEN; ++i)
    req.build_id[i] = static_cast<uint8_t>(std::stoul(t.build_id.substr(2 * i, 2), nullptr, 16));
  if (ioctl(fd_, X_SIE_IOC_LOAD, &req) != 0) {
    int e = errno;
    req.error[sizeof req.error - 1] = 0;
    return make_error("x-sie.ko refused the transaction: " +
                      (req.error[0] ? std::string(req.error) : std::string(strerror(e))));
  }
  return req.tx_id;
}

Status XRuntime::unload(uint32_t id, const UnloadOptions &opt) {
  x_sie_unload req{};
  req.abi_version = X_SIE_ABI_VERSION;
  req.tx_id = id;
  req.timeout_ms = opt.timeout_ms;
  req.force = opt.force ? 1 : 0;
  if (ioctl(fd_, X_SIE_IOC_UNLOAD, &req) != 0) {
    int e = errno;
    req.error[sizeof req.error - 1] = 0;
    if (req.error[0]) return make_error(req.error);
    return make_error("unloading transaction " + std::to_string(id) + ": " + strerror(e));
  }
  return {};
}

namespace {

// debug.kprobes-optimization: 0 keeps every kprobe on int3.
bool kprobe_optimization_enabled() {
  FILE *f = fopen("/proc/sys/debug/kprobes-optimization", "r");
  if (!f) return true;
  int c = fgetc(f);
  fclose(f);
  return c != '0';
}

const char *phase_name(uint32_t p) {
  switch (p) {
    case X_SIE_PHASE_SWITCHING: return "switching";
    case X_SIE_PHASE_ACTIVE: return "active";
    case X_SIE_PHASE_REVERTING: return "reverting";
  }
  return "?";
}

}  // namespace

Result<RuntimeStatus> XRuntime::status() {
  // Room for everything the module can hold: one call, every record filled.
  std::vector<x_sie_span_status> buf(X_SIE_MAX_SPANS * X_SIE_MAX_TXS);
  std::vector<x_sie_tx_status> txbuf(X_SIE_MAX_TXS);
  x_sie_status req{};
  req.abi_version = X_SIE_ABI_VERSION;
  req.capacity = static_cast<uint32_t>(buf.size());
  req.spans = reinterpret_cast<uintptr_t>(buf.data());
  req.tx_capacity = static_cast<uint32_t>(txbuf.size());
  req.txs = reinterpret_cast<uintptr_t>(txbuf.data());
  if (ioctl(fd_, X_SIE_IOC_STATUS, &req) != 0) {
    int e = errno;
    return make_error(std::string("x-sie.ko status: ") + strerror(e) +
                      (e == EPERM ? " (root with CAP_SYS_MODULE and CAP_SYS_ADMIN, or the kernel is locked down)" : ""));
  }
  req.n_spans = std::min<uint32_t>(req.n_spans, req.capacity);
  req.n_transactions = std::min<uint32_t>(req.n_transactions, req.tx_capacity);
  RuntimeStatus out;
  const bool optimization = kprobe_optimization_enabled();
  for (uint32_t i = 0; i < req.n_spans; ++i) {
    const auto &r = buf[i];
    SpanStatus s;
    s.tx = r.tx_id;
    s.const_name.assign(r.const_name, strnlen(r.const_name, sizeof r.const_name));
    s.label.assign(r.label, strnlen(r.label, sizeof r.label));
    s.kind = span_kind_name(r.kind);
    s.value = r.value;
    s.probe = r.probe_addr;
    s.capture = r.capture_addr;
    s.probe_state = probe_state_name(r.probe_state);
    s.capture_state = probe_state_name(r.capture_state);
    // With optimization switched off no optimizer will come: int3 for good.
    if (!optimization) {
      if (s.probe_state == "pending") s.probe_state = "int3";
      if (s.capture_state == "pending") s.capture_state = "int3";
    }
    s.hits = r.hits, s.skipped = r.skipped, s.captures = r.captures, s.faults = r.faults, s.missed = r.missed;
    s.policy = r.policy != 0;
    s.policy_runs = r.policy_runs, s.policy_unset = r.policy_unset, s.policy_rejected = r.policy_rejected;
    s.policy_busy = r.policy_busy;
    out.spans.push_back(s);
  }
  for (uint32_t i = 0; i < req.n_transactions; ++i) {
    const auto &r = txbuf[i];
    TxStatus t;
    t.tx = r.tx_id;
    t.phase = phase_name(r.phase);
    t.transition = transition_mode_name(r.transition);
    t.safe_spans = r.n_ss, t.monitors = r.monitors, t.inside = r.inside, t.seeded = r.seeded;
    t.scanned = r.scanned, t.unverified = r.unverified, t.overflow = r.overflow;
    t.switched = r.switched, t.entries = r.entries, t.exits = r.exits;
    t.attach_ns = r.attach_ns, t.monitor_ns = r.monitor_ns, t.scan_ns = r.scan_ns;
    t.transition_ns = r.transition_ns, t.policy_runs = r.policy_runs;
    t.rescans = r.rescans, t.lost = r.lost;
    t.waiting.assign(r.waiting, r.waiting + std::min<uint32_t>(r.n_waiting, X_SIE_WAIT_PIDS));
    out.txs.push_back(t);
  }
  return out;
}

namespace {

nlohmann::json tx_json(const TxStatus &t) {
  return {{"phase", t.phase},         {"mode", t.transition},     {"safe_spans", t.safe_spans},
          {"monitors", t.monitors},   {"inside", t.inside},       {"seeded", t.seeded},
          {"scanned", t.scanned},     {"unverified", t.unverified}, {"overflow", t.overflow},
          {"switched", t.switched},   {"entries", t.entries},     {"exits", t.exits},
          {"attach_ns", t.attach_ns}, {"monitor_ns", t.monitor_ns},
          {"scan_ns", t.scan_ns},     {"transition_ns", t.transition_ns},
          {"rescans", t.rescans},     {"lost", t.lost},           {"waiting", t.waiting}};
}

}  // namespace

std::vector<ActiveConst> active_consts(const RuntimeStatus &st) {
  std::vector<ActiveConst> out;
  for (auto &s : st.spans) {
    if (std::any_of(out.begin(), out.end(), [&](auto &c) { return c.tx == s.tx && c.name == s.const_name; })) continue;
    ActiveConst c{s.const_name, static_cast<int64_t>(s.value), s.policy, s.tx, ""};
    for (auto &t : st.txs)
      if (t.tx == s.tx) c.phase = t.phase;
    out.push_back(c);
  }
  return out;
}

Result<uint32_t> transaction_for(const RuntimeStatus &st, const std::string &arg) {
  if (arg.empty()) return make_error("no transaction id or const name given");
  // An id goes to the module as it is: it names a transaction it lacks itself.
  if (arg.find_first_not_of("0123456789") == std::string::npos && arg.size() <= 9) return std::stoul(arg);
  std::set<uint32_t> txs;
  std::string names;
  for (auto &c : active_consts(st)) {
    if (c.name == arg) txs.insert(c.tx);
    names += (names.empty() ? "" : ", ") + c.name + " (transaction " + std::to_string(c.tx) + ")";
  }
  // The module refuses a const two transactions hold, so one is the rule.
  if (txs.size() == 1) return *txs.begin();
  if (txs.size() > 1) return make_error(arg + " is in several transactions: name one by id (kx status)");
  return make_error("no active transaction holds " + arg +
                    (names.empty() ? " (none is active)" : " (active: " + names + ")"));
}

nlohmann::json status_json(const RuntimeStatus &st) {
  nlohmann::json txs = nlohmann::json::array();
  std::map<uint32_t, size_t> tx_at;
  for (auto &t : st.txs) {
    tx_at[t.tx] = txs.size();
    txs.push_back({{"id", t.tx}, {"transition", tx_json(t)}, {"policy_runs", t.policy_runs},
                   {"consts", nlohmann::json::array()}});
  }
  for (auto &s : st.spans) {
    if (!tx_at.count(s.tx)) {  // a transaction beyond the records asked for
      tx_at[s.tx] = txs.size();
      txs.push_back({{"id", s.tx}, {"consts", nlohmann::json::array()}});
    }
    auto &consts = txs[tx_at[s.tx]]["consts"];
    auto c = std::find_if(consts.begin(), consts.end(), [&](auto &j) { return j["name"] == s.const_name; });
    if (c == consts.end()) {
      consts.push_back({{"name", s.const_name},
                        {"value", static_cast<int64_t>(s.value)},
                        {"policy", s.policy},
                        {"spans", nlohmann::json::array()}});
      c = consts.end() - 1;
    }
    nlohmann::json span = {{"label", s.label},      {"kind", s.kind},       {"probe_address", hex(s.probe)},
                           {"probe", s.probe_state}, {"hits", s.hits},       {"missed", s.missed},
                           {"faults", s.faults},    {"policy_runs", s.policy_runs},
                           {"policy_unset", s.policy_unset}, {"policy_rejected", s.policy_rejected},
                           {"policy_busy", s.policy_busy}};
    if (s.capture) {
      span["capture_address"] = hex(s.capture);
      span["capture"] = s.capture_state;
      span["captures"] = s.captures;
      span["skipped"] = s.skipped;
    }
    (*c)["spans"].push_back(span);
  }
  nlohmann::json consts = nlohmann::json::array();
  for (auto &c : active_consts(st))
    consts.push_back({{"name", c.name}, {"value", c.value}, {"policy", c.policy}, {"transaction", c.tx}, {"phase", c.phase}});
  return {{"module_loaded", true}, {"consts", consts}, {"transactions", txs}};
}

}  // namespace kx
