// Running external tools (make, tar, apt-get, qemu): argv only, never a shell
// string, so paths with spaces or quotes cannot change the command.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/result.h"

namespace kx {

struct RunOptions {
  std::filesystem::path cwd;                 // empty: inherit
  std::map<std::string, std::string> env;    // added to the inherited environment
  bool capture = true;                       // false: output goes to our stdout/stderr
  std::optional<std::filesystem::path> log;  // capture also appends here
};

struct RunResult {
  int exit_code = 0;    // 128+N when killed by signal N
  std::string output;   // stdout+stderr, when captured
};

// Runs argv[0] (searched in PATH) and waits. An error only when it cannot start.
Result<RunResult> run(const std::vector<std::string> &argv, const RunOptions &opts = {});

// Like run(), but a non-zero exit is an error naming the command and the
// last lines of its output.
Result<std::string> run_checked(const std::vector<std::string> &argv, const RunOptions &opts = {});

// Starts a child in its own process group with stdout and stderr redirected
// to `out_fd` and `err_fd` (inherited when -1); stdin is /dev/null. The caller
// owns the pid.
Result<pid_t> spawn(const std::vector<std::string> &argv, int out_fd = -1, int err_fd = -1);

// Finds an executable in PATH (or checks an absolute path).
std::optional<std::filesystem::path> find_program(const std::string &name);

// The last `n` lines of `text`, for error messages.
std::string tail_lines(const std::string &text, size_t n);

}  // namespace kx
