// Object selection (kernel/object_selection.h): which units that see a
// constant can compile differently when it changes. The judge on small
// preprocessed texts, then the whole pass on a tiny make-based tree: the
// edit, make -k of .i targets, the verdicts, the restored tree, the cache.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "kernel/object_selection.h"
#include "test_util.h"

namespace kx {
namespace {
namespace fs = std::filesystem;

const std::string S = sentinel_literal();

bool affected(const std::string &text) { return judge_unit(text).affected; }

TEST(JudgeUnit, AUnitThatDoesNotPreprocessIsKept) {
  EXPECT_TRUE(judge_unit(std::nullopt).affected);
}

TEST(JudgeUnit, AUnitWithoutTheSentinelIsDropped) {
  EXPECT_FALSE(affected("# 1 \"a.c\"\nint f(void) { return 3; }\n"));
}

TEST(JudgeUnit, AFunctionThatIsEmittedKeepsTheUnit) {
  EXPECT_TRUE(affected("int f(void) { return 250 / " + S + "; }\n"));
  // Stringified, it is still there.
  EXPECT_TRUE(affected("const char *f(void) { return \"(250 / \\\"__kx_const_sentinel__\\\")\"; }\n"));
}

TEST(JudgeUnit, StaticFunctionsNothingRefersToAreDropped) {
  std::string header = "static inline __attribute__((__unused__)) unsigned rto(struct sock *sk) { return 250 / " + S +
                       "; }\n"
                       "static inline unsigned twice(struct sock *sk) { return 2 * rto(sk); }\n";
  EXPECT_FALSE(affected(header + "int other(void) { return 1; }\n"));
  // Called from an emitted function, directly or through another static one.
  EXPECT_TRUE(affected(header + "int user(struct sock *sk) { return twice(sk); }\n"));
  // Its address taken in an initializer, or named in an asm string.
  EXPECT_TRUE(affected(header + "static unsigned (*hook)(struct sock *) = rto;\n"));
  EXPECT_TRUE(affected(header + "asm(\"call rto\");\n"));
  // An attribute that makes gcc emit it anyway.
  EXPECT_TRUE(affected("static __attribute__((__used__)) int f(void) { return " + S + "; }\n"));
}

TEST(JudgeUnit, ADeclarationOutsideFunctionsKeepsTheUnit) {
  EXPECT_TRUE(affected("struct plug { int slots[" + S + "]; };\nint f(void) { return 0; }\n"));
  EXPECT_TRUE(affected("static const int batch = " + S + ";\n"));
  // An attributed struct is not mistaken for a function body.
  EXPECT_TRUE(affected("static struct __attribute__((aligned(8))) { int a[" + S + "]; } x;\n"));
}

TEST(JudgeUnit, EnumeratorsCarryItToTheirUsers) {
  std::string e = "enum { F_MERGE = 1 << 0, CPU_WORK_BATCH = " + S + ", NEXT, MAX_DEPTH = 10240 };\n";
  EXPECT_FALSE(affected(e + "int f(void) { return F_MERGE | MAX_DEPTH; }\n"));
  EXPECT_TRUE(affected(e + "int f(void) { return CPU_WORK_BATCH; }\n"));
  EXPECT_TRUE(affected(e + "int f(void) { return NEXT; }\n"));  // CPU_WORK_BATCH + 1
  EXPECT_FALSE(affected(e + "static inline int g(void) { return CPU_WORK_BATCH; }\nint f(void) { return 0; }\n"));
  // Through a tagged enum's type.
  EXPECT_TRUE(affected("enum batch { B = " + S + " };\nstruct q { enum batch b; };\n"));
}

// A tree with a header constant and units that expand it, include it
// without using it, use it only in #if, and call a header inline using it.
struct SelectionFixture : ::testing::Test {
  test::TempDir home, tree;
  test::ScopedEnv env{"KX_HOME", home.path.string()};
  PreparedKernel k;
  const std::string header =
      "#define BATCH 32\n"
      "static inline int batch_of(int x) { return x * BATCH; }\n";
  fs::file_time_type mtime;
  std::vector<std::string> objects = {"a.o", "b.o", "c.o", "d.o"};

  void SetUp() override {
    auto put = [&](const std::string &f, const std::string &text) { ASSERT_TRUE(write_file_atomic(tree / f, text)); };
    put("Makefile", "%.i: %.c\n\tgcc -E -I. $< -o $@\n");
    put("batch.h", header);
    put("a.c", "#include \"batch.h\"\nint a(void) { return BATCH; }\n");
    put("b.c", "#include \"batch.h\"\nint b(void) { return 0; }\n");
    put("c.c", "#include \"batch.h\"\n#if BATCH > 16\nint c(void) { return 1; }\n#endif\n");
    put("d.c", "#include \"batch.h\"\nint d(int x) { return batch_of(x); }\n");
    mtime = fs::file_time_type(std::chrono::seconds(1600000000));
    fs::last_write_time(tree / "batch.h", mtime);
    k.profile.name = "fake";
    k.tree = tree.path;
    k.build_id = "b1";
    fs::create_directories(profile_cache_dir(k.profile));
  }
  SourceEdit token() { return {"batch.h", header.find("32"), 2, ""}; }
};

TEST_F(SelectionFixture, KeepsTheUnitsWhoseCodeCanDependOnTheToken) {
  auto s = select_expanding_objects(k, token(), objects);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->kept, (std::vector<std::string>{"a.o", "c.o", "d.o"}));
  EXPECT_EQ(s->dropped, (std::vector<std::string>{"b.o"}));
  EXPECT_NE(s->why["c.o"].find("does not preprocess"), std::string::npos) << s->why["c.o"];
  EXPECT_NE(s->why["b.o"].find("batch_of"), std::string::npos) << s->why["b.o"];
  EXPECT_FALSE(s->cached);
  // The tree as it was: content, timestamp, no .i, no journal.
  EXPECT_EQ(*read_file(tree / "batch.h"), header);
  EXPECT_EQ(fs::last_write_time(tree / "batch.h"), mtime);
  for (auto *f : {"a.i", "b.i", "c.i", "d.i"}) EXPECT_FALSE(fs::exists(tree / f)) << f;
  EXPECT_FALSE(fs::exists(profile_cache_dir(k.profile) / "journal"));

  // Again: from the cache, without make (a broken Makefile proves it).
  ASSERT_TRUE(write_file_atomic(tree / "Makefile", "%.i:\n\tfalse\n"));
  auto again = select_expanding_objects(k, token(), objects);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->cached);
  EXPECT_EQ(again->kept, s->kept);
  EXPECT_EQ(again->dropped, s->dropped);
}

TEST_F(SelectionFixture, NothingPreprocessedIsOneClearErrorAndTheTreeIsRestored) {
  ASSERT_TRUE(write_file_atomic(tree / "Makefile", "%.i:\n\tfalse\n"));
  auto s = select_expanding_objects(k, token(), objects);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("made none of 4 targets"), std::string::npos) << s.error().message;
  EXPECT_EQ(*read_file(tree / "batch.h"), header);
  EXPECT_EQ(fs::last_write_time(tree / "batch.h"), mtime);
}

TEST_F(SelectionFixture, CtrlCWhilePreprocessingRestoresTheTreeAndSaysSo) {
  ASSERT_TRUE(write_file_atomic(tree / "Makefile", "%.i: %.c\n\tsleep 30; gcc -E -I. $< -o $@\n"));
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);  // a terminal's Ctrl-C reaches the whole group
    auto r = select_expanding_objects(k, token(), objects);
    std::string msg = r ? "ok" : r.error().message;
    (void)!write(fds[1], msg.data(), msg.size());
    _exit(0);
  }
  close(fds[1]);
  fs::path meta = profile_cache_dir(k.profile) / "journal/meta.json";
  for (int i = 0; i < 200 && !fs::exists(meta); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_NE(*read_file(tree / "batch.h"), header);  // edited, make running
  kill(-pid, SIGINT);
  waitpid(pid, nullptr, 0);
  char buf[256] = {};
  (void)!read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  EXPECT_NE(std::string(buf).find("interrupted (kernel tree restored)"), std::string::npos) << buf;
  EXPECT_EQ(std::string(buf).find('\n'), std::string::npos) << buf;  // one line
  EXPECT_EQ(*read_file(tree / "batch.h"), header);
  EXPECT_EQ(fs::last_write_time(tree / "batch.h"), mtime);
  EXPECT_FALSE(fs::exists(profile_cache_dir(k.profile) / "journal"));
}

}  // namespace
}  // namespace kx
