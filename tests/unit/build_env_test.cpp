#include <gtest/gtest.h>

#include "kernel/build_env.h"
#include "test_util.h"

namespace kx {
namespace {

TEST(BuildEnv, ParsesDebianBanner) {
  auto b = parse_banner(
      "Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) "
      "12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)\n");
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->release, "6.1.0-56-cloud-amd64");
  EXPECT_EQ(b->user, "debian-kernel");
  EXPECT_EQ(b->host, "lists.debian.org");
  EXPECT_EQ(b->compiler_text, "gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0");
  EXPECT_EQ(b->version, "1");
  EXPECT_EQ(b->timestamp, "Debian 6.1.192-2 (2026-11-16)");
}

TEST(BuildEnv, ParsesPlainBuildBanner) {
  auto b = parse_banner("Linux version 6.9.0 (me@box) (gcc (GCC) 13.2.1 20230801, GNU ld (GNU Binutils) 2.41) "
                        "#3 SMP Tue Jan  2 10:00:00 UTC 2024");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->version, "3");
  EXPECT_EQ(b->compiler_text, "gcc (GCC) 13.2.1 20230801");
  EXPECT_EQ(b->timestamp, "Tue Jan  2 10:00:00 UTC 2024");
}

TEST(BuildEnv, RejectsGarbageBanner) {
  auto b = parse_banner("not a banner");
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("unrecognised kernel banner"), std::string::npos);
}

TEST(BuildEnv, ReadsCompilerFromConfig) {
  test::TempDir d;
  ASSERT_TRUE(write_file_atomic(d / ".config", "CONFIG_X=y\nCONFIG_CC_VERSION_TEXT=\"gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0\"\n"));
  auto t = config_compiler_text(d / ".config");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, "gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0");
  ASSERT_TRUE(write_file_atomic(d / "bad", "CONFIG_X=y\n"));
  EXPECT_FALSE(config_compiler_text(d / "bad"));
}

TEST(BuildEnv, RefusesAMismatchedCompiler) {
  test::TempDir d;
  ASSERT_TRUE(write_file_atomic(d / ".config", "CONFIG_CC_VERSION_TEXT=\"gcc (Debian 1.0) 1.0\"\n"));
  KernelProfile p;
  p.config = d / ".config";
  auto e = build_env(p);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("compiler mismatch"), std::string::npos) << e.error().message;
}

}  // namespace
}  // namespace kx
