// eval/corpus: run.sh keeps only rows made by this kx's analysis version and
// redoes the rest; report.py says how many rows are fresh. On a tiny corpus
// and hand-made results, with run.sh's -n (nothing is analysed).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "util/analysis_version.h"

namespace kx {
namespace {

const std::filesystem::path kRoot = std::filesystem::path(KX_FIXTURES).parent_path().parent_path();

struct CorpusRun : ::testing::Test {
  test::TempDir d;
  void SetUp() override {
    std::ofstream(d / "corpus.tsv") << "id\tspec\tnote\n"
                                    << "fresh\tmm/a.c:1:0\t-\nold\tmm/b.c:2:0\t-\n"
                                    << "unversioned\tmm/c.c:3:0\t-\nmissing\tmm/d.c:4:0\t-\n";
    std::filesystem::create_directory(d / "results");
    auto row = [&](const std::string &id, const std::string &spec, const char *analysis) {
      nlohmann::json r = {{"id", id}, {"spec", spec}, {"status", "untunable"}, {"reason", "no seed"}};
      if (analysis) r["analysis"] = analysis;
      std::ofstream(d / "results" / (id + ".json")) << r.dump();
    };
    row("fresh", "mm/a.c:1:0", analysis_version().c_str());
    row("old", "mm/b.c:2:0", "0.1+000000000000");
    row("unversioned", "mm/c.c:3:0", nullptr);
  }
  RunResult run_script(const std::vector<std::string> &argv) {
    RunOptions o;
    o.env = {{"KX", KX_BIN}};
    return run(argv, o).value();
  }
};

TEST_F(CorpusRun, RedoesStaleAndMissingRowsAndKeepsFreshOnes) {
  auto r = run_script({"bash", (kRoot / "eval/corpus/run.sh").string(), "-n", (d / "corpus.tsv").string(),
                       (d / "results").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output,
            "old stale (analysis 0.1+000000000000)\nunversioned stale (analysis unversioned)\nmissing missing\n");
}

TEST_F(CorpusRun, ReportSaysHowManyRowsAreFresh) {
  auto r = run_script({"python3", (kRoot / "eval/corpus/report.py").string(), (d / "results").string(),
                       d.path.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto md = read_file(d / "REPORT.md");
  ASSERT_TRUE(md);
  EXPECT_NE(md->find("Fresh: 1 of 3 rows come from this kx's analysis (`" + analysis_version() +
                     "`); stale: 2 (`0.1+000000000000` × 1, `unversioned` × 1)"),
            std::string::npos)
      << *md;
  EXPECT_NE(md->find("| fresh | `mm/a.c:1:0` | untunable | fresh |"), std::string::npos) << *md;
  EXPECT_NE(md->find("| old | `mm/b.c:2:0` | untunable | stale |"), std::string::npos) << *md;
}

}  // namespace
}  // namespace kx
