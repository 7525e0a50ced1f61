#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>

#include "analysis/const_build.h"
#include "scope/scope_table.h"
#include "test_util.h"
#include "util/analysis_version.h"
#include "util/files.h"

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

TEST(AnalysisVersion, IsKxsVersionAndADigestOfTheAnalysisSourcesAsTheyAreNow) {
  EXPECT_TRUE(std::regex_match(analysis_version(), std::regex(R"(\d+\.\d+\+[0-9a-f]{12})"))) << analysis_version();
  // The build recomputes it whenever those sources change: the script run
  // now on the same tree gives the same digest.
  test::TempDir d;
  std::string root = std::filesystem::path(KX_FIXTURES).parent_path().parent_path().string();
  std::string version = analysis_version().substr(0, analysis_version().find('+'));
  auto r = run_checked({"cmake", "-DROOT=" + root, "-DDIRS=src/symbolic;src/synth;src/seeds;src/analysis",
                        "-DVERSION=" + version, "-DOUT=" + (d / "h").string(), "-P",
                        root + "/scripts/analysis_version.cmake"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NE(read_file(d / "h")->find("\"" + analysis_version() + "\""), std::string::npos) << *read_file(d / "h");
}

TEST(AnalysisVersion, EveryReportCarriesIt) {
  EXPECT_EQ(to_json(ConstReport{})["analysis"], analysis_version());
}

// A const analysed with two test-value families laps every phase twice:
// the report's phases add up to its total.
TEST(ConstReportJson, PhasesOfEveryFamilyAddUp) {
  ConstReport r;
  r.timing = {{"rebuild", 1.5}, {"diff", 0.25}, {"rebuild", 2.0}, {"diff", 0.25}};
  auto t = to_json(r)["timing"];
  EXPECT_DOUBLE_EQ(t["rebuild"].get<double>(), 3.5);
  EXPECT_DOUBLE_EQ(t["diff"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(t["total"].get<double>(), 4.0);
}

TEST(AnalysisVersion, AReportOfAnotherVersionIsStaleAndRefused) {
  nlohmann::json current = report("SHRINK_BATCH", "mm/vmscan.c:785:0");
  current["analysis"] = analysis_version();
  nlohmann::json old = current, unversioned = current;
  old["analysis"] = "0.1+000000000000";
  unversioned.erase("analysis");
  EXPECT_TRUE(report_is_current(current));
  EXPECT_TRUE(require_current_analysis(current));
  EXPECT_EQ(report_text(current).find("STALE"), std::string::npos);
  for (auto &[r, by] : {std::pair{old, "kx 0.1+000000000000"}, {unversioned, "an unversioned kx"}}) {
    EXPECT_FALSE(report_is_current(r));
    auto refused = require_current_analysis(r);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().message, "SHRINK_BATCH was analysed by " + std::string(by) + ", not this kx (" +
                                           analysis_version() +
                                           "): its spans are not proven by this code; re-run kx build SHRINK_BATCH");
    EXPECT_NE(report_text(r).find("STALE: analysed by " + std::string(by)), std::string::npos) << report_text(r);
  }
  nlohmann::json literal = old;  // no macro: kx build takes its spec
  literal["kind"] = "literal", literal["name"] = "";
  EXPECT_NE(require_current_analysis(literal).error().message.find("re-run kx build mm/vmscan.c:785:0"),
            std::string::npos);
  // The scope table keeps the version with the row.
  test::TempDir d;
  auto t = ScopeTable::open(d / "s.sqlite");
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->put(old));
  EXPECT_EQ(report_analysis(*t->get("SHRINK_BATCH")), "0.1+000000000000");
}

TEST(ScopeTable, TextReportSaysWhatBoundsARange) {
  auto r = report("SHRINK_BATCH", "mm/vmscan.c:785:0");
  r["critical_spans"][0]["value_range_basis"] = {"the literal 128 stays an int",
                                                 "cross builds at V=1 and V=100 compile the span's shape with T = f(V)"};
  std::string text = report_text(r);
  EXPECT_NE(text.find("\n      range: the literal 128 stays an int\n"), std::string::npos) << text;
  EXPECT_NE(text.find("      range: cross builds at V=1 and V=100"), std::string::npos) << text;
}

TEST(ScopeTable, TextReportSaysHowManyObjectsSeeAndExpandIt) {
  auto r = report("TCP_RTO_MIN", "include/net/tcp.h:144:0");
  r["objects"] = {"net/ipv4/tcp.o", "net/ipv4/tcp_timer.o"};
  r["objects_seeing"] = 85;
  r["timing"] = {{"objects", 0.7}, {"select", 63.8}, {"total", 64.5}};
  std::string text = report_text(r);
  EXPECT_NE(text.find("\n  objects: 85 include it, 2 expand it\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" select 63.8s"), std::string::npos) << text;
  // Reports from before the selection, or where it kept every object, say nothing more.
  r["objects_seeing"] = 2;
  EXPECT_EQ(report_text(r).find("expand it"), std::string::npos);
  r.erase("objects_seeing");
  EXPECT_EQ(report_text(r).find("expand it"), std::string::npos);
}

}  // namespace
}  // namespace kx
