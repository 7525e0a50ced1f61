#include <gtest/gtest.h>

#include "util/result.h"

namespace kx {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return make_error("not positive: " + std::to_string(v));
  return v;
}

Result<int> doubled(int v) {
  KX_ASSIGN(x, parse_positive(v));
  return 2 * x;
}

Status check(int v) {
  KX_TRY(parse_positive(v));
  return {};
}

TEST(Result, CarriesValueOrError) {
  auto ok = doubled(21);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 42);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "not positive: -1");
}

TEST(Result, TryPropagatesAndContextPrefixes) {
  EXPECT_TRUE(check(3));
  auto st = check(0);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().context("extract").message, "extract: not positive: 0");
}

}  // namespace
}  // namespace kx
