// kx's error paths: one clear line on stderr and a non-zero exit.
#include <gtest/gtest.h>

#include "test_util.h"

namespace kx {
namespace {

using test::kx;

// Exactly one "kx: error:" line, containing `what`.
void expect_error(const RunResult &r, int code, const std::string &what) {
  EXPECT_EQ(r.exit_code, code) << r.output;
  EXPECT_EQ(r.output.rfind("kx: error: ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find(what), std::string::npos) << r.output;
}

TEST(Cli, UnknownVerbIsAUsageError) { expect_error(kx({"frobnicate"}), 2, "frobnicate"); }

TEST(Cli, NoVerbIsAUsageError) { expect_error(kx({}), 2, "subcommand"); }

TEST(Cli, UnknownProfileIsRefused) {
  expect_error(kx({"--profile", "debian-9-bogus", "kernel", "show"}), 1, "unknown kernel profile 'debian-9-bogus'");
  expect_error(kx({"kernel", "prepare"}, {{"KX_PROFILE", "tree:/nonexistent/linux"}}), 1, "has no vmlinux");
}

TEST(Cli, MissingPackagesAreNamed) {
  test::TempDir home;
  auto r = kx({"--profile", "debian-6.1.0-999-cloud-amd64", "kernel", "prepare", "--no-install"},
              {{"KX_HOME", home.path.string()}});
  expect_error(r, 1, "missing packages: linux-image-6.1.0-999-cloud-amd64 linux-headers-6.1.0-999-cloud-amd64");
  EXPECT_TRUE(std::filesystem::is_empty(home.path));  // nothing left behind
}

TEST(Cli, LabWithoutQemuSaysSo) {
  test::TempDir home;
  auto r = kx({"lab", "run", "--", "true"}, {{"KX_HOME", home.path.string()}, {"PATH", "/nonexistent"}});
  expect_error(r, 1, "qemu-system-x86_64 not found");
  EXPECT_TRUE(std::filesystem::is_empty(home.path));
}

TEST(Cli, LabRunNeedsACommand) { expect_error(kx({"lab", "run"}), 2, "command"); }

TEST(Cli, LabRunRejectsNonsenseLimits) {
  test::TempDir home;
  expect_error(kx({"lab", "run", "--smp", "0", "--", "true"}, {{"KX_HOME", home.path.string()}}), 1,
               "--smp and --timeout must be positive");
  expect_error(kx({"lab", "run", "--timeout", "abc", "--", "true"}), 2, "--timeout");
  std::map<std::string, std::string> env = {{"KX_HOME", home.path.string()}};
  expect_error(kx({"lab", "run", "--numa", "0", "--", "true"}, env), 1, "--numa takes 1 to 8 nodes");
  expect_error(kx({"lab", "run", "--numa", "2", "--smp", "3", "--", "true"}, env), 1, "--smp must be a multiple");
  expect_error(kx({"lab", "run", "--numa", "2", "--mem", "257M", "--", "true"}, env), 1, "does not split into 2");
  expect_error(kx({"lab", "run", "--numa", "2", "--mem", "2T", "--", "true"}, env), 1, "bad memory size '2T'");
}

TEST(Cli, UnpreparedKernelIsReportedByShow) {
  test::TempDir home;
  auto r = kx({"kernel", "show"}, {{"KX_HOME", home.path.string()}});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"prepared\": false"), std::string::npos) << r.output;
}

TEST(Cli, DoctorReportsWhereTheRuntimeRuns) {
  auto r = kx({"doctor", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"kprobes\""), std::string::npos);
  EXPECT_NE(r.output.find("\"runtime\""), std::string::npos);
}

}  // namespace
}  // namespace kx
