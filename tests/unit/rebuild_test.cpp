// Journaled rebuilds on a tiny make-based tree: the edit is undone (content
// and timestamp) after a build, after a failed build, and after the process
// is killed mid-build.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "kernel/rebuild.h"
#include "test_util.h"

namespace kx {
namespace {
namespace fs = std::filesystem;

struct RebuildFixture : ::testing::Test {
  test::TempDir home, tree;
  test::ScopedEnv env{"KX_HOME", home.path.string()};
  PreparedKernel k;
  const std::string source = "#define BATCH 128\nint batch(void) { return BATCH; }\n";
  fs::file_time_type mtime;

  void SetUp() override {
    ASSERT_TRUE(write_file_atomic(tree / "Makefile", "%.o: %.c\n\t$(SLEEP)gcc -O2 -c $< -o $@\n"));
    ASSERT_TRUE(write_file_atomic(tree / "mm/vmscan.c", source));
    mtime = fs::file_time_type(std::chrono::seconds(1600000000));
    fs::last_write_time(tree / "mm/vmscan.c", mtime);
    k.profile.name = "fake";
    k.tree = tree.path;
    fs::create_directories(profile_cache_dir(k.profile));
  }
  SourceEdit edit(const std::string &value) { return {"mm/vmscan.c", source.find("128"), 3, value}; }
  void expect_restored() {
    EXPECT_EQ(*read_file(tree / "mm/vmscan.c"), source);
    EXPECT_EQ(fs::last_write_time(tree / "mm/vmscan.c"), mtime);
    EXPECT_FALSE(fs::exists(tree / "mm/vmscan.o"));
    EXPECT_FALSE(fs::exists(profile_cache_dir(k.profile) / "journal"));
  }
};

TEST_F(RebuildFixture, BuildsTheEditedObjectAndRestoresTheTree) {
  ASSERT_TRUE(build_variant(k, {edit("77")}, {"mm/vmscan.o"}, home / "v77"));
  ASSERT_TRUE(fs::exists(home / "v77/mm/vmscan.o"));
  auto dis = run_checked({"objdump", "-d", (home / "v77/mm/vmscan.o").string()});
  ASSERT_TRUE(dis);
  EXPECT_NE(dis->find("$0x4d"), std::string::npos) << *dis;  // 77
  expect_restored();
}

TEST_F(RebuildFixture, FailedBuildStillRestores) {
  auto r = build_variant(k, {edit("77 +")}, {"mm/vmscan.o"}, home / "bad");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("make failed"), std::string::npos);
  expect_restored();
}

TEST_F(RebuildFixture, KilledMidBuildIsRecoveredFromTheJournal) {
  k.env.make_vars = {"SLEEP=sleep 30; "};
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);  // so kx and its make can be killed together
    (void)build_variant(k, {edit("77")}, {"mm/vmscan.o"}, home / "v77");
    _exit(0);
  }
  fs::path meta = profile_cache_dir(k.profile) / "journal/meta.json";
  for (int i = 0; i < 200 && !fs::exists(meta); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(fs::exists(meta));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_NE(*read_file(tree / "mm/vmscan.c"), source);  // edited, build running
  kill(-pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  ASSERT_TRUE(recover_tree(k));
  expect_restored();
}

TEST_F(RebuildFixture, InterruptRestoresAndSaysSo) {
  k.env.make_vars = {"SLEEP=sleep 30; "};
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);  // a terminal's Ctrl-C reaches the whole group
    auto r = build_variant(k, {edit("77")}, {"mm/vmscan.o"}, home / "v77");
    std::string msg = r ? "ok" : r.error().message;
    (void)!write(fds[1], msg.data(), msg.size());
    _exit(0);
  }
  close(fds[1]);
  fs::path meta = profile_cache_dir(k.profile) / "journal/meta.json";
  for (int i = 0; i < 200 && !fs::exists(meta); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kill(-pid, SIGINT);
  waitpid(pid, nullptr, 0);
  char buf[256] = {};
  (void)!read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  EXPECT_NE(std::string(buf).find("interrupted (kernel tree restored)"), std::string::npos) << buf;
  expect_restored();
}

}  // namespace
}  // namespace kx
