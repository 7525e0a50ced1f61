// What kx status lists and which transaction kx reset/unload NAME means,
// from the module's status records (no kernel needed).
#include <gtest/gtest.h>

#include "runtime/x_runtime.h"

namespace kx {
namespace {

SpanStatus span(uint32_t tx, const std::string &name, uint64_t value, const std::string &label) {
  SpanStatus s;
  s.tx = tx, s.const_name = name, s.value = value, s.label = label, s.kind = "insertion";
  return s;
}

TxStatus tx(uint32_t id, const std::string &phase) {
  TxStatus t;
  t.tx = id, t.phase = phase, t.transition = "global";
  return t;
}

RuntimeStatus two_transactions() {
  RuntimeStatus st;
  st.spans = {span(3, "BLK_MAX_REQUEST_COUNT", 8, "blk_start_plug_nr_ios+0x22"),
              span(3, "BLK_MAX_REQUEST_COUNT", 8, "blk_add_rq_to_plug+0x36"),
              span(3, "SHRINK_BATCH", 64, "do_shrink_slab+0x50"), span(7, "MAX_SOFTIRQ_RESTART", 4, "__do_softirq+0x1")};
  st.txs = {tx(3, "active"), tx(7, "switching")};
  return st;
}

TEST(RuntimeStatus, EachActiveConstIsListedOnceWithItsTransaction) {
  auto consts = active_consts(two_transactions());
  ASSERT_EQ(consts.size(), 3u);
  EXPECT_EQ(consts[0].name, "BLK_MAX_REQUEST_COUNT");
  EXPECT_EQ(consts[0].value, 8);
  EXPECT_EQ(consts[0].tx, 3u);
  EXPECT_EQ(consts[0].phase, "active");
  EXPECT_EQ(consts[1].name, "SHRINK_BATCH");
  EXPECT_EQ(consts[2].name, "MAX_SOFTIRQ_RESTART");
  EXPECT_EQ(consts[2].phase, "switching");
}

TEST(RuntimeStatus, StatusJsonNamesEveryActiveConst) {
  auto j = status_json(two_transactions());
  ASSERT_EQ(j["consts"].size(), 3u);
  EXPECT_EQ(j["consts"][1]["name"], "SHRINK_BATCH");
  EXPECT_EQ(j["consts"][1]["transaction"], 3);
  EXPECT_EQ(j["transactions"].size(), 2u);
}

TEST(RuntimeStatus, AConstNameMeansTheTransactionHoldingIt) {
  auto st = two_transactions();
  EXPECT_EQ(transaction_for(st, "SHRINK_BATCH").value(), 3u);
  EXPECT_EQ(transaction_for(st, "MAX_SOFTIRQ_RESTART").value(), 7u);
}

TEST(RuntimeStatus, AnIdIsPassedOnAsItIs) {
  EXPECT_EQ(transaction_for(two_transactions(), "7").value(), 7u);
  EXPECT_EQ(transaction_for(RuntimeStatus{}, "12").value(), 12u);  // the module names an id it lacks
}

TEST(RuntimeStatus, AnUnknownOrInactiveNameIsOneLineNamingTheActiveConsts) {
  auto r = transaction_for(two_transactions(), "TCP_INIT_CWND");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "no active transaction holds TCP_INIT_CWND (active: BLK_MAX_REQUEST_COUNT (transaction 3), "
            "SHRINK_BATCH (transaction 3), MAX_SOFTIRQ_RESTART (transaction 7))");
  auto none = transaction_for(RuntimeStatus{}, "BLK_MAX_REQUEST_COUNT");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message, "no active transaction holds BLK_MAX_REQUEST_COUNT (none is active)");
  EXPECT_FALSE(transaction_for(RuntimeStatus{}, ""));
}

}  // namespace
}  // namespace kx
