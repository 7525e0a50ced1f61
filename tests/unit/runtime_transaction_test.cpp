// Planning a transaction from analysed consts: runtime addresses, expected
// instruction bytes, compiled updates, and every refusal that must happen
// before the kernel is touched. The code of the analysed kernel is a fixture
// (the functions of the cached consts, cut from the Debian 6.1 debug vmlinux).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>

#include "runtime/running_kernel.h"
#include "runtime/transaction.h"
#include "fixture_image.h"

namespace kx {
namespace {

using nlohmann::json;

json load(const std::string &name) { return test::load_runtime_fixture(name); }
using FakeImage = test::FixtureImage;

const std::string kBuildId = "3b43fad5034874490492495d552c0af6a5fab235";
constexpr uint64_t kSlide = 0x21000000;

json report(const std::string &id) {
  for (auto &r : load("cached_consts.json"))
    if (r["id"] == id) return r;
  ADD_FAILURE() << "no fixture report " << id;
  return {};
}

std::vector<uint8_t> bytes(const x_sie_site &s) { return {s.bytes, s.bytes + s.len}; }

TEST(RuntimeTransaction, PlansBlkMaxRequestCount) {
  FakeImage img;
  auto t = plan_transaction({{report("BLK_MAX_REQUEST_COUNT"), 8}}, img, kBuildId, kSlide);
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->consts.size(), 1u);
  EXPECT_STREQ(t->consts[0].name, "BLK_MAX_REQUEST_COUNT");
  EXPECT_EQ(t->consts[0].value, 8u);
  ASSERT_EQ(t->spans.size(), 2u);

  // blk_start_plug_nr_ios: `mov $0x20,%edx` at +0x1d; the update runs before
  // the next instruction, `movq $0x0,(%rdi)` at +0x22.
  const x_sie_span &ins = t->spans[0];
  EXPECT_EQ(ins.kind, unsigned(X_SIE_INSERTION));
  EXPECT_EQ(ins.probe.addr, 0xffffffff81543e52ull + kSlide);
  EXPECT_EQ(bytes(ins.probe), (std::vector<uint8_t>{0x48, 0xc7, 0x07, 0x00, 0x00, 0x00, 0x00}));
  EXPECT_EQ(ins.capture.addr, 0u);
  EXPECT_STREQ(ins.label, "blk_start_plug_nr_ios+0x22");

  // blk_add_rq_to_plug: capture before `and $0xffffffe0,%eax` (+0x30), update
  // before `cmp %ax,%dx` (+0x36).
  const x_sie_span &dual = t->spans[1];
  EXPECT_EQ(dual.kind, unsigned(X_SIE_DUAL));
  EXPECT_EQ(dual.probe.addr, 0xffffffff81551fe6ull + kSlide);
  EXPECT_EQ(bytes(dual.probe), (std::vector<uint8_t>{0x66, 0x39, 0xc2}));
  EXPECT_EQ(dual.capture.addr, 0xffffffff81551fe0ull + kSlide);
  EXPECT_EQ(bytes(dual.capture), (std::vector<uint8_t>{0x83, 0xe0, 0xe0}));
  EXPECT_STREQ(dual.label, "blk_add_rq_to_plug+0x36");
  EXPECT_EQ(dual.const_index, 0u);
  EXPECT_EQ(dual.prog.capture_mask, 1u << X_SIE_RAX);
  EXPECT_TRUE(t->notes.empty());
}

// A span that reads a global (cmpl $0x3e8,0xf6(%rip) at +0): the update's
// ["linked", "0x0"] becomes the global's runtime address, slide included.
TEST(RuntimeTransaction, ResolvesTheLinkedAddressAnUpdateReads) {
  FakeImage img;
  const uint64_t start = 0xffffffff81001000ull;
  img.fns["reads_global"] = {start, {0x81, 0x3d, 0xf6, 0x00, 0x00, 0x00, 0xe8, 0x03, 0x00, 0x00,  // cmpl
                                     0x7e, 0x02, 0x31, 0xc0, 0xc3}};
  json r = report("BLK_MAX_REQUEST_COUNT");
  json span = r["critical_spans"][0];
  span["function"] = "reads_global";
  span["probe_address"] = "0xffffffff8100100a";  // the jle
  span["kind"] = "insertion";
  span.erase("capture_address");
  span["update"] = {{"captures", json::array()},
                    {"assign", {{{"dest", "zf"},
                                 {"expr", {"eq", {"load", 32, {"linked", "0x0"}}, {"extract", 31, 0, {"v"}}}}}}}};
  r["critical_spans"] = {span};
  auto t = plan_transaction({{r, 8}}, img, kBuildId, kSlide, TransitionMode::immediate);
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->spans.size(), 1u);
  const x_sie_prog &p = t->spans[0].prog;
  bool found = false;
  for (unsigned i = 0; i < p.n_nodes; ++i)
    if (p.nodes[i].op == X_SIE_OP_LOAD) {
      EXPECT_EQ(p.nodes[i].width, 32);
      const x_sie_node &addr = p.nodes[p.nodes[i].a];
      EXPECT_EQ(addr.op, unsigned(X_SIE_OP_CONST));
      EXPECT_EQ(addr.imm, start + kSlide + 10 + 0xf6);
      found = true;
    }
  EXPECT_TRUE(found);

  // An instruction without a memory operand has no linked address.
  span["update"]["assign"][0]["expr"][1][2] = {"linked", "0xa"};
  r["critical_spans"] = {span};
  auto bad = plan_transaction({{r, 8}}, img, kBuildId, kSlide, TransitionMode::immediate);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("no memory operand"), std::string::npos) << bad.error().message;
}

TEST(RuntimeTransaction, PlansAllCachedConstsAsOneTransaction) {
  FakeImage img;
  std::vector<ConstRequest> all;
  for (auto &r : load("cached_consts.json")) all.push_back({r, r["value"].get<int64_t>()});
  auto t = plan_transaction(all, img, kBuildId, kSlide);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->consts.size(), 8u);
  EXPECT_EQ(t->spans.size(), 9u);
  for (auto &s : t->spans) {
    EXPECT_GE(s.probe.len, 1);
    EXPECT_LT(s.const_index, t->consts.size());
  }
  // MAX_SOFTIRQ_TIME is compiled non-linearly: the value given is T.
  ASSERT_EQ(t->notes.size(), 1u);
  EXPECT_NE(t->notes[0].find("MAX_SOFTIRQ_TIME"), std::string::npos);
  EXPECT_NE(t->notes[0].find("is T"), std::string::npos);
}

void expect_refused(const std::vector<ConstRequest> &consts, const std::string &why,
                    const std::string &build_id = kBuildId) {
  FakeImage img;
  auto t = plan_transaction(consts, img, build_id, kSlide);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find(why), std::string::npos) << t.error().message;
}

TEST(RuntimeTransaction, RefusesValuesOutsideTheProvenRange) {
  json r = report("BLK_MAX_REQUEST_COUNT");
  // The dual span is proven for [-2^30, 2^31-1]; the insertion for more.
  expect_refused({{r, 2147483648}}, "outside [-1073741824, 2147483647]");
  expect_refused({{r, -1073741825}}, "outside");
  FakeImage img;
  EXPECT_TRUE(plan_transaction({{r, 2147483647}}, img, kBuildId, kSlide));
}

TEST(RuntimeTransaction, RefusesInOneLineNamingTheConstTheValueAndTheRange) {
  json r = report("BLK_MAX_REQUEST_COUNT");
  for (auto &s : r["critical_spans"]) s["value_range"] = {1, 65535};  // its uses are unsigned short
  FakeImage img;
  auto t = plan_transaction({{r, 65536}}, img, kBuildId, kSlide);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message,
            "BLK_MAX_REQUEST_COUNT = 65536 is outside [1, 65535], the values its updates are proven for");
  expect_refused({{r, 0}}, "BLK_MAX_REQUEST_COUNT = 0 is outside [1, 65535]");
  EXPECT_TRUE(plan_transaction({{r, 65535}}, img, kBuildId, kSlide));
}

// A span in a loadable module has a section + offset, not a vmlinux
// address: planning it would probe whatever vmlinux has at that number.
TEST(RuntimeTransaction, RefusesAConstWhoseSpansAreInAModuleInOneLine) {
  json r = report("BLK_MAX_REQUEST_COUNT");
  FakeImage img;
  ASSERT_TRUE(plan_transaction({{r, 8}}, img, kBuildId, kSlide));
  r["id"] = "bfq_back_max";
  r["critical_spans"][1]["module"] = {
      {"name", "bfq"}, {"build_id", "53d78124fffc24bc8e4a51d17dc2ecdc99fd3d45"}, {"section", ".text"}, {"offset", "0x1c0"}};
  auto t = plan_transaction({{r, 8}}, img, kBuildId, kSlide);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message, "bfq_back_max's spans are in module bfq, which the runtime cannot patch yet");
  // Said before the verdict: a module const's reason is the same gap.
  r["status"] = "untunable";
  expect_refused({{r, 8}}, "bfq_back_max's spans are in module bfq, which the runtime cannot patch yet");
}

TEST(RuntimeTransaction, RefusesSpansProvenForNoCommonValue) {
  json r = report("BLK_MAX_REQUEST_COUNT");
  ASSERT_EQ(r["critical_spans"].size(), 2u);
  r["critical_spans"][0]["value_range"] = {1, 10};
  r["critical_spans"][1]["value_range"] = {20, 30};
  expect_refused({{r, 5}}, "BLK_MAX_REQUEST_COUNT: its critical spans are proven for no common value");
}

TEST(RuntimeTransaction, RefusesAnotherKernelsReport) {
  expect_refused({{report("SHRINK_BATCH"), 64}}, "analysed for kernel build-id 3b43", "00112233");
}

TEST(RuntimeTransaction, RefusesUnprovedAndUntunable) {
  json r = report("SHRINK_BATCH");
  r["critical_spans"][0]["proof"] = "timeout";
  expect_refused({{r, 64}}, "is timeout");
  json u = report("SHRINK_BATCH");
  u["status"] = "untunable";
  u["reason"] = "changes memory layout";
  expect_refused({{u, 64}}, "not tunable: changes memory layout");
}

TEST(RuntimeTransaction, RefusesAConstTwice) {
  expect_refused({{report("SHRINK_BATCH"), 64}, {report("SHRINK_BATCH"), 32}}, "given twice");
}

TEST(RuntimeTransaction, RefusesTwoUpdatesOnOneProbe) {
  // Another const analysed to the same span (two consts in one span, as
  // cfs_bandwidth_slack_period and min_bandwidth_expiration are).
  json twin = report("SHRINK_BATCH");
  twin["id"] = "SHRINK_BATCH_TWIN";
  twin["spec"] = "mm/vmscan.c:785:1";
  expect_refused({{report("SHRINK_BATCH"), 64}, {twin, 32}}, "already does");
}

TEST(RuntimeTransaction, RefusesAProbeOutsideItsFunction) {
  json r = report("SHRINK_BATCH");
  r["critical_spans"][0]["probe_address"] = "0xffffffff81000000";
  expect_refused({{r, 64}}, "not inside do_shrink_slab");
}

TEST(RuntimeTransaction, RefusesADualSpanThatMovesTheStackPointer) {
  // blk_add_rq_to_plug+0x5 .. +0xb holds `push %r12; mov %rdi,%r12; push %rbp`.
  json r = report("BLK_MAX_REQUEST_COUNT");
  for (auto &s : r["critical_spans"])
    if (s["kind"] == "dual") {
      s["capture_address"] = "0xffffffff81551fb5";
      s["probe_address"] = "0xffffffff81551fbb";
    }
  expect_refused({{r, 8}}, "moves the stack pointer");
}

TEST(RuntimeTransaction, RefusesAKindWithoutItsCapture) {
  json r = report("BLK_MAX_REQUEST_COUNT");
  for (auto &s : r["critical_spans"]) s.erase("capture_address");
  expect_refused({{r, 8}}, "but has no capture address");
}

TEST(RuntimeTransaction, PlansTheSafeSpanMonitors) {
  FakeImage img;
  json r = report("BLK_MAX_REQUEST_COUNT");
  auto t = plan_transaction({{r, 8}}, img, kBuildId, kSlide);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->transition, unsigned(X_SIE_TRANS_GLOBAL));
  // Checked by hand (tests/kernel): blk_start_plug_nr_ios's span runs from
  // the `mov $0x20,%edx` at +0x1d to its return; blk_add_rq_to_plug's from
  // the `and` at +0x30, leaving at +0x48 or at +0xa7.
  ASSERT_EQ(t->safe_spans.size(), 2u);
  const x_sie_ss &a = t->safe_spans[0], &b = t->safe_spans[1];
  EXPECT_EQ(a.entry.addr, 0xffffffff81543e4dull + kSlide);
  EXPECT_EQ(bytes(a.entry), (std::vector<uint8_t>{0xba, 0x20, 0x00, 0x00, 0x00}));  // mov $0x20,%edx
  ASSERT_EQ(a.n_exits, 1);
  EXPECT_EQ(a.exits[0].addr, 0xffffffff81543e89ull + kSlide);
  // The exit is `jmp __x86_return_thunk`, which the kernel makes `ret; int3 x4`
  // at boot without the retbleed mitigations: both encodings are expected.
  EXPECT_EQ(bytes(a.exits[0]), (std::vector<uint8_t>{0xe9, 0x62, 0xe0, 0x8b, 0x00}));
  EXPECT_EQ(std::vector<uint8_t>(a.exits[0].alt, a.exits[0].alt + a.exits[0].alt_len),
            (std::vector<uint8_t>{0xc3, 0xcc, 0xcc, 0xcc, 0xcc}));
  EXPECT_EQ(a.entry.alt_len, 0);
  EXPECT_EQ(a.ranges[0][0], 0xffffffff81543e4dull + kSlide);
  EXPECT_EQ(a.ranges[0][1], 0xffffffff81543e8eull + kSlide);
  EXPECT_EQ(b.entry.addr, 0xffffffff81551fe0ull + kSlide);
  ASSERT_EQ(b.n_exits, 2);
  EXPECT_EQ(b.exits[0].addr, 0xffffffff81551ff8ull + kSlide);
  EXPECT_EQ(b.exits[1].addr, 0xffffffff81552057ull + kSlide);
  EXPECT_EQ(b.n_ranges, 2);
  for (auto &x : t->safe_spans) EXPECT_EQ(x.const_index, 0u);

  auto imm = plan_transaction({{r, 8}}, img, kBuildId, kSlide, TransitionMode::immediate);
  ASSERT_TRUE(imm) << imm.error().message;
  EXPECT_EQ(imm->transition, unsigned(X_SIE_TRANS_IMMEDIATE));
  EXPECT_TRUE(imm->safe_spans.empty());
  auto pt = plan_transaction({{r, 8}}, img, kBuildId, kSlide, TransitionMode::per_thread);
  ASSERT_TRUE(pt);
  EXPECT_EQ(pt->transition, unsigned(X_SIE_TRANS_PER_THREAD));
}

TEST(RuntimeTransaction, RefusesSafeSpansTheMonitorsCannotCover) {
  json none = report("SHRINK_BATCH");
  none["safe_spans"] = json::array();
  expect_refused({{none, 64}}, "has no safe span: only --transition immediate");
  FakeImage img;
  EXPECT_TRUE(plan_transaction({{none, 64}}, img, kBuildId, kSlide, TransitionMode::immediate));

  json exitless = report("SHRINK_BATCH");
  exitless["safe_spans"][0]["exits"] = json::array();
  expect_refused({{exitless, 64}}, "has no exit");

  json unprobeable = report("SHRINK_BATCH");
  unprobeable["safe_spans"][0]["probes"][0]["probeable"] = false;
  expect_refused({{unprobeable, 64}}, "cannot be probed");

  json outside = report("SHRINK_BATCH");
  outside["safe_spans"][0]["exits"][0] = "0xffffffff81000000";
  expect_refused({{outside, 64}}, "not inside do_shrink_slab");
}

TEST(RuntimeTransaction, AnExitIntoAnotherSpansEntryIsDropped) {
  // Two consts whose spans chain: HYSTART_DELAY_MIN's exit made the entry of
  // HYSTART_DELAY_MAX's span. The task goes on inside; the entry's mark stands.
  FakeImage img;
  json min = report("HYSTART_DELAY_MIN"), max = report("HYSTART_DELAY_MAX");
  ASSERT_GE(min["safe_spans"][0]["exits"].size(), 2u);
  min["safe_spans"][0]["exits"][0] = max["safe_spans"][0]["entry"];
  auto t = plan_transaction({{min, 4000}, {max, 16000}}, img, kBuildId, kSlide);
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->safe_spans.size(), 2u);
  const x_sie_ss &a = t->safe_spans[0];
  EXPECT_EQ(a.n_exits, min["safe_spans"][0]["exits"].size() - 1);
  for (uint16_t i = 0; i < a.n_exits; ++i) EXPECT_NE(a.exits[i].addr, t->safe_spans[1].entry.addr);
  for (uint16_t i = a.n_exits; i < X_SIE_MAX_SS_EXITS; ++i) EXPECT_EQ(a.exits[i].addr, 0u);
}

TEST(RuntimeTransaction, TheDryRunPlanNamesEverythingTheModuleWouldGet) {
  FakeImage img;
  auto t = plan_transaction({{report("BLK_MAX_REQUEST_COUNT"), 8}}, img, kBuildId, kSlide, TransitionMode::per_thread);
  ASSERT_TRUE(t) << t.error().message;
  json p = plan_json(*t, kSlide);
  EXPECT_EQ(p["build_id"], kBuildId);
  EXPECT_EQ(p["transition"], "per-thread");
  ASSERT_EQ(p["consts"].size(), 1u);
  const json &c = p["consts"][0];
  EXPECT_EQ(c["name"], "BLK_MAX_REQUEST_COUNT");
  EXPECT_EQ(c["value"], 8);
  EXPECT_EQ(c["compiled_value"], 32);
  EXPECT_EQ(c["proven_range"][0].get<int64_t>(), t->consts[0].min);
  EXPECT_EQ(c["proven_range"][1].get<int64_t>(), t->consts[0].max);
  ASSERT_EQ(c["critical_spans"].size(), 2u);
  EXPECT_EQ(c["critical_spans"][0]["label"], "blk_start_plug_nr_ios+0x22");
  EXPECT_EQ(c["critical_spans"][0]["kind"], "insertion");
  EXPECT_EQ(c["critical_spans"][0]["probe_bytes"], "48 c7 07 00 00 00 00");
  EXPECT_FALSE(c["critical_spans"][0].contains("capture_address"));
  EXPECT_EQ(c["critical_spans"][1]["kind"], "dual");
  EXPECT_EQ(c["critical_spans"][1]["capture_address"], "0xffffffffa2551fe0");  // link address + slide
  ASSERT_EQ(c["safe_spans"].size(), t->safe_spans.size());
  EXPECT_FALSE(c["safe_spans"][0]["exits"].empty());
  // Every kprobe the module would register has its predicted kind.
  for (auto &sp : c["critical_spans"]) EXPECT_TRUE(sp["probe_predicted"].contains("kind")) << sp.dump();
  EXPECT_TRUE(c["critical_spans"][1]["capture_predicted"].contains("kind"));
  for (auto &ss : c["safe_spans"]) {
    EXPECT_TRUE(ss["entry_predicted"].contains("kind")) << ss.dump();
    ASSERT_EQ(ss["exits_predicted"].size(), ss["exits"].size());
    for (auto &e : ss["exits_predicted"]) EXPECT_TRUE(e.contains("kind")) << ss.dump();
  }
  // movq $0,(%rdi) is copied out of line; the dual probe's 5 bytes end in
  // the jae that reads the compare.
  EXPECT_EQ(c["critical_spans"][0]["probe_predicted"], json({{"kind", "jump-optimized"}}));
  EXPECT_EQ(c["critical_spans"][1]["probe_predicted"],
            json({{"kind", "int3"}, {"rule", "opcode-not-boostable"}, {"detail", "opcode 73 at 0xffffffffa2551fe9"}}));
  EXPECT_EQ(c["critical_spans"][1]["capture_predicted"], json({{"kind", "jump-optimized"}}));

  auto now = plan_transaction({{report("BLK_MAX_REQUEST_COUNT"), 8}}, img, kBuildId, kSlide, TransitionMode::immediate);
  ASSERT_TRUE(now) << now.error().message;
  EXPECT_TRUE(plan_json(*now, kSlide)["consts"][0]["safe_spans"].empty());
}

TEST(RuntimeTransaction, APolicyTakesTheValueFromItsProgram) {
  FakeImage img;
  json r = report("SHRINK_BATCH");
  ConstRequest c{r, 0, 7, 9};  // fds of a loaded program and its slot map
  auto t = plan_transaction({c}, img, kBuildId, kSlide);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->consts[0].policy_fd, 7);
  EXPECT_EQ(t->consts[0].slot_fd, 9);
  EXPECT_EQ(t->consts[0].dflt, 128u);  // what x_default() reads
  EXPECT_LE(t->consts[0].min, 1);
  EXPECT_GE(t->consts[0].max, 1 << 20);
  ConstRequest no_slot{r, 0, 7, -1};
  expect_refused({no_slot}, "without its slot map");
}

TEST(RuntimeTransaction, APolicyNeedsTheCompiledValue) {
  FakeImage img;
  json r = report("SHRINK_BATCH");
  r["value"] = nullptr;  // a whole definition no use inverted
  expect_refused({ConstRequest{r, 0, 7, 9}}, "compiled value is unknown");
  auto t = plan_transaction({{r, 64}}, img, kBuildId, kSlide);  // an explicit value needs none
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->consts[0].value, 64u);
}

TEST(RunningKernel, BuildIdFromTheNotes) {
  auto note = [](uint32_t type, const std::string &name, const std::string &desc) {
    std::string out(12, '\0');
    uint32_t h[3] = {uint32_t(name.size()), uint32_t(desc.size()), type};
    memcpy(out.data(), h, 12);
    auto pad = [](std::string s) { return s + std::string((4 - s.size() % 4) % 4, '\0'); };
    return out + pad(name) + pad(desc);
  };
  // Other notes (Xen, Linux) come first in a real kernel.
  std::string notes = note(1, std::string("Xen\0", 4), "abc") + note(3, std::string("GNU\0", 4), "\x3b\x43\xfa\xd5");
  auto id = build_id_from_notes(notes);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, "3b43fad5");
  EXPECT_FALSE(build_id_from_notes(note(1, std::string("Xen\0", 4), "abc")));
  EXPECT_FALSE(build_id_from_notes("\x01\x02"));
}

TEST(RunningKernel, KallsymsAddress) {
  std::string ks = "0000000000000000 A fixed_percpu_data\nffffffffa1000000 T _text\nffffffffa1000000 T startup_64\n"
                   "ffffffffa1543e30 T blk_start_plug_nr_ios\nffffffffc0000000 t foo\t[mod]\n";
  EXPECT_EQ(*kallsyms_address(ks, "_text"), 0xffffffffa1000000ull);
  EXPECT_EQ(*kallsyms_address(ks, "foo"), 0xffffffffc0000000ull);
  EXPECT_FALSE(kallsyms_address(ks, "_tex"));
  auto hidden = kallsyms_address("0000000000000000 T _text\n", "_text");
  ASSERT_FALSE(hidden);
  EXPECT_NE(hidden.error().message.find("hides addresses"), std::string::npos);
}

}  // namespace
}  // namespace kx

namespace kx {
namespace {

// X86_FEATURE_RETHUNK is hidden from /proc/cpuinfo: the mitigations that set
// it say so in sysfs.
TEST(RunningKernel, ReturnThunksAreInUseWhereAMitigationSaysSo) {
  auto with = [](std::map<std::string, std::string> files) {
    return return_thunks_in_use([&](const std::string &n) { return files.count(n) ? files[n] : std::string(); });
  };
  EXPECT_TRUE(with({{"retbleed", "Mitigation: untrained return thunk; SMT disabled\n"}}));
  EXPECT_TRUE(with({{"spec_rstack_overflow", "Mitigation: Safe RET\n"}}));
  EXPECT_TRUE(with({{"indirect_target_selection", "Mitigation: Aligned branch/return thunks\n"}}));
  EXPECT_FALSE(with({{"retbleed", "Mitigation: Enhanced IBRS\n"}, {"spec_rstack_overflow", "Not affected\n"}}));
  EXPECT_FALSE(with({{"retbleed", "Mitigation: IBPB\n"}}));
  EXPECT_FALSE(with({}));
}

}  // namespace
}  // namespace kx
