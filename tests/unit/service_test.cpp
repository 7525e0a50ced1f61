// packaging/kernelx.service: what systemd-analyze verify says of it (with
// ExecStart pointing at this build's kx, since kx is not installed here),
// and that it runs the apply the docs describe.
#include <gtest/gtest.h>

#include "test_util.h"

namespace kx {
namespace {

const std::string kUnit = std::string(KX_FIXTURES) + "/../../packaging/kernelx.service";

TEST(Service, RunsKxApplyOnTheConfigDirectory) {
  auto text = read_file(kUnit).value();
  EXPECT_NE(text.find("\nExecStart=/usr/bin/kx apply --config /etc/kernelx\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nType=oneshot\n"), std::string::npos);
  EXPECT_NE(text.find("\nRemainAfterExit=yes\n"), std::string::npos);
  EXPECT_NE(text.find("After=systemd-modules-load.service"), std::string::npos);
  EXPECT_NE(text.find("\nWantedBy=multi-user.target\n"), std::string::npos);
}

TEST(Service, SystemdAnalyzeVerifiesTheUnit) {
  if (!find_program("systemd-analyze")) GTEST_SKIP() << "no systemd-analyze here";
  test::TempDir dir;
  auto text = read_file(kUnit).value();
  for (size_t at; (at = text.find("/usr/bin/kx ")) != std::string::npos;) text.replace(at, 11, KX_BIN);
  ASSERT_TRUE(write_file_atomic(dir / "kernelx.service", text));
  auto r = run({"systemd-analyze", "verify", (dir / "kernelx.service").string()}).value();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("kernelx.service"), std::string::npos) << r.output;  // no warning about it
}

}  // namespace
}  // namespace kx
