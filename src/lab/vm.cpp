#include "lab/vm.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <thread>

#include "lab/console_log.h"
#include "lab/guest_scripts.h"
#include "lab/initramfs.h"
#include "util/files.h"
#include "util/process.h"

namespace kx {
namespace fs = std::filesystem;

namespace {

volatile sig_atomic_t g_stop_signal = 0;
void on_signal(int sig) { g_stop_signal = sig; }

const char *kVirtiofsd = "/usr/lib/qemu/virtiofsd";

// A child we started; stopped (TERM, then KILL) and reaped on every path.
class Child {
 public:
  explicit Child(pid_t pid = -1) : pid_(pid) {}
  Child(const Child &) = delete;
  Child(Child &&o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Child &operator=(Child &&o) noexcept {
    std::swap(pid_, o.pid_);
    return *this;
  }
  ~Child() { stop(); }
  pid_t pid() const { return pid_; }
  // Non-blocking: true once the child has exited (status in `code`).
  bool exited(int &code) {
    if (pid_ < 0) return true;
    int st;
    if (waitpid(pid_, &st, WNOHANG) != pid_) return false;
    code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    pid_ = -1;
    return true;
  }
  void stop() {
    if (pid_ < 0) return;
    kill(-pid_, SIGTERM);
    for (int i = 0; i < 40; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

// Removes the run directory unless asked to keep it.
struct RunDir {
  fs::path path;
  bool keep = false;
  ~RunDir() {
    std::error_code ec;
    if (!keep && !path.empty()) fs::remove_all(path, ec);
  }
};

// Restores the previous signal handlers when the run ends.
struct SignalScope {
  struct sigaction old_int {}, old_term {}, old_hup {};
  SignalScope() {
    g_stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
  }
  ~SignalScope() {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
    sigaction(SIGHUP, &old_hup, nullptr);
  }
};

Result<Child> start_virtiofsd(const fs::path &socket, const fs::path &source, const std::string &cache,
                              const fs::path &log) {
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return make_error("cannot open " + log.string());
  auto pid = spawn({kVirtiofsd, "--socket-path=" + socket.string(), "-o", "source=" + source.string(),
                    "-o", "cache=" + cache, "-o", "sandbox=chroot"},
                   fd, fd);
  close(fd);
  if (!pid) return pid.error();
  Child c(*pid);
  // QEMU needs the socket to exist when it starts.
  for (int i = 0; i < 100 && !fs::exists(socket); ++i) {
    int code = 0;
    if (c.exited(code)) return make_error("virtiofsd exited with " + std::to_string(code) + " (see " + log.string() + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!fs::exists(socket)) return make_error("virtiofsd did not create " + socket.string());
  return c;
}

std::string command_script(const LabOptions &o) {
  std::string s = "KX_RESULTS=" + shell_quote(o.results.string()) + "\nKX_CWD=" + shell_quote(o.cwd.string()) +
                  "\nexport KX_RESULTS\n";
  // kx inside the guest must see the same caches and profile as outside.
  for (const char *var : {"KX_HOME", "KX_PROFILE"})
    if (const char *v = getenv(var); v && *v) s += std::string("export ") + var + "=" + shell_quote(v) + "\n";
  s += "set --";
  for (auto &a : o.command) s += " " + shell_quote(a);
  return s + "\n";
}

}  // namespace

std::string shell_quote(const std::string &s) {
  std::string out = "'";
  for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

Result<uint64_t> mem_mib(const std::string &size) {
  size_t digits = 0;
  while (digits < size.size() && isdigit(static_cast<unsigned char>(size[digits]))) ++digits;
  std::string unit = size.substr(digits);
  if (digits == 0 || digits > 12 || unit.size() > 1) return make_error("bad memory size '" + size + "' (e.g. 2G, 1536M)");
  uint64_t n = std::stoull(size.substr(0, digits));
  if (unit.empty() || unit == "M" || unit == "m") return n;
  if (unit == "G" || unit == "g") return n * 1024;
  return make_error("bad memory size '" + size + "' (units: M, G)");
}

std::vector<std::string> qemu_argv(const KernelProfile &p, const LabOptions &o, const fs::path &initramfs,
                                   const fs::path &run_dir, bool results_share) {
  // A kernel that oopsed, locked up or stalled RCU may never finish the
  // command: panic at once instead, and QEMU (-no-reboot, panic=-1) exits,
  // so the run ends with the trace rather than at --timeout.
  std::string append =
      "console=ttyS0 loglevel=5 panic=-1 oops=panic softlockup_panic=1 sysctl.kernel.panic_on_rcu_stall=1 "
      "rdinit=/init kxrun=" + run_dir.string();
  for (auto &a : o.kernel_args) append += " " + a;
  // Single-threaded TCG: with one host thread per vCPU (MTTCG), a vCPU kept
  // executing a stale int3 after another vCPU's text_poke restored the byte
  // (kprobe unregistered under load: soft lockup at the old probe address,
  // never on one vCPU or round-robin). Round-robin is as fast here (2 cores).
  // With NUMA, a socket per node: vCPUs sharing a last-level cache across
  // nodes make the guest warn at boot (topology_sane), and the lab fails on
  // warnings. lab_run has checked that --smp and --mem divide evenly.
  int per_socket = o.smp / std::max(o.numa_nodes, 1);
  std::string smp = std::to_string(o.smp);
  if (o.numa_nodes > 1)
    smp += ",sockets=" + std::to_string(o.numa_nodes) + ",cores=" + std::to_string(per_socket) + ",threads=1";
  std::vector<std::string> argv = {
      "qemu-system-x86_64", "-accel", "tcg,thread=single", "-cpu", "max", "-smp", smp, "-m", o.mem};
  // virtiofs needs guest memory QEMU can share with virtiofsd: one shared
  // backend per NUMA node.
  if (o.numa_nodes <= 1) {
    argv.insert(argv.end(), {"-object", "memory-backend-memfd,id=mem,size=" + o.mem + ",share=on", "-numa",
                             "node,memdev=mem"});
  } else {
    auto mib = mem_mib(o.mem);
    uint64_t per_node = mib ? *mib / o.numa_nodes : 0;
    for (int n = 0; n < o.numa_nodes; ++n) {
      std::string id = "mem" + std::to_string(n);
      std::string node = "node,nodeid=" + std::to_string(n) + ",memdev=" + id + ",cpus=" +
                         std::to_string(n * per_socket);
      if (per_socket > 1) node += "-" + std::to_string((n + 1) * per_socket - 1);
      argv.insert(argv.end(), {"-object", "memory-backend-memfd,id=" + id + ",size=" + std::to_string(per_node) +
                                              "M,share=on",
                               "-numa", node});
    }
  }
  std::vector<std::string> rest = {
      "-chardev", "socket,id=kxroot,path=" + (run_dir / "root.sock").string(),
      "-device", "vhost-user-fs-pci,chardev=kxroot,tag=kxroot",
      "-kernel", p.image.string(), "-initrd", initramfs.string(), "-append", append,
      "-nographic", "-nodefaults", "-no-reboot",
      "-serial", "file:" + (run_dir / "console.log").string(),  // ttyS0: kernel log
      "-serial", "stdio"};                                      // ttyS1: the command's output
  argv.insert(argv.end(), rest.begin(), rest.end());
  if (results_share) {
    std::vector<std::string> rs = {"-chardev", "socket,id=kxresults,path=" + (run_dir / "results.sock").string(),
                                   "-device", "vhost-user-fs-pci,chardev=kxresults,tag=kxresults"};
    argv.insert(argv.end(), rs.begin(), rs.end());
  }
  return argv;
}

Result<int> lab_run(const KernelProfile &p, const LabOptions &o) {
  if (o.command.empty()) return make_error("no command given: kx lab run -- CMD [ARGS]");
  if (!find_program("qemu-system-x86_64")) return make_error("qemu-system-x86_64 not found (run scripts/setup.sh)");
  if (access(kVirtiofsd, X_OK) != 0) return make_error(std::string(kVirtiofsd) + " not found (run scripts/setup.sh)");
  if (!fs::exists(p.image)) return make_error("kernel image not found: " + p.image.string() + " (run kx kernel prepare)");
  if (o.smp < 1 || o.timeout_s < 1) return make_error("--smp and --timeout must be positive");
  if (o.numa_nodes < 1 || o.numa_nodes > 8) return make_error("--numa takes 1 to 8 nodes");
  if (o.numa_nodes > 1) {  // one node: --mem goes to QEMU as it is
    KX_ASSIGN(mib, mem_mib(o.mem));
    if (o.smp % o.numa_nodes) return make_error("--smp must be a multiple of --numa (a socket of vCPUs per node)");
    if (mib % o.numa_nodes || mib / o.numa_nodes < 256)
      return make_error("--mem " + o.mem + " does not split into " + std::to_string(o.numa_nodes) +
                        " equal NUMA nodes of at least 256M");
  }
  KX_ASSIGN(initramfs, lab_initramfs(p));

  RunDir dir;
  {
    KX_ASSIGN(d, make_temp_dir(kx_home() / "lab" / "runs", "run-"));
    dir.path = d;
  }
  dir.keep = o.keep_console;
  KX_TRY(write_file_atomic(dir.path / "stage2.sh", guest::kStage2Sh));
  KX_TRY(write_file_atomic(dir.path / "command.sh", command_script(o)));
  bool results_share = !o.results.empty();
  if (results_share) {
    std::error_code ec;
    fs::create_directories(o.results, ec);
    if (ec) return make_error("cannot create results dir " + o.results.string() + ": " + ec.message());
  }

  SignalScope signals;
  KX_ASSIGN(vroot, start_virtiofsd(dir.path / "root.sock", "/", "always", dir.path / "virtiofsd.log"));
  Child vres;
  if (results_share) {
    KX_ASSIGN(v, start_virtiofsd(dir.path / "results.sock", o.results, "auto", dir.path / "virtiofsd.log"));
    vres = std::move(v);
  }
  int qlog = open((dir.path / "qemu.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  auto qpid = spawn(qemu_argv(p, o, initramfs, dir.path, results_share), -1, qlog);
  close(qlog);
  if (!qpid) return qpid.error();
  Child qemu(*qpid);

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeout_s);
  int qemu_code = 0;
  bool timed_out = false;
  while (!qemu.exited(qemu_code)) {
    if (g_stop_signal) break;
    if (std::chrono::steady_clock::now() > deadline) {
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  qemu.stop();
  vroot.stop();
  vres.stop();
  fflush(stdout);

  auto console = read_file(dir.path / "console.log");
  ConsoleReport rep = scan_console(console ? *console : "");
  for (auto &m : rep.lab_messages) fprintf(stderr, "kx lab: %s\n", m.c_str());
  if (!rep.faults.empty()) {
    for (auto &f : rep.faults) fprintf(stderr, "kx lab: guest kernel %s:\n%s", f.kind.c_str(), f.trace.c_str());
    dir.keep = true;
    return make_error("the guest kernel reported " + rep.faults[0].kind + " during the run (trace above; log in " +
                      (dir.path / "console.log").string() + ")");
  }
  if (g_stop_signal) {
    fprintf(stderr, "kx lab: interrupted, guest stopped\n");
    return kLabInterrupted;
  }
  if (timed_out) {
    fprintf(stderr, "kx lab: timed out after %d s, guest stopped\n", o.timeout_s);
    return kLabTimeout;
  }
  if (!rep.exit_code) {
    dir.keep = true;
    auto qerr = read_file(dir.path / "qemu.log");
    return make_error("the guest stopped without reporting the command's exit status (qemu exit " +
                      std::to_string(qemu_code) + "; logs in " + dir.path.string() + ")" +
                      (qerr && !qerr->empty() ? ": " + tail_lines(*qerr, 3) : ""));
  }
  return *rep.exit_code;
}

}  // namespace kx
