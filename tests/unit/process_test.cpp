#include <gtest/gtest.h>

#include "test_util.h"

namespace kx {
namespace {

TEST(Process, CapturesOutputAndExitCode) {
  auto r = run({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_NE(r->output.find("out\n"), std::string::npos);
  EXPECT_NE(r->output.find("err\n"), std::string::npos);
}

TEST(Process, ArgumentsAreNotReinterpretedByAShell) {
  auto r = run({"printf", "%s", "a b'c;$(x)"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->output, "a b'c;$(x)");
}

TEST(Process, RunCheckedNamesCommandAndShowsOutputTail) {
  auto r = run_checked({"sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo line$i; done; exit 2"});
  ASSERT_FALSE(r);
  const auto &m = r.error().message;
  EXPECT_NE(m.find("exited with 2"), std::string::npos);
  EXPECT_NE(m.find("line20"), std::string::npos);
  EXPECT_EQ(m.find("line3\n"), std::string::npos);  // only the tail
}

TEST(Process, MissingProgramIsAClearError) {
  auto r = run({"kx-no-such-program-xyz"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "command not found: kx-no-such-program-xyz");
}

TEST(Process, WorkingDirectoryAndEnvironment) {
  test::TempDir d;
  RunOptions o;
  o.cwd = d.path;
  o.env["KX_TEST_VAR"] = "v1";
  auto r = run({"sh", "-c", "pwd; echo $KX_TEST_VAR"}, o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->output, d.path.string() + "\nv1\n");
}

TEST(Process, TailLines) {
  EXPECT_EQ(tail_lines("a\nb\nc\n", 2), "b\nc\n");
  EXPECT_EQ(tail_lines("a\nb", 5), "a\nb");
}

}  // namespace
}  // namespace kx
