#include <gtest/gtest.h>

#include "lab/console_log.h"

namespace kx {
namespace {

const char *kCleanRun = R"([    2.901234] virtiofs virtio0: discovered new tag: kxroot
[    3.100000] random: crng init done
[    5.312345] kx-lab-exit=7
[    5.320000] reboot: Power down
)";

// Shape of a real 6.1 WARN report.
const char *kWarnRun = R"([    4.000000] ------------[ cut here ]------------
[    4.000001] WARNING: CPU: 1 PID: 123 at kernel/kprobes.c:1100 __arm_kprobe_ftrace+0x8c/0xb0
[    4.000002] Modules linked in: xsie(OE) overlay virtiofs fuse
[    4.000003] CPU: 1 PID: 123 Comm: kx Tainted: G           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
[    4.000004] RIP: 0010:__arm_kprobe_ftrace+0x8c/0xb0
[    4.000005] Call Trace:
[    4.000006]  <TASK>
[    4.000007]  register_kprobe+0x4d0/0x5a0
[    4.000008]  </TASK>
[    4.000009] ---[ end trace 0000000000000000 ]---
[    4.500000] some later line
[    5.000000] kx-lab-exit=0
)";

const char *kPanic = R"([    3.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000
[    3.2] CPU: 1 PID: 1 Comm: sh Not tainted 6.1.0-56-cloud-amd64 #1
[    3.3] ---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000 ]---
)";

TEST(ConsoleLog, CleanRunGivesExitCodeAndNoFault) {
  auto r = scan_console(kCleanRun);
  ASSERT_TRUE(r.exit_code);
  EXPECT_EQ(*r.exit_code, 7);
  EXPECT_TRUE(r.faults.empty());
}

TEST(ConsoleLog, WarnIsAFaultWithItsWholeTrace) {
  auto r = scan_console(kWarnRun);
  ASSERT_EQ(r.faults.size(), 1u);
  EXPECT_EQ(r.faults[0].kind, "WARNING");
  EXPECT_EQ(r.faults[0].trace.rfind("------------[ cut here ]", 0), 0u);
  EXPECT_NE(r.faults[0].trace.find("register_kprobe+0x4d0"), std::string::npos);
  EXPECT_NE(r.faults[0].trace.find("---[ end trace"), std::string::npos);
  EXPECT_EQ(r.faults[0].trace.find("some later line"), std::string::npos);
  EXPECT_EQ(r.exit_code, 0);  // the command's status is still read
}

TEST(ConsoleLog, PanicAndBugAndOopsAreFaults) {
  EXPECT_EQ(scan_console(kPanic).faults.at(0).kind, "panic");
  EXPECT_EQ(scan_console("[ 1.0] BUG: kernel NULL pointer dereference, address: 0000000000000008\n").faults.at(0).kind, "BUG");
  EXPECT_EQ(scan_console("[ 1.0] kernel BUG at mm/slub.c:123!\n").faults.at(0).kind, "BUG");
  EXPECT_EQ(scan_console("[ 1.0] Oops: 0002 [#1] PREEMPT SMP NOPTI\n").faults.at(0).kind, "Oops");
  EXPECT_EQ(scan_console("[ 1.0] watchdog: BUG: soft lockup - CPU#0 stuck for 22s!\n").faults.at(0).kind, "BUG");
  EXPECT_EQ(scan_console("[ 1.0] general protection fault, probably for non-canonical address\n").faults.at(0).kind,
            "general protection fault");
}

TEST(ConsoleLog, OrdinaryMessagesMentioningWarningsAreNotFaults) {
  auto r = scan_console("[ 1.0] ACPI: WARNING: something benign\n[ 1.1] Spectre V2 : WARNING: Unprivileged eBPF\n");
  EXPECT_TRUE(r.faults.empty());
  EXPECT_FALSE(r.exit_code);
}

TEST(ConsoleLog, LabMessagesAreCollected) {
  auto r = scan_console("[ 1.0] kx-lab: cannot mount the host root over virtiofs\n[ 1.1] kx-lab-exit=125\n");
  ASSERT_EQ(r.lab_messages.size(), 1u);
  EXPECT_EQ(r.lab_messages[0], "cannot mount the host root over virtiofs");
  EXPECT_EQ(r.exit_code, 125);
}

}  // namespace
}  // namespace kx
