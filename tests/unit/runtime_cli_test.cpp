// kx set / reset / status where the runtime cannot run (this host: no
// kprobes, no modules) and on bad input: one clear line, nothing loaded.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "host/doctor.h"
#include "runtime/x_runtime.h"
#include "test_util.h"

namespace kx {
namespace {

RunResult kx(const std::vector<std::string> &args) {
  std::vector<std::string> argv = {KX_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv).value();
}

void expect_error(const RunResult &r, const std::string &what) {
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output.rfind("kx: error: ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find(what), std::string::npos) << r.output;
}

TEST(RuntimeCli, BadAssignmentsAreNamed) {
  expect_error(kx({"set", "BLK_MAX_REQUEST_COUNT"}), "expected SPEC=VALUE or NAME=VALUE");
  expect_error(kx({"set", "BLK_MAX_REQUEST_COUNT=eight"}), "'eight' is not an integer");
  expect_error(kx({"set", "BLK_MAX_REQUEST_COUNT=8x"}), "'8x' is not an integer");
}

TEST(RuntimeCli, AHostWithoutKprobesOrModulesSaysSo) {
  if (inspect_host().native) GTEST_SKIP() << "this host runs the runtime natively";
  expect_error(kx({"set", "BLK_MAX_REQUEST_COUNT=8"}), "run the runtime in the lab VM");
  expect_error(kx({"reset", "5"}), "no active transaction 5 (x-sie.ko is not loaded)");
  expect_error(kx({"reset", "BLK_MAX_REQUEST_COUNT"}),
               "no active transaction holds BLK_MAX_REQUEST_COUNT (x-sie.ko is not loaded)");
  expect_error(kx({"unload", "BLK_MAX_REQUEST_COUNT"}),
               "no active transaction holds BLK_MAX_REQUEST_COUNT (x-sie.ko is not loaded)");
  expect_error(kx({"unload", "3"}), "no active transaction 3 (x-sie.ko is not loaded)");
  auto st = kx({"status", "--json"});
  ASSERT_EQ(st.exit_code, 0) << st.output;
  auto j = nlohmann::json::parse(st.output);
  EXPECT_EQ(j["module_loaded"], false);
  EXPECT_TRUE(j["transactions"].empty());
}

}  // namespace
}  // namespace kx
