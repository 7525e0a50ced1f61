// kx set / reset / status where the runtime cannot run (this host: no
// kprobes, no modules) and on bad input: one clear line, nothing loaded.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "host/doctor.h"
#include "runtime/x_runtime.h"
#include "test_util.h"

namespace kx {
namespace {

using test::kx;

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

// A dry run needs only the profile's prepared kernel and the const's
// analysis: it runs here, where x-sie.ko cannot, and touches nothing.
TEST(RuntimeCli, ADryRunPrintsThePlanWhereTheRuntimeCannotRun) {
  if (auto why = test::analyse_if_stale({"BLK_MAX_REQUEST_COUNT"}); !why.empty()) {
    ASSERT_EQ(why.rfind("FAILED", 0), std::string::npos) << why;
    GTEST_SKIP() << why;
  }
  auto r = kx({"set", "--dry-run", "BLK_MAX_REQUEST_COUNT=8", "--transition", "per-thread"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("nothing attached"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("transition: per-thread"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("BLK_MAX_REQUEST_COUNT = 8, proven for ["), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("critical span blk_start_plug_nr_ios+0x22"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("capture 0x"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("safe span entry 0x"), std::string::npos) << r.output;

  auto j = kx({"set", "--dry-run", "--json", "BLK_MAX_REQUEST_COUNT=8"});
  ASSERT_EQ(j.exit_code, 0) << j.output;
  auto plan = nlohmann::json::parse(j.output);
  EXPECT_EQ(plan["dry_run"], true);
  EXPECT_EQ(plan["transition"], "global");
  EXPECT_EQ(plan["consts"][0]["critical_spans"].size(), 2u);
  if (!inspect_host().native) {
    EXPECT_FALSE(x_sie_loaded());
  }

  expect_error(kx({"set", "--dry-run", "BLK_MAX_REQUEST_COUNT=99999999999"}), "is outside [");
  auto usage = kx({"set", "--json", "BLK_MAX_REQUEST_COUNT=8"});
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
}

// kx load --dry-run compiles the policy and plans its consts, loading
// nothing into the kernel.
TEST(RuntimeCli, ADryRunLoadPlansThePolicysConsts) {
  if (!find_program("clang")) GTEST_SKIP() << "needs clang";
  if (auto why = test::analyse_if_stale({"SHRINK_BATCH"}); !why.empty()) {
    ASSERT_EQ(why.rfind("FAILED", 0), std::string::npos) << why;
    GTEST_SKIP() << why;
  }
  auto r = kx({"load", "--dry-run", std::string(KX_FIXTURES) + "/../../examples/policies/per_shrinker.bpf.c"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("nothing attached"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("SHRINK_BATCH: set by an X-tune policy, proven for ["), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("critical span do_shrink_slab+"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace kx
