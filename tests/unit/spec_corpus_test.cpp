// The corpus of 240 real perf-consts is ground truth for the spec convention:
// every spec must resolve, on the prepared tree, to its recorded token.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <sstream>

#include "kernel/profile.h"
#include "kernel/rebuild.h"
#include "spec/locate.h"
#include "util/files.h"

namespace kx {
namespace {
namespace fs = std::filesystem;

// The shared corpus sits beside the checkout (../shared), in CI too.
const fs::path kCorpus = KX_CORPUS;

using Row = std::map<std::string, std::string>;

std::vector<std::string> split_tabs(const std::string &line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string f; std::getline(ss, f, '\t');) out.push_back(f);
  if (!line.empty() && line.back() == '\t') out.push_back("");
  return out;
}

std::vector<Row> read_corpus() {
  std::stringstream in(read_file(kCorpus).value());
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header = split_tabs(line);
  std::vector<Row> rows;
  while (std::getline(in, line)) {
    std::vector<std::string> f = split_tabs(line);
    EXPECT_EQ(f.size(), header.size()) << line;
    Row r;
    for (size_t i = 0; i < header.size() && i < f.size(); i++) r[header[i]] = f[i];
    rows.push_back(r);
  }
  return rows;
}

// The corpus records source lines with whitespace runs collapsed.
std::string squeeze(const std::string &s) {
  std::string out;
  for (char c : s) {
    bool space = c == ' ' || c == '\t';
    if (!space) out += c;
    else if (!out.empty() && out.back() != ' ') out += ' ';
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

class SpecCorpus : public testing::Test {
 protected:
  void SetUp() override {
    tree_ = work_tree(resolve_profile(kBuiltinProfile).value());
    if (!fs::is_directory(tree_)) GTEST_SKIP() << "no prepared kernel tree at " << tree_ << " (kx kernel prepare)";
    if (!fs::exists(kCorpus)) GTEST_SKIP() << "no perf-const corpus at " << kCorpus;
    // Read the sources as kx does, under the tree's shared lock: a kx build
    // running meanwhile edits them (its test values) under the exclusive one.
    auto k = load_prepared(resolve_profile(kBuiltinProfile).value());
    ASSERT_TRUE(k) << k.error().message;
    auto lock = TreeLock::take(*k, false);
    ASSERT_TRUE(lock) << lock.error().message;
    lock_.emplace(std::move(*lock));
  }
  fs::path tree_;
  std::optional<TreeLock> lock_;
};

// What is wrong with one row's site, or "".
std::string mismatch(const Row &r, const fs::path &tree) {
  auto spec = parse_const_spec(r.at("spec"));
  if (!spec) return spec.error().message;
  auto site = locate_spec(tree, *spec);
  if (!site) return site.error().message;
  std::string why;
  auto expect = [&](const std::string &what, const std::string &got, const std::string &want) {
    if (got != want) why += " " + what + "='" + got + "' (corpus: '" + want + "')";
  };
  expect("spec", site->spec, r.at("spec"));
  expect("kind", site_kind_name(site->kind), r.at("form"));
  expect("line", squeeze(site->source_line), squeeze(r.at("source_line")));
  if (spec->token >= 0) {
    expect("token", site->token_text, r.at("spec_token"));
    expect("value", site->value ? std::to_string(*site->value) : "none", r.at("numeric_value"));
  } else if (site->value) {
    why += " a whole-body site has no value";
  }
  // Macros and consts go by their name; enumerators by the one in the notes.
  std::string named = r.at("form") == "literal" ? "" : r.at("name");
  const std::string &notes = r.at("notes"), enumerator = "enumerator initialiser (";
  if (notes.starts_with(enumerator)) named = notes.substr(enumerator.size(), notes.find(')') - enumerator.size());
  if (!named.empty()) expect("name", site->name, named);
  return why;
}

TEST_F(SpecCorpus, EverySpecResolvesToItsToken) {
  auto rows = read_corpus();
  ASSERT_EQ(rows.size(), 240u);
  int passed = 0;
  for (const Row &r : rows) {
    std::string why = mismatch(r, tree_);
    EXPECT_EQ(why, "") << r.at("id") << " " << r.at("spec");
    passed += why.empty();
  }
  EXPECT_EQ(passed, 240);
  RecordProperty("rows_passed", passed);
}

// Resolution time is printed, not asserted: timings belong to benchmarks.
TEST_F(SpecCorpus, MacroNamesResolveToTheirSpecs) {
  for (auto [name, spec] : {std::pair{"SHRINK_BATCH", "mm/vmscan.c:785:0"},
                            {"MAX_SOFTIRQ_RESTART", "kernel/softirq.c:518:0"},
                            {"BLK_MAX_REQUEST_COUNT", "block/blk.h:262:0"},
                            {"TCP_RTO_MIN", "include/net/tcp.h:144:0"},
                            {"HYSTART_DELAY_MIN", "net/ipv4/tcp_cubic.c:45:0"}}) {
    auto start = std::chrono::steady_clock::now();
    auto site = locate_macro(tree_, name);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(site) << name << ": " << site.error().message;
    EXPECT_EQ(site->spec, spec) << name;
    std::cout << "locate_macro(" << name << "): " << secs << " s\n";
  }
}

TEST_F(SpecCorpus, IfBranchesOfAMacroAreListedNotGuessed) {
  auto s = locate_macro(tree_, "NR_MAX_BATCHED_MIGRATION");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("defined 2 times: mm/migrate.c:1486 mm/migrate.c:1488"), std::string::npos)
      << s.error().message;
}

}  // namespace
}  // namespace kx
