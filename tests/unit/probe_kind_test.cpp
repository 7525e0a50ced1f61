// The jump-optimized/int3 prediction of a probe, on hand-written x86-64: one
// example per rule of Linux 6.1's optprobes, each refused by that rule and
// no other, so removing a rule from probe_rules() fails its example.
#include <gtest/gtest.h>

#include <set>

#include "runtime/probe_kind.h"

namespace kx {
namespace {

constexpr uint64_t kStart = 0x1000;
const ThunkRange kThunks{0x2000, 0x2100};

struct Example {
  const char *rule;  // "" when the probe is jump-optimized
  std::vector<uint8_t> code;
  uint64_t probe_offset = 0;
  const char *what;
  std::vector<uint64_t> extable = {};  // offsets
  std::vector<ReservedSite> reserved = {};  // addr: offset
};

// 90 is a nop: boostable, jumps nowhere.
std::vector<uint8_t> nops(size_t n) { return std::vector<uint8_t>(n, 0x90); }
std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t> &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::vector<Example> &examples() {
  static const std::vector<Example> e = {
      {"", {0x48, 0x89, 0xe5, 0x48, 0x83, 0xc0, 0x01, 0xc3}, 0, "mov %rsp,%rbp; add $1,%rax; ret"},
      {"", cat(nops(8), {0x48, 0xc1, 0xe0, 0x03}), 0, "a shift after the 5 bytes is not copied"},
      {"", cat(nops(6), {0xeb, 0xf8}), 0, "a jump to the probe itself (A+0) is allowed"},
      {"", cat(nops(6), {0xeb, 0xfe}), 0, "a jump to A+6, past the replaced bytes"},
      {"", cat(nops(8), {0xc3}), 0, "ret after the region"},
      {"", cat({0x48, 0x8b, 0x05, 0, 0, 0, 0}, nops(1)), 0, "a %rip-relative load is copied with a new displacement"},
      {"", cat(nops(6), {0xe9, 0xf5, 0x0f, 0x00, 0x00}), 0, "a jump to 0x2000 when no thunk range is known"},
      {"function-end", nops(8), 4, "4 bytes from the probe to the end"},
      {"undecodable", cat(nops(8), {0x06}), 0, "push %es does not exist in 64-bit mode"},
      {"exception-table", cat(nops(8), {0x8b, 0x06}), 0, "mov (%rsi),%eax with a fixup, after the 5 bytes", {8}},
      {"", cat(nops(8), {0x8b, 0x06}), 0, "the same without a fixup"},
      {"reserved-site", cat(nops(3), {0x0f, 0x1f, 0x44, 0x00, 0x00}), 0, "a jump label's nop5 at A+3", {}, {{3, 5, "jump label"}}},
      {"reserved-site", cat({0xe8, 0, 0, 0, 0}, nops(4)) , 4, "inside an ftrace call before the probe", {}, {{0, 5, "ftrace"}}},
      {"", cat(nops(5), {0x0f, 0x1f, 0x44, 0x00, 0x00}), 0, "a jump label at A+5, past the replaced bytes", {}, {{5, 5, "jump label"}}},
      {"indirect-jump", cat(nops(6), {0xff, 0xe0}), 0, "jmp *%rax anywhere in the function"},
      {"indirect-jump", cat(nops(6), {0xff, 0x20}), 0, "jmp *(%rax)"},
      {"retpoline-jump", cat(nops(6), {0xe9, 0xf5, 0x0f, 0x00, 0x00}), 0, "jmp __x86_indirect_thunk (0x2000)"},
      {"jump-into-region", cat(nops(6), {0xeb, 0xfa}), 0, "jmp to A+2"},
      {"jump-into-region", cat(nops(6), {0xeb, 0xfd}), 0, "jmp to A+5, the kernel's range is inclusive"},
      {"jump-into-region", cat(nops(6), {0x0f, 0x84, 0xf5, 0xff, 0xff, 0xff}), 0, "je (near) to A+1"},
      {"jump-into-region", cat(nops(6), {0xe2, 0xfa}), 0, "loop to A+2"},
      {"int3-in-region", cat({0x90, 0x90, 0xcc}, nops(5)), 0, "an int3 at A+2"},
      {"masks-exceptions", cat({0x8e, 0xd0}, nops(6)), 0, "mov %eax,%ss"},
      {"prefix-not-boostable", cat({0x67, 0x8b, 0x00}, nops(5)), 0, "mov (%eax),%eax (addr32)"},
      {"prefix-not-boostable", cat({0x2e, 0x8b, 0x00}, nops(5)), 0, "mov %cs:(%rax),%eax"},
      {"opcode-not-boostable", cat({0x48, 0xc1, 0xe0, 0x03}, nops(4)), 0, "shl $3,%rax (grp2)"},
      {"opcode-not-boostable", cat({0x48, 0xd3, 0xe0}, nops(5)), 0, "shl %cl,%rax (grp2)"},
      {"opcode-not-boostable", cat({0x90, 0x74, 0x05}, nops(5)), 0, "je (short) at A+1"},
      {"opcode-not-boostable", cat({0xe8, 0, 0, 0, 0}, nops(3)), 0, "call"},
      {"opcode-not-boostable", cat({0x90, 0xe9, 0x10, 0, 0, 0}, nops(3)), 0, "jmp (near) out of the region"},
      {"opcode-not-boostable", cat({0x48, 0xf7, 0xd8}, nops(5)), 0, "neg %rax (grp3)"},
      {"opcode-not-boostable", cat({0xff, 0xd0}, nops(6)), 0, "call *%rax (grp5 but jmp)"},
      {"opcode-not-boostable", cat({0xfe, 0xc0}, nops(6)), 0, "inc %al (grp4)"},
      {"twobyte-not-boostable", cat({0x0f, 0x0b}, nops(6)), 0, "ud2"},
      {"twobyte-not-boostable", cat({0x0f, 0x32}, nops(6)), 0, "rdmsr"},
      {"threebyte-not-boostable", cat({0x66, 0x0f, 0x38, 0x00, 0xc1}, nops(3)), 0, "pshufb %xmm1,%xmm0"},
  };
  return e;
}

TEST(ProbeKind, EachExampleIsPredictedByItsRuleAndNoOther) {
  for (auto &ex : examples()) {
    ThunkRange thunks = std::string(ex.what).find("no thunk range") == std::string::npos ? kThunks : ThunkRange{};
    std::vector<uint64_t> extable;
    for (auto off : ex.extable) extable.push_back(kStart + off);
    std::vector<ReservedSite> reserved;
    for (auto r : ex.reserved) reserved.push_back({kStart + r.addr, r.size, r.what});
    auto p = predict_probe_kind({kStart, ex.code, extable, reserved}, kStart + ex.probe_offset, thunks);
    EXPECT_EQ(p.rule, ex.rule) << ex.what << ": " << p.detail;
    EXPECT_EQ(p.optimized, std::string(ex.rule).empty()) << ex.what;
    EXPECT_EQ(p.kind(), p.optimized ? "jump-optimized" : "int3");
  }
}

TEST(ProbeKind, EveryRuleHasAnExampleItRefuses) {
  std::set<std::string> covered;
  for (auto &ex : examples()) covered.insert(ex.rule);
  for (auto &r : probe_rules()) {
    EXPECT_TRUE(covered.count(r.name)) << r.name << " has no example";
    EXPECT_NE(std::string(r.why), "");
  }
}

TEST(ProbeKind, TheRefusalSaysWhere) {
  auto p = predict_probe_kind({kStart, cat(nops(6), {0xeb, 0xfa})}, kStart, kThunks);
  EXPECT_EQ(p.detail, "jump at 0x1006 to 0x1002");
  p = predict_probe_kind({kStart, cat({0x48, 0xc1, 0xe0, 0x03}, nops(4))}, kStart, kThunks);
  EXPECT_EQ(p.detail, "opcode c1 at 0x1000");
}

TEST(ProbeKind, AProbeOutsideItsFunctionIsNotOptimized) {
  EXPECT_EQ(predict_probe_kind({kStart, nops(8)}, kStart - 1).rule, "function-end");
  EXPECT_TRUE(predict_probe_kind({kStart, nops(8)}, kStart + 3).optimized);
}

}  // namespace
}  // namespace kx

namespace kx {
namespace {

// jmp __x86_return_thunk at +6: e9 to 0x2080, inside the thunks' range.
const std::vector<uint8_t> kReturnsByThunk = cat(nops(6), {0xe9, 0x75, 0x10, 0x00, 0x00});
constexpr uint64_t kReturnThunk = 0x2080;

TEST(ProbeKind, ReturnThunksPatchedOutAreRetAndInt3) {
  auto live = patch_returns({kStart, kReturnsByThunk}, kReturnThunk);
  EXPECT_EQ(live.bytes, cat(nops(6), {0xc3, 0xcc, 0xcc, 0xcc, 0xcc}));
  EXPECT_TRUE(predict_probe_kind(live, kStart, kThunks).optimized);
  // A jump elsewhere stays.
  EXPECT_EQ(patch_returns({kStart, kReturnsByThunk}, kReturnThunk + 1).bytes, kReturnsByThunk);
}

TEST(ProbeKind, ReturnThunksKeptMakeEveryProbeInTheFunctionInt3) {
  EXPECT_EQ(predict_probe_kind({kStart, kReturnsByThunk}, kStart, kThunks).rule, "retpoline-jump");
}

}  // namespace
}  // namespace kx
