#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scope/scope_table.h"
#include "test_util.h"

namespace kx {
namespace {

nlohmann::json report(const std::string &id, const std::string &spec, int spans = 1) {
  nlohmann::json r = {{"id", id}, {"spec", spec}, {"name", id}, {"value", 128}, {"status", "tunable"},
                      {"reason", ""}, {"kind", "macro"}, {"definition", "#define " + id + " 128"}};
  r["uses"] = nlohmann::json::array({{{"object", "mm/vmscan.o"}, {"function", "do_shrink_slab"}, {"offset", 7},
                                      {"address", "0xffffffff81288347"}, {"insn", "mov $0x80, %eax"},
                                      {"source", "mm/vmscan.c:797"}, {"relation", {{"a", 1}, {"b", 0}}}}});
  r["critical_spans"] = nlohmann::json::array();
  for (int i = 0; i < spans; ++i)
    r["critical_spans"].push_back({{"function", "do_shrink_slab"}, {"start", 7}, {"end", 7}, {"kind", "insertion"},
                                   {"defines", {"rax"}}, {"update", {{"captures", nlohmann::json::array()}}},
                                   {"proof", "proved"}, {"value_range", {0, 100}}});
  return r;
}

TEST(ScopeTable, StoresAndFindsByIdSpecOrName) {
  test::TempDir d;
  auto t = ScopeTable::open(d / "s.sqlite");
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_TRUE(t->put(report("SHRINK_BATCH", "mm/vmscan.c:785:0")));
  for (auto key : {"SHRINK_BATCH", "mm/vmscan.c:785:0"}) {
    auto r = t->get(key);
    ASSERT_TRUE(r) << key;
    EXPECT_EQ((*r)["critical_spans"].size(), 1u);
  }
  auto missing = t->get("NOPE");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("kx build NOPE"), std::string::npos);
}

TEST(ScopeTable, ReanalysisReplacesAndSameNameElsewhereGetsItsOwnId) {
  test::TempDir d;
  auto t = ScopeTable::open(d / "s.sqlite");
  ASSERT_TRUE(t->put(report("X", "a.c:1:0", 1)));
  ASSERT_TRUE(t->put(report("X", "a.c:1:0", 3)));  // re-analysed
  auto other = t->put(report("X", "b.c:9:0"));
  ASSERT_TRUE(other);
  EXPECT_EQ(*other, "X@b.c:9:0");
  auto all = t->list();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*t->get("X"))["critical_spans"].size(), 3u);
  auto by_name = t->get("X@b.c:9:0");
  ASSERT_TRUE(by_name);
}

TEST(ScopeTable, ParallelWritersAllLand) {
  test::TempDir d;
  ASSERT_TRUE(ScopeTable::open(d / "s.sqlite"));
  std::vector<pid_t> kids;
  for (int p = 0; p < 4; ++p) {
    pid_t pid = fork();
    if (pid == 0) {
      auto t = ScopeTable::open(d / "s.sqlite");
      bool ok = bool(t);
      for (int i = 0; ok && i < 10; ++i)
        ok = bool(t->put(report("C" + std::to_string(p) + "_" + std::to_string(i), "f" + std::to_string(p) + ".c:" +
                                                                                         std::to_string(i + 1) + ":0")));
      _exit(ok ? 0 : 1);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int st;
    waitpid(k, &st, 0);
    EXPECT_EQ(WEXITSTATUS(st), 0);
  }
  auto t = ScopeTable::open(d / "s.sqlite");
  EXPECT_EQ(t->list()->size(), 40u);
}

TEST(ScopeTable, TextReportNamesSpansAndProofs) {
  std::string text = report_text(report("SHRINK_BATCH", "mm/vmscan.c:785:0"));
  EXPECT_NE(text.find("do_shrink_slab+0x7 [0xffffffff81288347] mov $0x80, %eax   T = V"), std::string::npos) << text;
  EXPECT_NE(text.find("insertion defines rax"), std::string::npos) << text;
  EXPECT_NE(text.find("proved for V' in [0, 100]"), std::string::npos) << text;
}

TEST(ScopeTable, TextReportSaysWhatBoundsARange) {
  auto r = report("SHRINK_BATCH", "mm/vmscan.c:785:0");
  r["critical_spans"][0]["value_range_basis"] = {"the literal 128 stays an int",
                                                 "cross builds at V=1 and V=100 compile the span's shape with T = f(V)"};
  std::string text = report_text(r);
  EXPECT_NE(text.find("\n      range: the literal 128 stays an int\n"), std::string::npos) << text;
  EXPECT_NE(text.find("      range: cross builds at V=1 and V=100"), std::string::npos) << text;
}

}  // namespace
}  // namespace kx
