// Register liveness over a function's control flow (src/symbolic/liveness.h)
// on an assembled fixture whose exits the ABI defines.
#include <gtest/gtest.h>

#include "binary/elf_file.h"
#include "seeds/function_diff.h"
#include "symbolic/liveness.h"
#include "test_util.h"

namespace kx {
namespace {

enum { kRax, kRcx, kRdx, kRbx, kRsp, kRbp, kRsi, kRdi, kR8, kR9, kR10, kR11 };

struct Liveness : ::testing::Test {
  test::TempDir d;
  std::map<std::string, DecodedFunction> fns;
  void SetUp() override {
    auto obj = d / "exits.o";
    ASSERT_TRUE(run_checked({"gcc", "-c", KX_FIXTURES "/liveness/exits.S", "-o", obj.string()}));
    auto e = ElfFile::open(obj);
    ASSERT_TRUE(e) << e.error().message;
    auto f = decode_functions(*e);
    ASSERT_TRUE(f) << f.error().message;
    fns = std::move(*f);
  }
  // Is register r live at instruction i of `fn`?
  bool live(const std::string &fn, size_t i, int r) { return live_in(fns.at(fn).insns).at(i) >> r & 1; }
};

TEST_F(Liveness, ARetReadsTheReturnValueAndTheCalleeSavedRegisters) {
  EXPECT_TRUE(live("by_ret", 0, kRdi));   // copied into the return value
  EXPECT_FALSE(live("by_ret", 0, kRax));  // written before the ret reads it
  EXPECT_FALSE(live("by_ret", 0, kRcx));  // a temporary
  EXPECT_TRUE(live("by_ret", 2, kRbx));
  EXPECT_FALSE(live("by_ret", 2, kR8));
}

TEST_F(Liveness, AJumpToTheReturnThunkIsARet) {
  EXPECT_EQ(fns.at("by_thunk").insns[2].branch_symbol, "__x86_return_thunk");
  EXPECT_TRUE(is_return(fns.at("by_thunk").insns[2]));
  EXPECT_FALSE(live("by_thunk", 1, kR8)) << "dead at a return, not every register as at an unknown jump";
  EXPECT_TRUE(live("by_thunk", 2, kRax));
}

TEST_F(Liveness, ATailCallReadsTheArgumentsOnly) {
  EXPECT_FALSE(is_return(fns.at("by_tail_call").insns[2]));
  EXPECT_TRUE(live("by_tail_call", 1, kRcx));   // the fourth argument
  EXPECT_FALSE(live("by_tail_call", 1, kR10));  // caller-saved, not an argument
}

TEST_F(Liveness, AJumpIntoTheColdPartKeepsEverythingLive) {
  EXPECT_EQ(fns.at("to_cold").insns[1].branch_symbol, "");  // a section symbol
  EXPECT_TRUE(live("to_cold", 1, kR10));
}

TEST_F(Liveness, BothSidesOfABranchCount) {
  EXPECT_TRUE(live("over_branch", 1, kR11));   // read on the fall-through path
  EXPECT_TRUE(live("over_branch", 1, kRdx));   // read on the taken path
  EXPECT_FALSE(live("over_branch", 5, kR11));  // zeroed, then never read
  EXPECT_FALSE(live("over_branch", 1, kRsi));  // copied into r11, read on neither path
}

}  // namespace
}  // namespace kx
