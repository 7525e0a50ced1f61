// Safe spans on a linked fixture with known slices (tests/fixtures/slices.S).
#include <gtest/gtest.h>

#include "slice/safe_span.h"
#include "test_util.h"

namespace kx {
namespace {

struct SliceFixture : ::testing::Test {
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    auto obj = *dir_ / "slices.o", exe = *dir_ / "slices";
    ASSERT_TRUE(run_checked({"gcc", "-c", KX_FIXTURES "/slices.S", "-o", obj.string()}));
    ASSERT_TRUE(run_checked({"ld", "-Ttext=0xffffffff81000000", "-e", "f_call", "-o", exe.string(), obj.string()}));
    elf_ = new ElfFile(std::move(*ElfFile::open(exe)));
  }
  static void TearDownTestSuite() {
    delete elf_;
    delete dir_;
  }
  uint64_t addr(const std::string &fn) { return elf_->find_symbols(fn).at(0)->value; }
  std::vector<SafeSpan> slice(std::vector<SpanStart> s) {
    KernelCode code(*elf_);
    return build_safe_spans(code, s);
  }
  static test::TempDir *dir_;
  static ElfFile *elf_;
};
test::TempDir *SliceFixture::dir_ = nullptr;
ElfFile *SliceFixture::elf_ = nullptr;

TEST_F(SliceFixture, ValueUsedAfterACallFlowsThroughTheCallee) {
  auto ss = slice({{addr("f_call"), 0, 0, {"rdi"}}});
  ASSERT_EQ(ss.size(), 1u);
  EXPECT_EQ(ss[0].callees, (std::vector<std::string>{"g_use"}));
  // mov, call, test (rax from g_use -> flags), xor kills rax and the flags:
  // the return is the exit.
  EXPECT_EQ(ss[0].exits, (std::vector<uint64_t>{addr("f_call") + 5 + 5 + 3 + 2}));
  EXPECT_EQ(ss[0].size_insns, 4u + 2u);  // + g_use's lea and ret
  EXPECT_FALSE(ss[0].conservative);
}

TEST_F(SliceFixture, StackSlotCarriesTheValueToItsReload) {
  auto ss = slice({{addr("f_stack"), 1, 1, {"rax"}}});
  ASSERT_EQ(ss.size(), 1u);
  // mov $32; store; xor; unrelated load; reload; add (consumes) ; add rsp; ret —
  // the slot stays live to the end of the frame.
  EXPECT_GE(ss[0].size_insns, 6u);
  EXPECT_TRUE(ss[0].escapes.empty());
}

TEST_F(SliceFixture, HeapStoreEscapesAndEndsTheSpan) {
  auto ss = slice({{addr("f_heap"), 0, 0, {"rax"}}});
  ASSERT_EQ(ss.size(), 1u);
  ASSERT_EQ(ss[0].escapes.size(), 1u);
  EXPECT_NE(ss[0].escapes[0].find("f_heap+0x5"), std::string::npos) << ss[0].escapes[0];
  EXPECT_EQ(ss[0].size_insns, 3u);  // mov, store, xor (the xor kills eax: exit after it)
  EXPECT_EQ(ss[0].exits, (std::vector<uint64_t>{addr("f_heap") + 5 + 3 + 2}));
}

TEST_F(SliceFixture, ReturnedValueIsFollowedIntoTheCaller) {
  auto ss = slice({{addr("f_ret"), 0, 0, {"rax"}}});
  ASSERT_EQ(ss.size(), 1u);
  EXPECT_EQ(ss[0].callers, (std::vector<std::string>{"caller"}));
  bool caller_range = false;
  for (auto &r : ss[0].ranges) caller_range = caller_range || r.function == "caller";
  EXPECT_TRUE(caller_range);
  ASSERT_EQ(ss[0].probes.size(), 2u);
  EXPECT_EQ(ss[0].probes[1].kind, "return");
}

TEST_F(SliceFixture, LoopCounterIsLiveAroundTheLoop) {
  auto ss = slice({{addr("f_loop"), 0, 0, {"rcx"}}});
  ASSERT_EQ(ss.size(), 1u);
  EXPECT_EQ(ss[0].size_insns, 4u);  // mov, dec, jnz, ret: ecx never dies before the return
}

TEST_F(SliceFixture, AStackPointerLostInALoopEndsTheWalk) {
  // Stack offsets are unknown from the `and` on; the loop used to re-queue
  // them forever (the corpus's tcp.h consts ran out of memory).
  auto ss = slice({{addr("f_realign"), 2, 2, {"rcx"}}});
  ASSERT_EQ(ss.size(), 1u);
  EXPECT_EQ(ss[0].size_insns, 7u);  // mov $4 .. ret: ecx is live around the loop
}

TEST_F(SliceFixture, AWidenedSpanIsTheWholeFunctionLeftByItsReturns) {
  // The indirect jump hides where the value goes: the fallback takes the
  // whole function, and its returns are the exits the monitors need.
  auto ss = slice({{addr("f_widen"), 0, 0, {"rax"}}});
  ASSERT_EQ(ss.size(), 1u);
  EXPECT_TRUE(ss[0].conservative);
  EXPECT_EQ(ss[0].size_insns, 6u);
  const uint64_t ret = addr("f_widen") + 5 + 2 + 2 + 2 + 2;  // mov, test, je, jmp *, xor
  EXPECT_EQ(ss[0].exits, (std::vector<uint64_t>{ret}));
}

TEST_F(SliceFixture, OverlappingSpansOfOneFunctionMerge) {
  auto ss = slice({{addr("f_two"), 0, 0, {"rax"}}, {addr("f_two"), 1, 1, {"rdx"}}});
  ASSERT_EQ(ss.size(), 1u);
  EXPECT_EQ(ss[0].merged_from, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(ss[0].entry, addr("f_two"));
  // Span 1: mov $8 .. the load that kills eax; span 2: mov $16 .. the xor
  // that kills edx. Their union: the five instructions before the ret.
  // The add's flags live on until the xor, so both spans leave by the ret.
  EXPECT_EQ(ss[0].size_insns, 5u);
  EXPECT_EQ(ss[0].exits, (std::vector<uint64_t>{addr("f_two") + 5 + 5 + 2 + 2 + 2}));
}

}  // namespace
}  // namespace kx
