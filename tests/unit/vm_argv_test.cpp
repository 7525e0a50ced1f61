#include <gtest/gtest.h>

#include <algorithm>

#include "lab/vm.h"
#include "test_util.h"

namespace kx {
namespace {

bool has_seq(const std::vector<std::string> &v, const std::string &a, const std::string &b) {
  for (size_t i = 0; i + 1 < v.size(); ++i)
    if (v[i] == a && v[i + 1] == b) return true;
  return false;
}

TEST(LabArgv, SharesMemoryOfTheRequestedSizeAndBootsTheProfileKernel) {
  KernelProfile p = resolve_profile("debian-6.1.0-56-cloud-amd64").value();
  LabOptions o;
  o.mem = "3G";
  o.smp = 4;
  o.kernel_args = {"retbleed=off"};
  auto argv = qemu_argv(p, o, "/c/initramfs.cpio", "/r/run-1", false);
  EXPECT_TRUE(has_seq(argv, "-accel", "tcg,thread=single"));  // see qemu_argv: MTTCG ran stale code
  EXPECT_TRUE(has_seq(argv, "-cpu", "max"));  // optprobes need it (design.md §2)
  EXPECT_TRUE(has_seq(argv, "-smp", "4"));
  EXPECT_TRUE(has_seq(argv, "-m", "3G"));
  EXPECT_TRUE(has_seq(argv, "-object", "memory-backend-memfd,id=mem,size=3G,share=on"));
  EXPECT_TRUE(has_seq(argv, "-kernel", "/boot/vmlinuz-6.1.0-56-cloud-amd64"));
  auto app = std::find(argv.begin(), argv.end(), "-append");
  ASSERT_NE(app, argv.end());
  EXPECT_NE(app[1].find("kxrun=/r/run-1"), std::string::npos);
  EXPECT_NE(app[1].find(" retbleed=off"), std::string::npos);
  // A hung or oopsed guest ends the run at once (QEMU exits on panic).
  for (const char *a : {" panic=-1", " oops=panic", " softlockup_panic=1", " sysctl.kernel.panic_on_rcu_stall=1"})
    EXPECT_NE(app[1].find(a), std::string::npos) << a;
  EXPECT_TRUE(has_seq(argv, "-no-reboot", "-serial"));
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "vhost-user-fs-pci,chardev=kxresults,tag=kxresults"), 0);
  auto with = qemu_argv(p, o, "/c/i", "/r/run-1", true);
  EXPECT_EQ(std::count(with.begin(), with.end(), "vhost-user-fs-pci,chardev=kxresults,tag=kxresults"), 1);
}

TEST(LabArgv, NumaSplitsMemoryIntoSharedNodesWithASocketEach) {
  KernelProfile p = resolve_profile("debian-6.1.0-56-cloud-amd64").value();
  LabOptions o;
  o.mem = "3G";
  o.smp = 4;
  o.numa_nodes = 2;
  auto argv = qemu_argv(p, o, "/c/i", "/r/run-1", false);
  EXPECT_TRUE(has_seq(argv, "-m", "3G"));
  EXPECT_TRUE(has_seq(argv, "-smp", "4,sockets=2,cores=2,threads=1"));
  EXPECT_TRUE(has_seq(argv, "-object", "memory-backend-memfd,id=mem0,size=1536M,share=on"));
  EXPECT_TRUE(has_seq(argv, "-object", "memory-backend-memfd,id=mem1,size=1536M,share=on"));
  EXPECT_TRUE(has_seq(argv, "-numa", "node,nodeid=0,memdev=mem0,cpus=0-1"));
  EXPECT_TRUE(has_seq(argv, "-numa", "node,nodeid=1,memdev=mem1,cpus=2-3"));
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "-numa"), 2);
  o.smp = 2;
  argv = qemu_argv(p, o, "/c/i", "/r/run-1", false);
  EXPECT_TRUE(has_seq(argv, "-numa", "node,nodeid=1,memdev=mem1,cpus=1"));
}

TEST(LabArgv, MemorySizesParseOrFailClearly) {
  EXPECT_EQ(mem_mib("2G").value(), 2048u);
  EXPECT_EQ(mem_mib("1536M").value(), 1536u);
  EXPECT_EQ(mem_mib("512").value(), 512u);
  for (std::string bad : {"", "G", "2T", "2GB", "-1G", "1.5G"}) EXPECT_FALSE(mem_mib(bad)) << bad;
}

TEST(LabArgv, ShellQuoteRoundTrips) {
  for (std::string s : {"plain", "with space", "it's", "$(rm -rf /)", "a\"b`c`\\d", ""}) {
    auto r = run({"sh", "-c", "printf %s " + shell_quote(s)});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->output, s);
  }
}

}  // namespace
}  // namespace kx
