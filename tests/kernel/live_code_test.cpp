// The bytes the running kernel has after KASLR moved it: absolute addresses
// in instructions move with the slide (the lab saw tcp_recvmsg's `mov $addr,
// %rsi` relocated), per-CPU offsets and PC-relative calls do not. Checked on
// the profile's debug vmlinux with its own relocation sections.
#include <gtest/gtest.h>

#include "binary/disasm.h"
#include "kernel/tree_cache.h"
#include "runtime/transaction.h"
#include "runtime/update_program.h"
#include "util/hex.h"

namespace kx {
namespace {

constexpr uint64_t kSlide = 0x3ac00000;

struct LiveCode : ::testing::Test {
  void SetUp() override {
    auto p = resolve_profile(default_profile_name());
    ASSERT_TRUE(p) << p.error().message;
    auto img = VmlinuxImage::open(p->debug_vmlinux);
    ASSERT_TRUE(img) << img.error().message;
    image = std::move(*img);
  }
  // The first instruction of `fn` whose encoding starts with `prefix`.
  uint64_t find(const std::string &fn, const std::vector<uint8_t> &prefix) {
    auto start = image->symbol(fn);
    if (!start) return 0;
    auto code = image->code(fn, *start, 1 << 16);
    if (!code) return 0;
    auto insns = disassemble(*code, std::vector<bool>(code->size(), false), *start);
    if (!insns) return 0;
    for (auto &in : *insns)
      if (std::equal(prefix.begin(), prefix.end(), code->begin() + in.offset)) return *start + in.offset;
    return 0;
  }
  std::unique_ptr<VmlinuxImage> image;
};

TEST_F(LiveCode, AbsoluteAddressesMoveWithTheSlide) {
  uint64_t at = find("tcp_recvmsg", {0x48, 0xc7, 0xc6});  // mov $imm32 (an address), %rsi
  ASSERT_NE(at, 0u) << "no mov of an absolute address in tcp_recvmsg";
  auto orig = image->code("tcp_recvmsg", at, 7);
  auto live = image->live_code("tcp_recvmsg", at, 7, kSlide);
  ASSERT_TRUE(orig && live);
  uint32_t a, b;
  memcpy(&a, orig->data() + 3, 4);
  memcpy(&b, live->data() + 3, 4);
  EXPECT_EQ(b, a + static_cast<uint32_t>(kSlide));
  EXPECT_EQ(std::vector<uint8_t>(live->begin(), live->begin() + 3), std::vector<uint8_t>(orig->begin(), orig->begin() + 3));
  EXPECT_EQ(*image->live_code("tcp_recvmsg", at, 7, 0), *orig);
}

TEST_F(LiveCode, PerCpuOffsetsAndCallsStay) {
  uint64_t gs = find("blk_start_plug_nr_ios", {0x65, 0x48, 0x8b, 0x04, 0x25});  // mov %gs:off, %rax
  ASSERT_NE(gs, 0u);
  EXPECT_EQ(*image->live_code("blk_start_plug_nr_ios", gs, 9, kSlide), *image->code("blk_start_plug_nr_ios", gs, 9));
  uint64_t call = find("do_shrink_slab", {0xe8});  // call rel32
  ASSERT_NE(call, 0u);
  EXPECT_EQ(*image->live_code("do_shrink_slab", call, 5, kSlide), *image->code("do_shrink_slab", call, 5));
}

// An update's ["linked", …] address (a span reading memory, issue 14):
// a rip-relative global moves with the slide, a %gs: per-CPU offset does not.
TEST_F(LiveCode, LinkedAddressesAreWhereTheRunningKernelReads) {
  auto global = image->symbol("pcpu_nr_empty_pop_pages");
  ASSERT_TRUE(global);
  auto start = image->symbol("pcpu_alloc");
  ASSERT_TRUE(start);
  auto code = image->code("pcpu_alloc", *start, 1 << 16);
  ASSERT_TRUE(code);
  auto insns = disassemble(*code, std::vector<bool>(code->size(), false), *start);
  ASSERT_TRUE(insns);
  int found = 0;
  for (auto &in : *insns) {
    if ((*code)[in.offset] != 0x83 || (*code)[in.offset + 1] != 0x3d) continue;  // cmpl $imm8, disp(%rip)
    auto live = image->live_code("pcpu_alloc", *start + in.offset, in.length, kSlide);
    ASSERT_TRUE(live);
    auto a = linked_address(*live, *start + in.offset + kSlide);
    ASSERT_TRUE(a) << a.error().message;
    found += *a == *global + kSlide;
  }
  EXPECT_GE(found, 1) << "no cmpl of pcpu_nr_empty_pop_pages in pcpu_alloc";

  uint64_t gs = find("blk_start_plug_nr_ios", {0x65, 0x48, 0x8b, 0x04, 0x25});  // mov %gs:current_task, %rax
  ASSERT_NE(gs, 0u);
  auto live = image->live_code("blk_start_plug_nr_ios", gs, 9, kSlide);
  ASSERT_TRUE(live);
  auto percpu = linked_address(*live, gs + kSlide);
  ASSERT_TRUE(percpu) << percpu.error().message;
  EXPECT_EQ(*percpu, *image->symbol("current_task"));
}

}  // namespace
}  // namespace kx

namespace kx {
namespace {

// __ex_table of the debug vmlinux, as the probe-kind prediction reads it:
// strncpy_from_user's user accesses are instructions of it with entries,
// so the kernel optimizes none of its probes; the block layer's plug
// functions have none.
TEST_F(LiveCode, ExceptionSitesAreInstructionsOfTheFunction) {
  const std::string fn = "strncpy_from_user";
  auto start = image->symbol(fn);
  ASSERT_TRUE(start);
  auto sites = image->exception_sites(fn, *start, SIZE_MAX);
  ASSERT_TRUE(sites) << sites.error().message;
  ASSERT_FALSE(sites->empty());
  auto code = image->code(fn, *start, SIZE_MAX);
  ASSERT_TRUE(code);
  auto insns = disassemble(*code, std::vector<bool>(code->size(), false), *start);
  ASSERT_TRUE(insns);
  for (auto s : *sites) {
    bool boundary = std::any_of(insns->begin(), insns->end(), [&](auto &in) { return *start + in.offset == s; });
    EXPECT_TRUE(boundary) << hex(s) << " is not an instruction of " << fn;
  }
  auto p = predict_probe_kind({*start, *code, *sites}, *start + 0x10);
  EXPECT_EQ(p.rule, "exception-table") << p.detail;

  auto plug = image->symbol("blk_start_plug_nr_ios");
  ASSERT_TRUE(plug);
  EXPECT_TRUE(image->exception_sites("blk_start_plug_nr_ios", *plug, SIZE_MAX)->empty());
}

// __mcount_loc, __jump_table and .static_call_sites as the prediction reads
// them: ftrace's call at the start of a traced function (after its endbr64
// where IBT puts one) is a 5-byte instruction there.
TEST_F(LiveCode, ReservedSitesIncludeTheFtraceCallOfATracedFunction) {
  const std::string fn = "blk_start_plug_nr_ios";
  auto start = image->symbol(fn);
  ASSERT_TRUE(start);
  auto sites = image->reserved_sites(fn, *start, SIZE_MAX);
  ASSERT_TRUE(sites) << sites.error().message;
  auto ftrace = std::find_if(sites->begin(), sites->end(), [](auto &r) { return r.what == "ftrace"; });
  ASSERT_NE(ftrace, sites->end());
  EXPECT_LE(ftrace->addr - *start, 4u);
  auto code = image->code(fn, ftrace->addr, 16);
  ASSERT_TRUE(code);
  EXPECT_EQ(*instruction_length(*code), 5u);
  for (auto &r : *sites) EXPECT_TRUE(r.size == 2 || r.size == 5) << r.what << " at " << hex(r.addr);
}

}  // namespace
}  // namespace kx
