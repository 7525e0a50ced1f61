// Critical spans on assembly fixtures, one per kind of indirection, and the
// end-to-end check the proof stands for: on random states, running the
// ORIGINAL span then the synthesized update (with the concrete evaluator the
// runtime mirrors) gives what the span compiled with the new value gives.
#include <gtest/gtest.h>
#include <unicorn/unicorn.h>

#include <chrono>
#include <cstring>
#include <random>

#include "seeds/seeds.h"
#include "symbolic/sym_state.h"
#include "synth/critical_span.h"
#include "synth/op_template.h"
#include "runtime/update_program.h"
#include "synth/update_expr.h"
#include "test_util.h"

namespace kx {
namespace {

constexpr uint64_t kCode = 0x100000, kData = 0x200000;
const int kUcRegs[16] = {UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
                         UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
                         UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
                         UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15};
const unsigned kFlagBit[kFlagCount] = {0, 2, 4, 6, 7, 11};

// Fixtures keep a variable at this offset of .text (rip_cmp.S).
constexpr uint64_t kTextData = 0x100;

struct Machine {
  uint64_t gpr[16];
  uint64_t eflags;
  std::vector<uint8_t> data;       // at kData, which is also the %gs base
  std::vector<uint8_t> text_data;  // at kCode + kTextData when the code reaches there
};

// Runs code[start, stop) from `m` in Unicorn.
Machine emulate(const std::vector<uint8_t> &code, uint64_t start, uint64_t stop, Machine m) {
  uc_engine *uc;
  uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
  uc_mem_map(uc, kCode, 0x1000, UC_PROT_ALL);
  uc_mem_map(uc, kData, 0x1000, UC_PROT_ALL);
  uc_mem_write(uc, kCode, code.data(), code.size());
  if (code.size() >= kTextData + m.text_data.size())
    uc_mem_write(uc, kCode + kTextData, m.text_data.data(), m.text_data.size());
  uc_mem_write(uc, kData, m.data.data(), m.data.size());
  uint64_t gs = kData;
  uc_reg_write(uc, UC_X86_REG_GS_BASE, &gs);
  for (int i = 0; i < 16; ++i) uc_reg_write(uc, kUcRegs[i], &m.gpr[i]);
  uc_reg_write(uc, UC_X86_REG_EFLAGS, &m.eflags);
  EXPECT_EQ(uc_emu_start(uc, kCode + start, kCode + stop, 0, 0), UC_ERR_OK);
  for (int i = 0; i < 16; ++i) uc_reg_read(uc, kUcRegs[i], &m.gpr[i]);
  uc_reg_read(uc, UC_X86_REG_EFLAGS, &m.eflags);
  uc_mem_read(uc, kData, m.data.data(), m.data.size());
  uc_close(uc);
  return m;
}

struct SpanFixture : ::testing::Test {
  test::TempDir d;
  std::filesystem::path build(const std::string &src, int64_t value) {
    auto out = d / (src + "." + std::to_string(value) + ".o");
    auto r = run_checked({"gcc-12", "-O2", "-c", KX_FIXTURES "/spans/" + src, "-DVALUE=" + std::to_string(value),
                          "-o", out.string()});
    EXPECT_TRUE(r) << r.error().message;
    return out;
  }
  DecodedFunction function(const std::filesystem::path &obj) {
    auto e = ElfFile::open(obj);
    auto fns = decode_functions(*e);
    return fns->at("f");
  }
  std::vector<uint8_t> code(const std::filesystem::path &obj) {
    auto e = ElfFile::open(obj);
    auto t = e->section_index(".text");
    auto b = e->bytes(*t, 0, e->section_size(*t));
    return {b->begin(), b->end()};
  }
  // The seeds of the original build `f`.
  std::vector<SpanSeed> seeds(const std::string &src, int64_t v0, DecodedFunction &f) {
    std::vector<Variant> vs;
    auto values = choose_test_values(v0);
    for (size_t i = 0; i < 3; ++i) vs.push_back({values[i], build(src, values[i])});
    auto orig = build(src, v0);
    auto found = find_object_seeds(src, orig, vs, v0);
    EXPECT_TRUE(found) << found.error().message;
    EXPECT_FALSE(found->seeds.empty());
    f = function(orig);
    std::vector<SpanSeed> out;
    for (auto &s : found->seeds)
      for (size_t i = 0; i < f.insns.size(); ++i)
        if (f.insns[i].offset == s.offset) out.push_back({i, s.operand, s.relation});
    return out;
  }
  // Seeds, then spans of the original build (its seeds in `seeds_out`).
  std::vector<CriticalSpan> spans(const std::string &src, int64_t v0, std::vector<SpanSeed> *seeds_out = nullptr) {
    DecodedFunction f;
    auto s = seeds(src, v0, f);
    if (seeds_out) *seeds_out = s;
    return build_critical_spans(f, s);
  }

  // Machine `a`, where the ORIGINAL code `orig` left it at the span's probe
  // after starting from `m`, once the span's update for `v1` has run as the
  // runtime runs it: linked addresses resolved from the code, all reads (of
  // memory as it is at the probe), then all writes.
  Machine updated(const CriticalSpan &cs, const std::vector<uint8_t> &orig, Machine a, const Machine &m, int64_t v1) {
    auto update = resolve_linked(cs.update, [&](uint64_t offset) -> Result<uint64_t> {
      return linked_address(std::span(orig).subspan(offset), kCode + offset);
    });
    EXPECT_TRUE(update) << update.error().message;
    if (!update) return a;
    ConcreteEnv env;
    env.gs_base = kData;
    env.load = [&](uint64_t addr, unsigned bytes) -> std::optional<uint64_t> {
      uint64_t v = 0;
      if (addr >= kData && addr + bytes <= kData + a.data.size()) memcpy(&v, &a.data[addr - kData], bytes);
      else if (addr >= kCode + kTextData && addr + bytes <= kCode + kTextData + a.text_data.size())
        memcpy(&v, &a.text_data[addr - kCode - kTextData], bytes);
      else return std::nullopt;
      return v;
    };
    for (int i = 0; i < 16; ++i) {
      env.regs[gpr_name(i)] = a.gpr[i];
      env.caps[gpr_name(i)] = m.gpr[i];
    }
    for (int f = 0; f < kFlagCount; ++f) {
      env.flags[flag_name(Flag(f))] = (a.eflags >> kFlagBit[f]) & 1;
      env.capflags[flag_name(Flag(f))] = (m.eflags >> kFlagBit[f]) & 1;
    }
    env.v = static_cast<uint64_t>(v1);
    std::vector<std::pair<nlohmann::json, uint64_t>> writes;
    for (auto &as : (*update)["assign"]) {
      auto v = evaluate_update_expr(as["expr"], env);
      EXPECT_TRUE(v) << v.error().message;
      if (!v) return a;
      nlohmann::json dest = as["dest"];
      if (dest.is_object()) {
        auto addr = evaluate_update_expr(dest["mem8"], env);
        EXPECT_TRUE(addr);
        if (!addr) return a;
        dest = *addr;
      }
      writes.push_back({dest, *v});
    }
    for (auto &[dest, v] : writes) {
      if (dest.is_number()) {
        a.data.at(dest.get<uint64_t>() - kData) = static_cast<uint8_t>(v);
        continue;
      }
      for (int i = 0; i < 16; ++i)
        if (dest == gpr_name(i)) a.gpr[i] = v;
      for (int f = 0; f < kFlagCount; ++f)
        if (dest == flag_name(Flag(f))) a.eflags = (a.eflags & ~(1ull << kFlagBit[f])) | (v << kFlagBit[f]);
    }
    return a;
  }

  // The end-to-end check, over random states, for new value `v1`.
  void check_end_to_end(const std::string &src, int64_t v0, const CriticalSpan &cs, int64_t v1) {
    auto orig = code(build(src, v0)), tuned = code(build(src, v1));
    // The same instructions in the tuned build; a value may change an
    // encoding's length (imm8 -> imm32), so take its own offsets.
    DecodedFunction tf = function(build(src, v1));
    ASSERT_EQ(function(build(src, v0)).insns.size(), tf.insns.size());
    uint64_t tstart = tf.insns[cs.first].offset, tprobe = tf.insns[cs.last + 1].offset;
    std::mt19937_64 rng(v1);
    for (int round = 0; round < 200; ++round) {
      Machine m;
      for (auto &g : m.gpr) g = rng();
      if (round % 4 == 0) m.gpr[0] &= 0xff;  // small values reach the compare's edges
      m.gpr[7] = kData + 0x100;               // rdi: a struct in mapped memory
      m.gpr[8] = 0x200;                       // r8: an offset from the %gs base
      m.eflags = 0x2 | (rng() & 0x8d5);
      m.data.assign(0x1000, 0);
      for (auto &b : m.data) b = rng();
      m.text_data.assign(8, 0);
      for (auto &b : m.text_data) b = rng();
      if (round % 4 == 1) {  // memory equal to the compare's edges
        for (uint64_t at : {0x100 + 0x2c, 0x100 + 0x10, 0x200 + 0x12}) memcpy(&m.data[at], &v1, 4);
        memcpy(m.text_data.data(), &v1, 4);
      }
      Machine b = emulate(tuned, tstart, tprobe, m);
      Machine a = updated(cs, orig, emulate(orig, cs.start, cs.probe, m), m, v1);
      for (int i = 0; i < 16; ++i) EXPECT_EQ(a.gpr[i], b.gpr[i]) << src << " " << gpr_name(i) << " V'=" << v1;
      for (int f = 0; f < kFlagCount; ++f) {
        // Flags the ISA leaves undefined after the span (AF after logic, SF/ZF/PF
        // after imul) differ between runs on real hardware too.
        const auto &u = cs.undefined_flags;
        if (std::find(u.begin(), u.end(), flag_name(Flag(f))) != u.end()) continue;
        EXPECT_EQ((a.eflags >> kFlagBit[f]) & 1, (b.eflags >> kFlagBit[f]) & 1)
            << src << " " << flag_name(Flag(f)) << " V'=" << v1;
      }
      EXPECT_EQ(a.data, b.data) << src << " memory, V'=" << v1;
    }
  }
};

TEST_F(SpanFixture, InsertionAfterALoad) {
  auto cs = spans("insert_mov.S", 128);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].kind, SynthKind::Insertion);
  EXPECT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
  EXPECT_EQ(cs[0].defines, (std::vector<std::string>{"rax"}));
  for (int64_t v : {1, 77, 4096}) check_end_to_end("insert_mov.S", 128, cs[0], v);
}

TEST_F(SpanFixture, FlagsOnlyCompareBeforeAJcc) {
  auto cs = spans("flags_cmp.S", 8);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].kind, SynthKind::Insertion);
  EXPECT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
  ASSERT_EQ(cs[0].notes.size(), 1u);  // the probe is on a jcc: Appendix B
  for (int64_t v : {2, 30, 200}) check_end_to_end("flags_cmp.S", 8, cs[0], v);
}

TEST_F(SpanFixture, OddMultiplierIsUndone) {
  auto cs = spans("inverse_imul.S", 37);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].kind, SynthKind::Inverse);
  EXPECT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
  EXPECT_TRUE(cs[0].update["captures"].empty());
  for (int64_t v : {3, 41, 100}) check_end_to_end("inverse_imul.S", 37, cs[0], v);
}

TEST_F(SpanFixture, MaskNeedsTheInputCapturedFirst) {
  auto cs = spans("dual_mask.S", 32);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].kind, SynthKind::Dual);
  EXPECT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
  EXPECT_EQ(cs[0].update["captures"], nlohmann::json::array({"rax"}));
  EXPECT_EQ(cs[0].capture, cs[0].start);
  for (int64_t v : {8, 16, 64}) check_end_to_end("dual_mask.S", 32, cs[0], v);
}

TEST_F(SpanFixture, StoreIsRewrittenInMemory) {
  auto cs = spans("store.S", 300);
  ASSERT_EQ(cs.size(), 1u);
  ASSERT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
  EXPECT_EQ(cs[0].defines, (std::vector<std::string>{"mem"}));
  for (int64_t v : {1, 1000, 70000}) check_end_to_end("store.S", 300, cs[0], v);
}

TEST_F(SpanFixture, ShiftCapturesFlagsItMayKeep) {
  auto cs = spans("shift_dual.S", 3);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].kind, SynthKind::Dual);
  EXPECT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
  for (int64_t v : {0, 1, 5, 31}) check_end_to_end("shift_dual.S", 3, cs[0], v);
}

TEST_F(SpanFixture, UpdateIsRefusedWhereLaterCodeReadsAFlagItMayLeaveUndefined) {
  auto cs = spans("shift_carry.S", 3);
  ASSERT_EQ(cs.size(), 1u);
  const auto &u = cs[0].undefined_flags;
  ASSERT_NE(std::find(u.begin(), u.end(), "cf"), u.end());  // shlb by 8..31
  EXPECT_EQ(cs[0].proof, ProofResult::Failed) << "the jc after the span reads CF";
  EXPECT_NE(cs[0].detail.find("reads cf, which a build with V' may leave undefined"), std::string::npos)
      << cs[0].detail;
  // What the refusal prevents: the update leaves CF as the shift by 3 set
  // it (bit 5 of al), where a build with 5, whose CF is defined, has bit 3.
  auto orig = code(build("shift_carry.S", 3)), tuned = code(build("shift_carry.S", 5));
  int differ = 0;
  for (uint64_t al = 0; al < 256; ++al) {
    Machine m{{}, 0x2, std::vector<uint8_t>(0x1000)};
    m.gpr[0] = al;
    Machine a = updated(cs[0], orig, emulate(orig, cs[0].start, cs[0].probe, m), m, 5);
    Machine b = emulate(tuned, cs[0].start, cs[0].probe, m);
    EXPECT_EQ(a.gpr[0], b.gpr[0]);
    differ += (a.eflags & 1) != (b.eflags & 1);
  }
  EXPECT_EQ(differ, 128);  // the al whose bits 5 and 3 differ
}

TEST_F(SpanFixture, FlagsRewrittenOnEveryPathBeforeAReadAreNotRead) {
  // shift_dual.S: the cmp after `shr` rewrites every flag before seta reads one.
  auto cs = spans("shift_dual.S", 3);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_FALSE(cs[0].undefined_flags.empty());  // OF for counts above 1
  EXPECT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
}

// Spans that read memory (issue 14): the update reads, at the probe, what
// the span read; proven for all memory contents.
TEST_F(SpanFixture, CompareWithAStructFieldReadsTheFieldAgain) {
  std::vector<SpanSeed> seeds;
  auto cs = spans("mem_cmp.S", 131072, &seeds);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
  EXPECT_EQ(cs[0].kind, SynthKind::Insertion);
  EXPECT_NE(cs[0].update.dump().find(R"(["load",32,)"), std::string::npos) << cs[0].update.dump();
  for (int64_t v : {1, 8, 4096, 131072, 1 << 20}) check_end_to_end("mem_cmp.S", 131072, cs[0], v);
}

TEST_F(SpanFixture, CompareWithAGlobalReadsItsLinkedAddress) {
  auto cs = spans("rip_cmp.S", 1000);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
  EXPECT_NE(cs[0].update.dump().find(R"(["linked","0x0"])"), std::string::npos) << cs[0].update.dump();
  for (int64_t v : {200, 999, 70000}) check_end_to_end("rip_cmp.S", 1000, cs[0], v);
}

TEST_F(SpanFixture, PerCpuTestReadsTheCpusOwnCopy) {
  auto cs = spans("gs_test.S", 12);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
  EXPECT_NE(cs[0].update.dump().find(R"(["gsbase"])"), std::string::npos) << cs[0].update.dump();
  for (int64_t v : {1, 3, 0x7f, 0x4000}) check_end_to_end("gs_test.S", 12, cs[0], v);
}

TEST_F(SpanFixture, UpdateReadingAnotherAddressIsNotProven) {
  std::vector<SpanSeed> seeds;
  auto cs = spans("mem_cmp.S", 131072, &seeds);
  ASSERT_EQ(cs.size(), 1u);
  ASSERT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
  DecodedFunction f = function(build("mem_cmp.S", 131072));
  auto [ok, why] = prove_update(f, cs[0].first, cs[0].last, seeds, cs[0].update, cs[0].v_min, cs[0].v_max);
  EXPECT_EQ(ok, ProofResult::Proved) << why;
  // The field 4 bytes on: a different value.
  std::string text = cs[0].update.dump();
  std::string shifted = text;
  for (size_t at = 0; (at = shifted.find("\"0x2c\"", at)) != std::string::npos; at += 6) shifted.replace(at, 6, "\"0x30\"");
  ASSERT_NE(shifted, text);
  auto [bad, bad_why] = prove_update(f, cs[0].first, cs[0].last, seeds, nlohmann::json::parse(shifted), cs[0].v_min, cs[0].v_max);
  EXPECT_EQ(bad, ProofResult::Failed) << bad_why;
  EXPECT_EQ(bad_why.rfind("counterexample", 0), 0u) << bad_why;
  // The right value, plus a read elsewhere whose value does not matter: the
  // update still reads what the span does not.
  nlohmann::json extra = cs[0].update;
  nlohmann::json &e = extra["assign"][0]["expr"];
  nlohmann::json wrong = {"load", 8, {"add", 64, {"reg", "rdi"}, {"const", 64, "0x40"}}};
  e = {"ite", 1, {"eq", wrong, wrong}, e, e};
  auto [dead, dead_why] = prove_update(f, cs[0].first, cs[0].last, seeds, extra, cs[0].v_min, cs[0].v_max);
  EXPECT_EQ(dead, ProofResult::Failed) << dead_why;
  EXPECT_EQ(dead_why.rfind("counterexample", 0), 0u) << dead_why;  // the values agree: only the read differs
}

TEST_F(SpanFixture, RegisterKeepingAReadValueIsRefused) {
  auto cs = spans("mem_load_kept.S", 300);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_NE(cs[0].proof, ProofResult::Proved);
  EXPECT_NE(cs[0].detail.find("rax keeps a value the span read from memory"), std::string::npos) << cs[0].detail;
}

// A per-CPU store is rewritten only where the task stayed on its CPU: the
// span's start captures its context-switch count (the runtime skips the
// update when it changed).
TEST_F(SpanFixture, PerCpuStoreIsRewrittenOnlyOnTheSameCpu) {
  auto cs = spans("gs_store.S", 3);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].proof, ProofResult::Proved) << cs[0].detail;
  EXPECT_EQ(cs[0].kind, SynthKind::Dual);
  EXPECT_EQ(cs[0].capture, cs[0].start);
  EXPECT_EQ(cs[0].update["captures"], nlohmann::json::array({"switches"}));
  EXPECT_NE(cs[0].update.dump().find(R"(["gsbase"])"), std::string::npos) << cs[0].update.dump();
  for (int64_t v : {0, 1, 300, 0xffff}) check_end_to_end("gs_store.S", 3, cs[0], v);
}

TEST_F(SpanFixture, StrengthReducedUseIsMatchedByItsExpression) {
  const int64_t v0 = 1280;
  auto values = choose_test_values(v0);
  std::vector<Variant> vs;
  for (size_t i = 0; i < 3; ++i) vs.push_back({values[i], build("strength_reduced.c", values[i])});
  auto orig_obj = build("strength_reduced.c", v0);
  auto found = find_object_seeds("f.o", orig_obj, vs, v0);
  ASSERT_TRUE(found);
  ASSERT_EQ(found->regions.size(), 1u) << "the imul has no partner in lea+shl";
  const SeedRegion &rg = found->regions[0];
  DecodedFunction orig = function(orig_obj);
  DecodedFunction test;
  for (auto &v : vs)
    if (v.value == rg.test_value) test = function(v.object);
  std::vector<SpanSeed> seeds;
  for (auto &[insn, op, rel] : rg.seeds) seeds.push_back({insn, op, rel});
  std::string why;
  auto cs = build_region_span(orig, rg.orig_first, rg.orig_last, test, rg.test_first, rg.test_last, seeds, v0, why);
  ASSERT_TRUE(cs) << why;
  EXPECT_EQ(cs->proof, ProofResult::Proved) << cs->detail;
  EXPECT_EQ(cs->kind, SynthKind::Insertion);     // edi survives lea+shl
  EXPECT_EQ(cs->last - cs->first, 1u);           // the lea and the shl
  // The update computes eax = edi * V' for any V', as the compiler would.
  for (uint64_t x : {0ull, 7ull, 123456ull, 0xfffffff0ull})
    for (int64_t v : {1, 1280, 4739, 100000}) {
      ConcreteEnv env;
      for (int r = 0; r < 16; ++r) env.regs[gpr_name(r)] = 0xdead0000 + r;
      env.regs["rdi"] = x;
      env.v = v;
      ASSERT_EQ(cs->update["assign"].size(), 1u);
      EXPECT_EQ(cs->update["assign"][0]["dest"], "rax");
      EXPECT_EQ(*evaluate_update_expr(cs->update["assign"][0]["expr"], env), (x * v) & 0xffffffff);
    }
}

// Region spans of a fixture: the first region find_object_seeds files,
// matched by build_region_span, with test values of one family.
struct RegionFixture : SpanFixture {
  DecodedFunction orig, test;
  std::vector<SpanSeed> seeds;
  std::optional<CriticalSpan> span(const std::string &src, int64_t v0, TestFamily family, std::string *why = nullptr) {
    auto orig_obj = build(src, v0);
    orig = function(orig_obj);
    auto values = choose_test_values(v0, family);
    std::vector<Variant> vs;
    for (size_t i = 0; i < 3; ++i) vs.push_back({values[i], build(src, values[i])});
    auto found = find_object_seeds("f.o", orig_obj, vs, v0);
    EXPECT_TRUE(found) << found.error().message;
    if (!found || found->regions.empty()) return std::nullopt;
    const SeedRegion &rg = found->regions[0];
    for (auto &v : vs)
      if (v.value == rg.test_value) test = function(v.object);
    seeds.clear();
    for (auto &[insn, op, rel] : rg.seeds) seeds.push_back({insn, op, rel});
    std::string w;
    auto cs = build_region_span(orig, rg.orig_first, rg.orig_last, test, rg.test_first, rg.test_last, seeds, v0, w);
    if (why) *why = cs ? cs->detail : w;
    if (!cs || cs->proof != ProofResult::Proved) return std::nullopt;
    return cs;
  }
  // eax after the update for V', with every other register distinct.
  uint64_t eax_after(const CriticalSpan &cs, std::map<std::string, uint64_t> regs, int64_t v,
                     std::function<std::optional<uint64_t>(uint64_t, unsigned)> load = {}) {
    ConcreteEnv env;
    for (int r = 0; r < 16; ++r) env.regs[gpr_name(r)] = 0xdead0000 + r;
    for (auto &[k, x] : regs) env.regs[k] = x;
    env.v = v;
    env.load = load;
    EXPECT_EQ(cs.update["assign"].size(), 1u);
    EXPECT_EQ(cs.update["assign"][0]["dest"], "rax");
    auto r = evaluate_update_expr(cs.update["assign"][0]["expr"], env);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : 0;
  }
};

// A multiplier of 4 folded into a lea (scaled_diff.c): with test values of
// its own kind (8, 16: lea and shl+sub) the region matching cannot state
// the test builds' expression in V; with plain values (imul, T = V) it can,
// though the test builds keep the product in edi and the shipped code in
// eax; and the build at another value confirms the span by what it
// computes, not its shape (a lea at 4, 8; an imul at 47).
TEST_F(RegionFixture, MultiplierFoldedIntoLeaIsMatchedWithPlainTestValues) {
  EXPECT_FALSE(span("scaled_diff.c", 4, TestFamily::Shaped)) << "powers of two: shl, T = log2 V";
  auto cs = span("scaled_diff.c", 4, TestFamily::Plain);
  ASSERT_TRUE(cs);
  EXPECT_EQ(cs->kind, SynthKind::Insertion);  // edi survives the lea
  for (auto &sd : seeds) EXPECT_TRUE(sd.relation.linear) << sd.relation.describe();
  for (uint64_t x : {3ull, 7ull, 123456ull})
    for (int64_t v : {1, 4, 47, 100000}) EXPECT_EQ(eax_after(*cs, {{"rdi", x}}, v), ((x - 2) * v) & 0xffffffff);
  ASSERT_TRUE(cs->spec_region);
  auto [first, last] = *cs->spec_region;
  for (int64_t v : {4, 8, 16, 47, 1000}) {
    DecodedFunction at = function(build("scaled_diff.c", v));
    EXPECT_EQ(same_region_expression(test, first, last, seeds, at, v), "same") << v;
    EXPECT_EQ(same_region_expression(test, first, last, seeds, at, v + 1), "differs") << v;
  }
  DecodedFunction at8 = function(build("scaled_diff.c", 8));
  EXPECT_NE(same_expression(test, first, last, seeds, at8, 8), "same") << "the shapes differ: lea vs imul";
}

// A multiplier of a field read from memory (scaled_load.c): the shipped
// mov; mov $32; add has an unrelated instruction in the middle, so the
// region grows over it; the add's carry comes from the read but the flags
// are dead, so the update may read the field again.
TEST_F(RegionFixture, MultiplierOfALoadedFieldGrowsOverScheduledInstructions) {
  std::string why;
  auto cs = span("scaled_load.c", 2, TestFamily::Plain, &why);
  ASSERT_TRUE(cs) << why;
  EXPECT_EQ(orig.insns[cs->last].mnemonic(), ZYDIS_MNEMONIC_ADD) << orig.insns[cs->last].text;
  uint64_t rdi = 0x10000;
  for (uint32_t io_opt : {0u, 5u, 4096u, 0x7fffffffu})
    for (int64_t v : {1, 2, 43, 1000}) {
      auto load = [&](uint64_t addr, unsigned bytes) -> std::optional<uint64_t> {
        EXPECT_EQ(addr, rdi + 0x1fc);
        EXPECT_EQ(bytes, 4u);
        return io_opt;
      };
      EXPECT_EQ(eax_after(*cs, {{"rdi", rdi}}, v, load), (uint32_t)(io_opt * (uint32_t)v)) << io_opt << " " << v;
    }
}

// The proof checker against wrong updates: each must get a counterexample.
struct ProofChecker : SpanFixture {
  DecodedFunction f;
  std::vector<SpanSeed> seed;
  CriticalSpan cs;
  void load(const std::string &src, int64_t v0) {
    seed = seeds(src, v0, f);
    auto all = build_critical_spans(f, seed);
    ASSERT_EQ(all.size(), 1u);
    cs = all[0];
    ASSERT_EQ(cs.proof, ProofResult::Proved) << cs.detail;
  }
  std::pair<ProofResult, std::string> prove(const nlohmann::json &update, int64_t lo, int64_t hi) {
    return prove_update(f, cs.first, cs.last, seed, update, lo, hi);
  }
  void expect_counterexample(const nlohmann::json &update, int64_t lo, int64_t hi, const std::string &at) {
    auto [res, why] = prove(update, lo, hi);
    EXPECT_EQ(res, ProofResult::Failed) << update.dump();
    EXPECT_NE(why.find("counterexample at V'=" + at), std::string::npos) << why;
  }
};

// Replaces every ["v"] in `j` by `by`.
nlohmann::json replace_v(const nlohmann::json &j, const nlohmann::json &by) {
  if (j == nlohmann::json::array({"v"})) return by;
  if (!j.is_array()) return j;
  nlohmann::json out = nlohmann::json::array();
  for (auto &x : j) out.push_back(replace_v(x, by));
  return out;
}

TEST_F(ProofChecker, TheSynthesizedUpdateIsProvedOverItsRange) {
  load("insert_mov.S", 128);
  EXPECT_EQ(prove(cs.update, cs.v_min, cs.v_max).first, ProofResult::Proved);
}

TEST_F(ProofChecker, AnOffByOneUpdateGetsACounterexample) {
  for (auto [src, v0] : {std::pair<const char *, int64_t>{"insert_mov.S", 128}, {"flags_cmp.S", 8}, {"dual_mask.S", 32}}) {
    SCOPED_TRACE(src);
    load(src, v0);
    nlohmann::json u = cs.update;
    for (auto &a : u["assign"]) a["expr"] = replace_v(a["expr"], nlohmann::json::array({"add", 64, nlohmann::json::array({"v"}),
                                                                         nlohmann::json::array({"const", 64, "0x1"})}));
    ASSERT_NE(u, cs.update);
    auto [res, why] = prove(u, cs.v_min, cs.v_max);
    EXPECT_EQ(res, ProofResult::Failed);
    EXPECT_NE(why.find("counterexample at V'="), std::string::npos) << why;
    printf("%s, V' + 1: %s\n", src, why.c_str());
  }
}

TEST_F(ProofChecker, AWrongRegisterGetsACounterexample) {
  load("dual_mask.S", 32);  // eax = (sbb's eax & -V) + 2V: reads the captured rax
  nlohmann::json dest = cs.update;
  ASSERT_EQ(dest["assign"][0]["dest"], "rax");
  dest["assign"][0]["dest"] = "rdx";
  auto [res, why] = prove(dest, cs.v_min, cs.v_max);
  EXPECT_EQ(res, ProofResult::Failed);
  printf("written to rdx: %s\n", why.c_str());
  nlohmann::json read = cs.update;
  std::string e = read["assign"][0]["expr"].dump();
  ASSERT_NE(e.find("[\"cap\",\"rax\"]"), std::string::npos) << e;
  e.replace(e.find("[\"cap\",\"rax\"]"), 13, "[\"cap\",\"rsi\"]");
  read["assign"][0]["expr"] = nlohmann::json::parse(e);
  std::tie(res, why) = prove(read, cs.v_min, cs.v_max);
  EXPECT_EQ(res, ProofResult::Failed);
  printf("reading rsi: %s\n", why.c_str());
}

// One past the widest range an operand allows: its own width.
TEST_F(ProofChecker, ARangeOneTooWideGetsACounterexampleAtTheExtraValue) {
  load("insert_mov.S", 128);  // mov $V, %eax: an imm32, V in [-2^31, 2^32 - 1]
  expect_counterexample(cs.update, cs.v_min, 4294967296, "4294967296: T no longer fits");
  expect_counterexample(cs.update, -2147483649, cs.v_max, "-2147483649: T no longer fits");
  load("flags_cmp.S", 8);  // cmp $(V - 1), %al: an imm8 holding T = V - 1, V in [-127, 256]
  expect_counterexample(cs.update, cs.v_min, 257, "257: T no longer fits");
  expect_counterexample(cs.update, -128, cs.v_max, "-128: T no longer fits");
}

TEST(UpdateExpr, RoundTripsThroughJsonAndAgreesWithZ3) {
  z3::context c;
  z3::expr r = c.bv_const("r_rax", 64), v = c.bv_const("V", 64), cf = c.bool_const("f_cf");
  z3::expr e = z3::ite(cf, (r & c.bv_val(static_cast<int64_t>(-32), 64)) + v * c.bv_val(2, 64),
                       z3::zext(r.extract(31, 0) ^ v.extract(31, 0), 32));
  auto j = to_update_expr(e.simplify());
  ASSERT_TRUE(j) << j.error().message;
  std::map<std::string, z3::expr> vars = {{"r_rax", r}, {"V", v}, {"f_cf", cf}};
  auto back = from_update_expr(c, *j, vars);
  ASSERT_TRUE(back);
  z3::solver s(c);
  s.add(*back != e);
  EXPECT_EQ(s.check(), z3::unsat);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100; ++i) {
    ConcreteEnv env;
    env.regs["rax"] = rng();
    env.flags["cf"] = rng() & 1;
    env.v = rng() % 1000;
    z3::expr_vector from(c), to(c);
    from.push_back(r), to.push_back(c.bv_val(env.regs["rax"], 64));
    from.push_back(v), to.push_back(c.bv_val(env.v, 64));
    from.push_back(cf), to.push_back(c.bool_val(env.flags["cf"]));
    uint64_t want = e.substitute(from, to).simplify().get_numeral_uint64();
    EXPECT_EQ(*evaluate_update_expr(*j, env), want);
  }
}

TEST(UpdateExpr, RefusesWhatTheRuntimeCannotDo) {
  z3::context c;
  z3::expr r = c.bv_const("r_rax", 64);
  EXPECT_FALSE(to_update_expr(z3::smod(r, c.bv_const("r_rcx", 64))));  // a modulus of the divisor's sign
  EXPECT_FALSE(to_update_expr(r + c.bv_const("in_mem_word", 64)));      // not a runtime variable
  EXPECT_FALSE(to_update_expr(z3::zext(r, 64) * z3::zext(r, 64)));      // 128-bit arithmetic
}

// Operation templates (synth/op_template.h): a division by the constant is a
// magic multiply whose magic number no relation fits; the region is matched
// as F(x, V) for F of the table, in the original and in every test build.
struct TemplateFixture : SpanFixture {
  DecodedFunction orig;
  std::vector<DecodedFunction> builds;
  std::vector<TestBuild> tests;
  void load(const std::string &fn, int64_t v0) {
    auto named = [&](const std::filesystem::path &obj) {
      auto e = ElfFile::open(obj);
      return decode_functions(*e)->at(fn);
    };
    orig = named(build("div_const.c", v0));
    auto values = choose_test_values(v0);
    builds.clear();
    for (size_t i = 0; i < 3; ++i) builds.push_back(named(build("div_const.c", values[i])));
    tests.clear();
    for (size_t i = 0; i < 3; ++i) tests.push_back({values[i], &builds[i]});
  }
  CriticalSpan only_span(const std::string &fn, int64_t v0) {
    load(fn, v0);
    std::string why;
    auto spans = find_template_spans(orig, tests, v0, why);
    EXPECT_EQ(spans.size(), 1u) << why;
    return spans.empty() ? CriticalSpan{} : spans[0];
  }
};

TEST_F(TemplateFixture, UnsignedDivisionIsFoundAndItsDualUpdateProven) {
  auto t0 = std::chrono::steady_clock::now();
  CriticalSpan cs = only_span("udiv32", 10);
  ASSERT_EQ(cs.op_templates.size(), 1u);
  const TemplateMatch &m = cs.op_templates[0];
  EXPECT_EQ(m.op, "udiv");
  EXPECT_EQ(m.width, 32u);
  EXPECT_STREQ(gpr_name(m.input), "rdx");  // x, the third argument
  EXPECT_EQ(cs.kind, SynthKind::Dual);
  EXPECT_EQ(cs.proof, ProofResult::Proved) << cs.detail;
  EXPECT_EQ(cs.v_min, 1);  // never a division by zero
  EXPECT_EQ(cs.v_max, 0xffffffffll);
  EXPECT_EQ(cs.update["captures"], nlohmann::json::array({"rdx"}));
  // The update computes x / V' for any V', as the compiler would.
  ConcreteEnv env;
  for (uint64_t x : {0ull, 9ull, 10ull, 123456789ull, 0xffffffffull})
    for (int64_t v : {1, 3, 10, 37, 1000, 0x7fffffff}) {
      env.caps["rdx"] = x | 0xabcd00000000ull;  // upper half: not x's
      env.v = v;
      EXPECT_EQ(*evaluate_update_expr(cs.update["assign"][0]["expr"], env), x / v);
    }
  printf("udiv32: found and proven in %.2f s\n",
         std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

TEST_F(TemplateFixture, DivRoundUpIsItsOwnTemplate) {
  CriticalSpan cs = only_span("round_up32", 10);
  ASSERT_EQ(cs.op_templates.size(), 1u);
  EXPECT_EQ(cs.op_templates[0].op, "udiv_round_up");
  EXPECT_EQ(cs.proof, ProofResult::Proved) << cs.detail;
}

TEST_F(TemplateFixture, SixtyFourBitDivisionIsFoundWithinTheTimeout) {
  auto t0 = std::chrono::steady_clock::now();
  CriticalSpan cs = only_span("udiv64", 10);
  ASSERT_EQ(cs.op_templates.size(), 1u);
  EXPECT_EQ(cs.op_templates[0].op, "udiv");
  EXPECT_EQ(cs.op_templates[0].width, 64u);
  EXPECT_EQ(cs.proof, ProofResult::Proved) << cs.detail;
  printf("udiv64: found and proven in %.2f s\n",
         std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

TEST_F(TemplateFixture, AMultiplyIsTheMulTemplate) {
  CriticalSpan cs = only_span("mul32", 10);
  ASSERT_EQ(cs.op_templates.size(), 1u);
  EXPECT_EQ(cs.op_templates[0].op, "mul");
  EXPECT_EQ(cs.proof, ProofResult::Proved) << cs.detail;
}

TEST_F(TemplateFixture, AMultiplyByVSquaredMatchesNoTemplate) {
  load("square32", 10);
  std::string why;
  EXPECT_TRUE(find_template_spans(orig, tests, 10, why).empty());
  EXPECT_NE(why.find("no template computes"), std::string::npos) << why;
}

TEST_F(TemplateFixture, WrongUpdatesGetCounterexamples) {
  CriticalSpan cs = only_span("udiv32", 10);
  ASSERT_EQ(cs.proof, ProofResult::Proved) << cs.detail;
  auto wrong = [&](const char *op) {
    nlohmann::json u = cs.update;
    u["assign"][0]["expr"][2][0] = op;  // ["zext", 64, [op, 32, x, v]]
    return prove_template_update(orig, cs, u);
  };
  ASSERT_EQ(cs.update["assign"][0]["expr"][2][0], "udiv");
  EXPECT_EQ(wrong("udiv").first, ProofResult::Proved);
  for (const char *op : {"mul", "urem", "sdiv"}) {
    auto [res, detail] = wrong(op);
    EXPECT_EQ(res, ProofResult::Failed) << op;
    EXPECT_NE(detail.find("counterexample"), std::string::npos) << op << ": " << detail;
  }
}

}  // namespace
}  // namespace kx
