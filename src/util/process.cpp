#include "util/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

extern char **environ;

namespace kx {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> merged_env(const std::map<std::string, std::string> &extra) {
  std::vector<std::string> out;
  for (char **e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos && extra.count(kv.substr(0, eq))) continue;
    out.push_back(kv);
  }
  for (auto &[k, v] : extra) out.push_back(k + "=" + v);
  return out;
}

std::vector<char *> cstrs(std::vector<std::string> &v) {
  std::vector<char *> out;
  for (auto &s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

}  // namespace

std::optional<fs::path> find_program(const std::string &name) {
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), X_OK) == 0) return fs::path(name);
    return std::nullopt;
  }
  const char *path = getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    fs::path cand = fs::path(p.substr(start, end - start)) / name;
    if (access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  return std::nullopt;
}

std::string tail_lines(const std::string &text, size_t n) {
  size_t pos = text.size();
  if (pos && text[pos - 1] == '\n') --pos;
  for (size_t i = 0; i < n && pos != std::string::npos && pos > 0; ++i) {
    pos = text.rfind('\n', pos - 1);
  }
  return (pos == std::string::npos || pos == 0) ? text : text.substr(pos + 1);
}

Result<RunResult> run(const std::vector<std::string> &argv, const RunOptions &opts) {
  if (argv.empty()) return make_error("run: empty command");
  if (!find_program(argv[0])) return make_error("command not found: " + argv[0]);

  int pipefd[2] = {-1, -1};
  if (opts.capture && pipe2(pipefd, O_CLOEXEC) != 0)
    return make_error(std::string("pipe: ") + strerror(errno));

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (opts.capture) {
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  }
  if (!opts.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, opts.cwd.c_str());

  std::vector<std::string> args = argv, env = merged_env(opts.env);
  auto cargv = cstrs(args), cenv = cstrs(env);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0].c_str(), &fa, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  if (opts.capture) close(pipefd[1]);
  if (rc != 0) {
    if (opts.capture) close(pipefd[0]);
    return make_error("cannot start " + argv[0] + ": " + strerror(rc));
  }

  RunResult res;
  if (opts.capture) {
    std::ofstream log;
    if (opts.log) log.open(*opts.log, std::ios::app);
    char buf[65536];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof buf)) != 0) {
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      res.output.append(buf, n);
      if (log) log.write(buf, n);
    }
    close(pipefd[0]);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  res.exit_code = decode_status(status);
  return res;
}

Result<std::string> run_checked(const std::vector<std::string> &argv, const RunOptions &opts) {
  KX_ASSIGN(r, run(argv, opts));
  if (r.exit_code != 0) {
    std::string cmd;
    for (auto &a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    std::string msg = cmd + " exited with " + std::to_string(r.exit_code);
    if (!r.output.empty()) msg += ":\n" + tail_lines(r.output, 15);
    return make_error(msg);
  }
  return std::move(r.output);
}

Result<pid_t> spawn(const std::vector<std::string> &argv, int out_fd, int err_fd) {
  if (argv.empty()) return make_error("spawn: empty command");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (out_fd >= 0) posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group: a Ctrl-C on the terminal reaches us, and we decide
  // how the child is stopped (and that it is).
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attr, &empty);
  std::vector<std::string> args = argv;
  auto cargv = cstrs(args);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0].c_str(), &fa, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return make_error("cannot start " + argv[0] + ": " + strerror(rc));
  return pid;
}

}  // namespace kx
