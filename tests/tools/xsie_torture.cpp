// Drives /dev/x-sie the way no kx command would, for the lab's hardening
// cases (tests/lab/runtime_hardening.sh) and bench/reliability/: programs
// the verifier accepts but x-sie.ko must refuse or run safely, random and
// mutated requests, and loads with an injected failure at every fallible
// step. A valid transaction to start from is planned exactly as `kx set`
// plans it, from saved `kx show --json` reports and the debug vmlinux.
//
//   kx_xsie_torture hostile --vmlinux V --report R [--trigger CMD]
//   kx_xsie_torture fuzz    --vmlinux V --report R... [--iterations N] [--seed S]
//   kx_xsie_torture faults  --vmlinux V --report R [--max-nth N]
//
// Each prints one line per case ("NAME: ..."); the lab scripts judge them.
// Exits non-zero only when it cannot set up (no module, bad report).
#include <bpf/bpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "runtime/running_kernel.h"
#include "runtime/transaction.h"
#include "scope/scope_table.h"
#include "util/files.h"
#include "x_sie_uapi.h"

using namespace kx;

namespace {

[[noreturn]] void die(const std::string &why) {
  fprintf(stderr, "kx_xsie_torture: %s\n", why.c_str());
  exit(2);
}

template <typename T>
T must(Result<T> r, const std::string &what) {
  if (!r) die(what + ": " + r.error().message);
  return std::move(*r);
}

struct Setup {
  std::unique_ptr<VmlinuxImage> image;
  RunningKernel running;
  std::vector<nlohmann::json> reports;
};

Setup setup(const std::string &vmlinux, const std::vector<std::string> &reports) {
  Setup s;
  s.image = must(VmlinuxImage::open(vmlinux), "opening " + vmlinux);
  uint64_t base = s.image->text_base() ? s.image->text_base() : kDefaultTextBase;
  s.running = must(inspect_running_kernel(base), "reading the running kernel");
  for (auto &r : reports) s.reports.push_back(nlohmann::json::parse(must(read_file(r), "reading " + r)));
  return s;
}

// The transaction `kx set` would load for the reports, each at its compiled value.
Transaction plan(const Setup &s, TransitionMode mode, int policy_fd = -1, int slot_fd = -1, bool static_path = true) {
  std::vector<ConstRequest> reqs;
  for (auto &r : s.reports) {
    reqs.push_back({r, report_value(r).value_or(0), policy_fd, slot_fd});
    reqs.back().static_path = static_path;
  }
  return must(plan_transaction(reqs, *s.image, s.running.build_id, s.running.slide, mode), "planning");
}

struct Device {
  int fd;
  Device() {
    fd = open("/dev/" X_SIE_DEVICE, O_RDWR | O_CLOEXEC);
    if (fd < 0) die(std::string("cannot open /dev/" X_SIE_DEVICE ": ") + strerror(errno));
  }
  ~Device() { close(fd); }
};

void fill_build_id(x_sie_load &req, const std::string &hex) {
  for (size_t i = 0; i < X_SIE_BUILD_ID_LEN && 2 * i + 1 < hex.size(); ++i)
    req.build_id[i] = static_cast<uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
}

// The request's own arrays, so mutations never touch the plan.
struct Request {
  x_sie_load req{};
  std::vector<x_sie_const> consts;
  std::vector<x_sie_span> spans;
  std::vector<x_sie_ss> ss;
  explicit Request(const Transaction &t) : consts(t.consts), spans(t.spans), ss(t.safe_spans) {
    req.abi_version = X_SIE_ABI_VERSION;
    req.n_consts = static_cast<uint32_t>(consts.size());
    req.n_spans = static_cast<uint32_t>(spans.size());
    req.n_ss = static_cast<uint32_t>(ss.size());
    req.transition = t.transition;
    fill_build_id(req, t.build_id);
    point();
  }
  void point() {
    req.consts = reinterpret_cast<uintptr_t>(consts.data());
    req.spans = reinterpret_cast<uintptr_t>(spans.data());
    req.ss = reinterpret_cast<uintptr_t>(ss.data());
  }
};

struct Outcome {
  int err = 0;  // 0: accepted
  uint32_t tx = 0;
  std::string error;
};

Outcome load(const Device &d, x_sie_load &req) {
  Outcome o;
  if (ioctl(d.fd, X_SIE_IOC_LOAD, &req) != 0) {
    o.err = errno;
    req.error[sizeof req.error - 1] = 0;
    o.error = req.error;
  } else {
    o.tx = req.tx_id;
  }
  return o;
}

int unload(const Device &d, uint32_t tx, bool force, uint32_t timeout_ms = 5000, std::string *error = nullptr) {
  x_sie_unload u{};
  u.abi_version = X_SIE_ABI_VERSION;
  u.tx_id = tx;
  u.force = force;
  u.timeout_ms = timeout_ms;
  int r = ioctl(d.fd, X_SIE_IOC_UNLOAD, &u) == 0 ? 0 : errno;
  if (error) *error = std::string(u.error, strnlen(u.error, sizeof u.error));
  return r;
}

// One STATUS ioctl with room for everything the module can hold: its
// transactions and their spans, each trimmed to what was filled.
struct Status {
  std::vector<x_sie_tx_status> txs;
  std::vector<x_sie_span_status> spans;
};

Status status(const Device &d) {
  Status out{std::vector<x_sie_tx_status>(X_SIE_MAX_TXS), std::vector<x_sie_span_status>(X_SIE_MAX_SPANS * X_SIE_MAX_TXS)};
  x_sie_status st{};
  st.abi_version = X_SIE_ABI_VERSION;
  st.capacity = static_cast<uint32_t>(out.spans.size());
  st.spans = reinterpret_cast<uintptr_t>(out.spans.data());
  st.tx_capacity = static_cast<uint32_t>(out.txs.size());
  st.txs = reinterpret_cast<uintptr_t>(out.txs.data());
  if (ioctl(d.fd, X_SIE_IOC_STATUS, &st) != 0) die(std::string("status: ") + strerror(errno));
  out.txs.resize(std::min<uint32_t>(st.n_transactions, st.tx_capacity));
  out.spans.resize(std::min<uint32_t>(st.n_spans, st.capacity));
  return out;
}

// Waits (bounded) for a transaction's switch to its new values.
void settle(const Device &d, uint32_t tx) {
  for (int i = 0; i < 500; ++i) {
    for (auto &t : status(d).txs)
      if (t.tx_id == tx && t.phase != X_SIE_PHASE_SWITCHING) return;
    usleep(10000);
  }
}

// Until a span of `tx` runs on the static path (the reaper patches after the switch).
bool settle_static(const Device &d, uint32_t tx) {
  for (int i = 0; i < 500; ++i) {
    for (auto &sp : status(d).spans)
      if (sp.tx_id == tx && sp.probe_state == X_SIE_PROBE_STATIC) return true;
    usleep(10000);
  }
  return false;
}

// ---- BPF programs no X-tune stub would produce ----

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
const bpf_insn kRet0 = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
const bpf_insn kExit = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
bpf_insn call(int helper) { return insn(BPF_JMP | BPF_CALL, 0, 0, 0, helper); }

struct Prog {
  int fd = -1;
  std::string refused;  // the kernel's refusal at BPF load
};

Prog load_prog(bpf_prog_type type, std::vector<bpf_insn> body, bpf_attach_type expected = bpf_attach_type(0),
               uint32_t flags = 0) {
  body.push_back(kRet0);
  body.push_back(kExit);
  static char log[65536];
  LIBBPF_OPTS(bpf_prog_load_opts, o);
  o.prog_flags = flags;
  o.expected_attach_type = expected;
  o.log_level = 1;
  o.log_size = sizeof log;
  o.log_buf = log;
  Prog p;
  log[0] = 0;
  p.fd = bpf_prog_load(type, "xsie_hostile", "GPL", body.data(), body.size(), &o);
  if (p.fd < 0) {
    std::string l = log;
    while (!l.empty() && l.back() == '\n') l.pop_back();
    auto nl = l.rfind('\n');
    p.refused = std::string(strerror(errno)) + (l.empty() ? "" : ": " + l.substr(nl == std::string::npos ? 0 : nl + 1));
  }
  return p;
}

int slot_map(bpf_map_type type = BPF_MAP_TYPE_PERCPU_ARRAY) {
  int fd = bpf_map_create(type, "x_sie_slot", sizeof(uint32_t), sizeof(x_sie_slot), 1, nullptr);
  if (fd < 0) die(std::string("creating a slot map: ") + strerror(errno));
  return fd;
}

int hostile(const Setup &s, const std::string &trigger) {
  Device d;
  struct Case {
    std::string name;
    Prog prog;
    bpf_map_type map = BPF_MAP_TYPE_PERCPU_ARRAY;
  };
  std::vector<Case> cases;
  cases.push_back({"kprobe_multi", load_prog(BPF_PROG_TYPE_KPROBE, {}, BPF_TRACE_KPROBE_MULTI)});
  cases.push_back({"socket_filter", load_prog(BPF_PROG_TYPE_SOCKET_FILTER, {})});
  cases.push_back({"sleepable", load_prog(BPF_PROG_TYPE_KPROBE, {}, bpf_attach_type(0), BPF_F_SLEEPABLE)});
  cases.push_back({"override_return",
                   load_prog(BPF_PROG_TYPE_KPROBE, {insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0, 0, 0),
                                                    call(BPF_FUNC_override_return)})});
  cases.push_back({"hash_slot", load_prog(BPF_PROG_TYPE_KPROBE, {}), BPF_MAP_TYPE_HASH});
  // The context helpers of kprobe programs: they must run, not fault.
  cases.push_back({"attach_cookie", load_prog(BPF_PROG_TYPE_KPROBE, {call(BPF_FUNC_get_attach_cookie)})});
  cases.push_back({"func_ip", load_prog(BPF_PROG_TYPE_KPROBE, {call(BPF_FUNC_get_func_ip)})});
  {
    Case c{"not_bpf", {}};
    c.prog.fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    cases.push_back(c);
  }
  for (auto &c : cases) {
    if (c.prog.fd < 0) {
      printf("%s: refused by the kernel's BPF loader: %s\n", c.name.c_str(), c.prog.refused.c_str());
      continue;
    }
    int map = slot_map(c.map);
    Request r(plan(s, TransitionMode::global, c.prog.fd, map));
    Outcome o = load(d, r.req);
    if (o.err) {
      printf("%s: refused by x-sie.ko (%s): %s\n", c.name.c_str(), strerror(o.err), o.error.c_str());
    } else {
      settle(d, o.tx);
      if (!trigger.empty() && system(trigger.c_str()) != 0) fprintf(stderr, "trigger failed\n");
      uint64_t runs = 0, busy = 0;
      for (auto &sp : status(d).spans)
        if (sp.tx_id == o.tx) runs += sp.policy_runs, busy += sp.policy_busy;
      std::string error;
      int u = unload(d, o.tx, false, 10000, &error);
      printf("%s: loaded as transaction %u, ran %llu times (%llu not run), unloaded: %s\n", c.name.c_str(), o.tx,
             static_cast<unsigned long long>(runs), static_cast<unsigned long long>(busy),
             u ? (strerror(u) + std::string(": ") + error).c_str() : "ok");
      if (u) unload(d, o.tx, true);
    }
    close(map);
    close(c.prog.fd);
  }
  return 0;
}

// ---- random and mutated requests ----

struct Addresses {
  std::vector<uint64_t> hostile;  // kernel data, MMIO, module text, init text, user, non-canonical
};

uint64_t kallsyms(const std::string &text, const std::string &sym, bool module = false) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string addr, type, name, mod;
    l >> addr >> type >> name >> mod;
    if (name == sym || (module && !mod.empty() && mod == "[" + sym + "]" && (type == "t" || type == "T")))
      return std::stoull(addr, nullptr, 16);
  }
  return 0;
}

Addresses hostile_addresses() {
  Addresses a;
  auto kall = read_file("/proc/kallsyms");
  std::string ks = kall ? *kall : "";
  for (uint64_t x : {kallsyms(ks, "jiffies"), kallsyms(ks, "init_task"), kallsyms(ks, "_sinittext"),
                     kallsyms(ks, "x_sie", true), kallsyms(ks, "__bss_start")})
    if (x) a.hostile.push_back(x);
  // An MMIO mapping: the first ioremap in vmalloc space.
  auto vmalloc = read_file("/proc/vmallocinfo");
  std::istringstream vm(vmalloc ? *vmalloc : "");
  std::string line;
  while (std::getline(vm, line))
    if (line.find("ioremap") != std::string::npos) {
      a.hostile.push_back(std::stoull(line.substr(2), nullptr, 16));
      break;
    }
  for (uint64_t x : {0x1000ull, 0x00007fff00000000ull, 0x8000000000000000ull, 0xffff800000000000ull, ~0ull, 0ull})
    a.hostile.push_back(x);
  return a;
}

template <typename T>
void flip_bytes(std::mt19937_64 &rng, T *obj, size_t count, int flips) {
  auto *b = reinterpret_cast<uint8_t *>(obj);
  for (int i = 0; i < flips; ++i) b[rng() % (sizeof(T) * count)] ^= static_cast<uint8_t>(1 + rng() % 255);
}

void mutate(std::mt19937_64 &rng, Request &r, const Addresses &a) {
  auto pick = [&](size_t n) { return n ? rng() % n : 0; };
  uint64_t hostile = a.hostile[pick(a.hostile.size())];
  switch (rng() % 16) {
    case 0: r.req.abi_version = static_cast<uint32_t>(rng()); break;
    case 1: r.req.n_consts = static_cast<uint32_t>(rng() % 40); break;
    case 2: r.req.n_spans = static_cast<uint32_t>(rng() % 70); break;
    case 3: r.req.n_ss = static_cast<uint32_t>(rng() % 70); break;
    case 4: r.req.transition = static_cast<uint32_t>(rng() % 6); break;
    case 5: r.req.build_id[pick(X_SIE_BUILD_ID_LEN)] ^= 0x5a; break;
    case 6: (rng() & 1 ? r.req.spans : r.req.consts) = rng() & 1 ? hostile : rng(); break;
    case 7: if (!r.spans.empty()) r.spans[pick(r.spans.size())].probe.addr = hostile; break;
    case 8: if (!r.spans.empty()) r.spans[pick(r.spans.size())].probe.addr += 1 + pick(8); break;
    case 9: if (!r.ss.empty()) r.ss[pick(r.ss.size())].exits[0].addr = hostile; break;
    case 10: if (!r.ss.empty()) std::swap(r.ss[0].ranges[0][0], r.ss[0].ranges[0][1]); break;
    case 11: if (!r.spans.empty()) flip_bytes(rng, &r.spans[pick(r.spans.size())].prog, 1, 1 + rng() % 4); break;
    case 12: if (!r.spans.empty()) flip_bytes(rng, r.spans.data(), r.spans.size(), 1 + rng() % 8); break;
    case 13: if (!r.ss.empty()) flip_bytes(rng, r.ss.data(), r.ss.size(), 1 + rng() % 8); break;
    case 14: flip_bytes(rng, r.consts.data(), r.consts.size(), 1 + rng() % 4); break;
    default: {
      auto &c = r.consts[pick(r.consts.size())];
      c.policy_fd = static_cast<int>(rng() % 8);
      c.slot_fd = static_cast<int>(rng() % 8);
    }
  }
}

// `held`: a transaction kept active throughout, so statuses have records
// to copy to the fuzzed buffers and loads meet an occupied const.
int fuzz(const Setup &s, const Setup *held, int iterations, uint64_t seed) {
  Device d;
  std::mt19937_64 rng(seed);
  uint32_t held_tx = 0;
  if (held) {
    Request h(plan(*held, TransitionMode::global));
    Outcome o = load(d, h.req);
    if (o.err) die("loading the held transaction: " + o.error);
    held_tx = o.tx;
  }
  Addresses a = hostile_addresses();
  std::vector<Transaction> bases = {plan(s, TransitionMode::global), plan(s, TransitionMode::per_thread),
                                    plan(s, TransitionMode::immediate)};
  std::map<std::string, int> outcomes;
  int accepted = 0;
  for (int i = 0; i < iterations; ++i) {
    Request r(bases[rng() % bases.size()]);
    int n = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < n; ++k) mutate(rng, r, a);
    Outcome o = load(d, r.req);
    outcomes[o.err ? strerror(o.err) : "accepted"]++;
    if (!o.err) {
      ++accepted;
      int u = unload(d, o.tx, rng() & 1, 2000);
      if (u && unload(d, o.tx, true)) die("transaction " + std::to_string(o.tx) + " cannot be unloaded");
    }
    // Unloads of what does not exist, and statuses with odd buffers.
    x_sie_unload u{};
    u.abi_version = rng() % 4 ? X_SIE_ABI_VERSION : static_cast<uint32_t>(rng());
    u.tx_id = static_cast<uint32_t>(rng() % 100000);
    u.timeout_ms = static_cast<uint32_t>(rng());
    u.force = static_cast<uint32_t>(rng() % 3);
    if (ioctl(d.fd, X_SIE_IOC_UNLOAD, &u) == 0) outcomes["unload of a random id accepted"]++;
    x_sie_status st{};
    st.abi_version = X_SIE_ABI_VERSION;
    st.capacity = static_cast<uint32_t>(rng());
    st.tx_capacity = static_cast<uint32_t>(rng());
    st.spans = rng() & 1 ? a.hostile[rng() % a.hostile.size()] : 0;
    st.txs = rng() & 1 ? a.hostile[rng() % a.hostile.size()] : 0;
    int rc = ioctl(d.fd, X_SIE_IOC_STATUS, &st);
    outcomes[std::string("status ") + (rc ? strerror(errno) : "ok")]++;
    // A random ioctl number with a random argument.
    if (ioctl(d.fd, static_cast<unsigned long>(rng() & 0xffffffff), static_cast<unsigned long>(rng())) == 0)
      outcomes["a random ioctl succeeded"]++;
  }
  if (held_tx && unload(d, held_tx, false) && unload(d, held_tx, true)) die("the held transaction cannot be unloaded");
  printf("fuzz: %d requests, %d accepted\n", iterations, accepted);
  for (auto &[k, v] : outcomes) printf("fuzz outcome: %s: %d\n", k.c_str(), v);
  return 0;
}

// ---- injected failures ----

void set_fail_nth(unsigned n) {
  std::ofstream f("/sys/module/x_sie/parameters/fail_nth");
  if (!(f << n)) die("cannot write /sys/module/x_sie/parameters/fail_nth");
}

int faults(const Setup &s, int max_nth) {
  Device d;
  // Probes only: the static path's steps run later, in the reaper (its own case below).
  Transaction t = plan(s, TransitionMode::global, -1, -1, false);
  // Every fallible step of a load fails once in turn: refused cleanly, or loaded and unloadable.
  for (int n = 1; n <= max_nth; ++n) {
    Request r(t);
    set_fail_nth(static_cast<unsigned>(n));
    Outcome o = load(d, r.req);
    set_fail_nth(0);
    if (o.err) {
      printf("load, step %d fails: refused (%s): %s\n", n, strerror(o.err), o.error.c_str());
      continue;
    }
    std::string error;
    int u = unload(d, o.tx, false, 10000, &error);
    printf("load, step %d fails: loaded (the load has fewer steps), unloaded: %s\n", n,
           u ? (strerror(u) + (": " + error)).c_str() : "ok");
  }
  // The switch back fails to register its monitors: nothing is detached and
  // the transaction stays active, so a retry switches back safely.
  Request r(t);
  Outcome o = load(d, r.req);
  if (o.err) die("a valid load was refused: " + o.error);
  settle(d, o.tx);
  set_fail_nth(1);
  std::string error;
  int u = unload(d, o.tx, false, 10000, &error);
  set_fail_nth(0);
  const char *phase = "gone";
  for (auto &x : status(d).txs)
    if (x.tx_id == o.tx)
      phase = x.phase == X_SIE_PHASE_ACTIVE ? "active" : x.phase == X_SIE_PHASE_SWITCHING ? "switching" : "reverting";
  printf("unload, monitor registration fails: %s (%s), transaction %s\n", u ? "refused" : "accepted",
         u ? error.c_str() : "", phase);
  u = unload(d, o.tx, false, 10000, &error);
  printf("unload retried: %s\n", u ? (strerror(u) + (": " + error)).c_str() : "ok");

  // On the static path, re-registering the update probe before the
  // compiled immediate goes back fails: the immediate stays, so does the
  // transaction, and a retry restores and switches back.
  Request rs(plan(s, TransitionMode::global));
  o = load(d, rs.req);
  if (o.err) die("a valid load was refused: " + o.error);
  if (!settle_static(d, o.tx)) die("no span went static");
  set_fail_nth(1);
  u = unload(d, o.tx, false, 10000, &error);
  set_fail_nth(0);
  bool active = false;
  for (auto &x : status(d).txs) active = active || (x.tx_id == o.tx && x.phase == X_SIE_PHASE_ACTIVE);
  printf("unload, static restore fails: %s (%s), transaction %s\n", u ? "refused" : "accepted", u ? error.c_str() : "",
         active ? "active" : "not active");
  u = unload(d, o.tx, false, 10000, &error);
  printf("static unload retried: %s\n", u ? (strerror(u) + (": " + error)).c_str() : "ok");
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  CLI::App app{"x-sie.ko hardening driver (lab only)"};
  app.require_subcommand(1);
  std::string vmlinux, trigger;
  std::vector<std::string> reports;
  int iterations = 500, max_nth = 12;
  uint64_t seed = 1;
  auto common = [&](CLI::App *c) {
    c->add_option("--vmlinux", vmlinux, "the profile's debug vmlinux")->required();
    c->add_option("--report", reports, "a saved kx show --json report")->required();
  };
  auto *h = app.add_subcommand("hostile", "policies the verifier accepts but no stub would produce");
  common(h);
  h->add_option("--trigger", trigger, "a shell command that runs the const's code while each policy is loaded");
  auto *f = app.add_subcommand("fuzz", "random and mutated requests");
  common(f);
  f->add_option("--iterations", iterations);
  f->add_option("--seed", seed);
  std::string hold;
  f->add_option("--hold", hold, "a report whose const stays set (at its compiled value) while fuzzing");
  auto *x = app.add_subcommand("faults", "a failure injected at every fallible step of a load, and of an unload");
  common(x);
  x->add_option("--max-nth", max_nth);
  CLI11_PARSE(app, argc, argv);
  Setup s = setup(vmlinux, reports);
  if (h->parsed()) return hostile(s, trigger);
  if (f->parsed()) {
    if (hold.empty()) return fuzz(s, nullptr, iterations, seed);
    Setup held = setup(vmlinux, {hold});
    return fuzz(s, &held, iterations, seed);
  }
  return faults(s, max_nth);
}
