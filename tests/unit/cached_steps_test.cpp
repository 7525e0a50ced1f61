#include <gtest/gtest.h>

#include "kernel/cached_steps.h"
#include "test_util.h"

namespace kx {
namespace {

struct Counter {
  std::map<std::string, int> runs;
  std::string fail_at;
  std::vector<CachedStep> steps(const std::string &k2 = "k2") {
    std::vector<CachedStep> out;
    for (auto [name, key] : {std::pair<std::string, std::string>{"a", "k1"}, {"b", k2}, {"c", "k3"}}) {
      out.push_back({name, key, [this, name]() -> Status {
                       ++runs[name];
                       if (name == fail_at) return make_error("boom");
                       return {};
                     }});
    }
    return out;
  }
};

TEST(CachedSteps, SecondRunSkipsEverything) {
  test::TempDir d;
  Counter c;
  auto r1 = run_cached_steps(d.path, c.steps());
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->ran.size(), 3u);
  auto r2 = run_cached_steps(d.path, c.steps());
  ASSERT_TRUE(r2);
  EXPECT_TRUE(r2->ran.empty());
  EXPECT_EQ(r2->skipped.size(), 3u);
  EXPECT_EQ(c.runs["a"], 1);
  EXPECT_EQ(c.runs["c"], 1);
}

TEST(CachedSteps, ChangedKeyRerunsThatStepAndEveryLaterOne) {
  test::TempDir d;
  Counter c;
  ASSERT_TRUE(run_cached_steps(d.path, c.steps()));
  auto r = run_cached_steps(d.path, c.steps("k2-new"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ran, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(c.runs["a"], 1);
  EXPECT_EQ(c.runs["b"], 2);
  EXPECT_EQ(c.runs["c"], 2);
}

TEST(CachedSteps, FailureInvalidatesTheRestAndIsRetriedNextTime) {
  test::TempDir d;
  Counter c;
  ASSERT_TRUE(run_cached_steps(d.path, c.steps()));
  // A later run that changes b and fails there must not leave c's old stamp.
  c.fail_at = "b";
  auto r = run_cached_steps(d.path, c.steps("k2-new"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "b: boom");
  EXPECT_TRUE(std::filesystem::exists(d / "a.stamp"));
  EXPECT_FALSE(std::filesystem::exists(d / "b.stamp"));
  EXPECT_FALSE(std::filesystem::exists(d / "c.stamp"));
  c.fail_at.clear();
  auto again = run_cached_steps(d.path, c.steps("k2-new"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->ran, (std::vector<std::string>{"b", "c"}));
}

}  // namespace
}  // namespace kx
