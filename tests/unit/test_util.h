// Helpers shared by the unit tests.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "util/files.h"
#include "util/process.h"

namespace kx::test {

// A temporary directory removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() { path = make_temp_dir(std::filesystem::temp_directory_path(), "kx-test-").value(); }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path operator/(const std::string &p) const { return path / p; }
};

// Sets an environment variable for the scope of a test.
struct ScopedEnv {
  std::string name;
  std::string old;
  bool had;
  ScopedEnv(std::string n, const std::string &value) : name(std::move(n)) {
    const char *o = getenv(name.c_str());
    had = o != nullptr;
    if (had) old = o;
    setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had) setenv(name.c_str(), old.c_str(), 1);
    else unsetenv(name.c_str());
  }
};

#ifdef KX_BIN
// Runs the kx under test with ARGS (and ENV on top of this environment).
inline RunResult kx(const std::vector<std::string> &args, const std::map<std::string, std::string> &env = {}) {
  std::vector<std::string> argv = {KX_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions o;
  o.env = env;
  return run(argv, o).value();
}

// Analyses `consts` on the default profile's prepared kernel (kx build
// --if-stale: a current row costs nothing, cached test builds make a stale
// one quick), so the tests that plan real transactions run on a fresh
// machine and after every change to the analysis too. Empty when done;
// otherwise why not, for GTEST_SKIP where no kernel is prepared.
inline std::string analyse_if_stale(const std::vector<std::string> &consts) {
  for (auto &c : consts) {
    auto r = run({KX_BIN, "build", "--if-stale", c});
    if (!r) return r.error().message;
    if (r->exit_code != 0) return r->output.find("is not prepared") != std::string::npos ? r->output : "FAILED: " + r->output;
  }
  return "";
}
#endif

}  // namespace kx::test
