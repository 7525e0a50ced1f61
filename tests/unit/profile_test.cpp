#include <gtest/gtest.h>

#include "kernel/profile.h"
#include "test_util.h"

namespace kx {
namespace {
namespace fs = std::filesystem;

TEST(Profile, DebianNameGivesEveryPath) {
  auto p = resolve_profile("debian-6.1.0-56-cloud-amd64");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->release, "6.1.0-56-cloud-amd64");
  EXPECT_EQ(p->image, "/boot/vmlinuz-6.1.0-56-cloud-amd64");
  EXPECT_EQ(p->debug_vmlinux, "/usr/lib/debug/boot/vmlinux-6.1.0-56-cloud-amd64");
  EXPECT_EQ(p->config, "/usr/src/linux-headers-6.1.0-56-cloud-amd64/.config");
  EXPECT_EQ(*p->source_tarball, "/usr/src/linux-source-6.1.tar.xz");
  EXPECT_EQ(p->packages, (std::vector<std::string>{"linux-image-6.1.0-56-cloud-amd64",
                                                   "linux-headers-6.1.0-56-cloud-amd64",
                                                   "linux-image-6.1.0-56-cloud-amd64-dbg", "linux-source-6.1"}));
}

TEST(Profile, OtherDebianFlavoursNeedNoCodeChange) {
  auto p = resolve_profile("debian-6.1.0-57-amd64");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->release, "6.1.0-57-amd64");
  EXPECT_EQ(*p->source_tarball, "/usr/src/linux-source-6.1.tar.xz");
  auto q = resolve_profile("debian-6.12.0-3-rt-amd64");
  ASSERT_TRUE(q);
  EXPECT_EQ(*q->source_tarball, "/usr/src/linux-source-6.12.tar.xz");
}

TEST(Profile, UnknownNameIsRefusedWithTheAcceptedForms) {
  for (auto bad : {"ubuntu-6.8", "debian-6.1.0-56-arm64", "debian-6.1-cloud-amd64", ""}) {
    auto p = resolve_profile(bad);
    ASSERT_FALSE(p) << bad;
    EXPECT_NE(p.error().message.find("unknown kernel profile"), std::string::npos);
    EXPECT_NE(p.error().message.find("tree:<path"), std::string::npos);
  }
}

TEST(Profile, TreeProfileUsesTheTreeInPlace) {
  test::TempDir d;
  for (auto f : {"vmlinux", ".config", "Makefile"}) ASSERT_TRUE(write_file_atomic(d / f, "x"));
  ASSERT_TRUE(write_file_atomic(d / "include/config/kernel.release", "6.9.0-custom\n"));
  auto p = resolve_profile("tree:" + d.path.string());
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->release, "6.9.0-custom");
  EXPECT_EQ(p->debug_vmlinux, d / "vmlinux");
  EXPECT_EQ(work_tree(*p), d.path);
  EXPECT_TRUE(p->packages.empty());
  EXPECT_EQ(p->name.rfind("tree-", 0), 0u);
}

TEST(Profile, TreeWithoutVmlinuxIsRefused) {
  test::TempDir d;
  auto p = resolve_profile("tree:" + d.path.string());
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("has no vmlinux"), std::string::npos);
}

TEST(Profile, HomeAndDefaultComeFromTheEnvironment) {
  {
    test::ScopedEnv home("KX_HOME", "/tmp/kx-home-test");
    test::ScopedEnv prof("KX_PROFILE", "debian-6.1.0-57-cloud-amd64");
    EXPECT_EQ(kx_home(), "/tmp/kx-home-test");
    EXPECT_EQ(default_profile_name(), "debian-6.1.0-57-cloud-amd64");
    auto p = resolve_profile(default_profile_name());
    ASSERT_TRUE(p);
    EXPECT_EQ(profile_cache_dir(*p), "/tmp/kx-home-test/kernels/debian-6.1.0-57-cloud-amd64");
    EXPECT_EQ(work_tree(*p), "/tmp/kx-home-test/kernels/debian-6.1.0-57-cloud-amd64/src");
  }
  test::ScopedEnv prof("KX_PROFILE", "");
  EXPECT_EQ(default_profile_name(), kBuiltinProfile);
}

}  // namespace
}  // namespace kx
