// kx build on real perf-consts of the prepared default kernel (design.md §3
// lists the seeds these must find). Nothing here hard-codes an address: each
// use is checked against the debug vmlinux itself, by decoding the bytes at
// the reported address.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "analysis/const_build.h"
#include "binary/cu_index.h"
#include "binary/disasm.h"
#include "binary/elf_file.h"
#include "binary/function_compare.h"
#include "kernel/affected_objects.h"
#include "kernel/object_selection.h"
#include "kernel/rebuild.h"
#include "util/files.h"
#include "util/process.h"

namespace kx {
namespace {

class KernelConsts : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto p = resolve_profile(default_profile_name());
    ASSERT_TRUE(p) << p.error().message;
    auto k = load_prepared(*p);
    ASSERT_TRUE(k) << k.error().message;  // scripts/test.sh prepares it first
    kernel_ = new PreparedKernel(*k);
    auto v = ElfFile::open(k->profile.debug_vmlinux);
    ASSERT_TRUE(v);
    vmlinux_ = new ElfFile(std::move(*v));
  }
  static void TearDownTestSuite() {
    delete kernel_;
    delete vmlinux_;
  }

  ConstReport build(const std::string &spec) {
    auto r = build_const(*kernel_, spec);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : ConstReport{};
  }

  // The instruction the debug vmlinux holds at `address`, and the function
  // symbol containing it.
  std::pair<std::string, std::string> at(uint64_t address) {
    for (auto *f : vmlinux_->functions()) {
      if (address < f->value || address >= f->value + f->size) continue;
      // To the function's end: a fixed window could cut an instruction.
      auto bytes = vmlinux_->bytes(f->section, address, f->value + f->size - address);
      if (!bytes) return {"", f->name};
      auto insns = disassemble(*bytes, {});
      return {insns && !insns->empty() ? (*insns)[0].text : "", f->name};
    }
    return {"", ""};
  }

  // Every critical span proven, with the kind expected; returns kind -> function.
  std::multimap<std::string, std::string> spans(const ConstReport &r) {
    std::multimap<std::string, std::string> out;
    for (auto &cs : r.spans) {
      EXPECT_EQ(cs.proof, ProofResult::Proved) << cs.function << ": " << cs.detail;
      out.emplace(synth_kind_name(cs.kind), cs.function);
    }
    return out;
  }

  // Checks every use against the vmlinux; returns relation -> function.
  std::multimap<std::string, std::string> uses(const ConstReport &r) {
    std::multimap<std::string, std::string> out;
    for (auto &u : r.uses) {
      auto [insn, fn] = at(u.address);
      EXPECT_EQ(insn, u.seed.insn) << "at the reported address of " << u.seed.function;
      EXPECT_EQ(fn, u.seed.function);
      EXPECT_FALSE(u.source.frames.empty());
      out.emplace(u.seed.relation.describe(), u.seed.function);
    }
    return out;
  }

  // Prints each span's proven range and what bounds it (for the record).
  static void print_ranges(const ConstReport &r) {
    for (auto &cs : r.spans) {
      printf("%s %s+0x%llx: [%lld, %lld]\n", r.id.c_str(), cs.function.c_str(), (unsigned long long)cs.start,
             (long long)cs.v_min, (long long)cs.v_max);
      for (auto &why : cs.range_basis) printf("    %s\n", why.c_str());
    }
  }

  // Every span's range lies within [lo, hi], holds V0, and was confirmed by
  // cross builds at both ends (synth/value_range.h).
  void expect_ranges_within(const ConstReport &r, int64_t lo, int64_t hi) {
    print_ranges(r);
    ASSERT_FALSE(r.spans.empty());
    for (auto &cs : r.spans) {
      EXPECT_LE(lo, cs.v_min) << cs.function;
      EXPECT_LE(cs.v_max, hi) << cs.function;
      EXPECT_LE(cs.v_min, cs.v_max) << cs.function;
      if (r.site.value) {
        EXPECT_LE(cs.v_min, static_cast<int64_t>(*r.site.value)) << cs.function;
        EXPECT_LE(static_cast<int64_t>(*r.site.value), cs.v_max) << cs.function;
      }
      ASSERT_FALSE(cs.range_basis.empty()) << cs.function;
      EXPECT_NE(cs.range_basis.back().find("cross builds at"), std::string::npos) << cs.range_basis.back();
    }
  }

  uint64_t symbol(const std::string &name) { return vmlinux_->find_symbols(name).at(0)->value; }
  const SafeSpan &safe_span(const ConstReport &r, const std::string &fn) {
    for (auto &ss : r.safe_spans)
      if (ss.function == fn) return ss;
    ADD_FAILURE() << "no safe span in " << fn;
    static SafeSpan none;
    return none;
  }

  static PreparedKernel *kernel_;
  static ElfFile *vmlinux_;
};
PreparedKernel *KernelConsts::kernel_ = nullptr;
ElfFile *KernelConsts::vmlinux_ = nullptr;

// include/linux/mmzone.h `#define DEF_PRIORITY 12`: some 1,500 vmlinux
// units include mmzone.h, whose comment above the define names it; only
// mm/vmscan.c's code uses it (mm/vmpressure.c names it in comments only;
// xfs and ice, the other users, are modules).
TEST_F(KernelConsts, DefPriorityObjectsAreTheUnitsWhoseCodeUsesIt) {
  auto cus = read_compile_units(kernel_->profile.debug_vmlinux, kernel_->tree);
  ASSERT_TRUE(cus) << cus.error().message;
  size_t including = 0;
  for (auto &cu : *cus) including += std::count(cu.files.begin(), cu.files.end(), "include/linux/mmzone.h");
  EXPECT_GT(including, 1000u);
  auto a = find_affected_objects(kernel_->tree, *cus, "include/linux/mmzone.h", "DEF_PRIORITY");
  EXPECT_EQ(a.objects, (std::vector<std::string>{"mm/vmscan.o"}));
}

// The object selection (kernel/object_selection.h) on a real header: of the
// mm/ units including mmzone.h, only mm/vmscan.o expands DEF_PRIORITY into
// code — the same answer the comment-aware mention scan gives above, reached
// by preprocessing. kx build itself needs no selection pass here (one
// vmlinux object and one module object mention it) and rebuilds those two:
// XFS's XFS_INODEGC_SHRINKER_COUNT is 1UL << DEF_PRIORITY.
TEST_F(KernelConsts, DefPrioritySelectionKeepsOnlyVmscan) {
  auto site = resolve_const(kernel_->tree, "include/linux/mmzone.h:1029:0");
  ASSERT_TRUE(site) << site.error().message;
  ASSERT_EQ(site->name, "DEF_PRIORITY");
  auto cus = read_compile_units(kernel_->profile.debug_vmlinux, kernel_->tree);
  ASSERT_TRUE(cus) << cus.error().message;
  std::vector<std::string> mm;
  for (auto &cu : *cus)
    if (cu.object.rfind("mm/", 0) == 0 && cu.object.ends_with(".o") &&
        std::count(cu.files.begin(), cu.files.end(), "include/linux/mmzone.h"))
      mm.push_back(cu.object);
  std::sort(mm.begin(), mm.end());
  ASSERT_GT(mm.size(), kSelectAbove);
  ASSERT_TRUE(std::count(mm.begin(), mm.end(), "mm/vmscan.o"));
  auto sel = select_expanding_objects(*kernel_, {site->file, site->offset, site->length, ""}, mm);
  ASSERT_TRUE(sel) << sel.error().message;
  EXPECT_EQ(sel->kept, (std::vector<std::string>{"mm/vmscan.o"})) << sel->why["mm/vmscan.o"];
  EXPECT_EQ(sel->dropped.size(), mm.size() - 1);

  BuildOptions seeds;
  seeds.seeds_only = true;
  auto r = build_const(*kernel_, "include/linux/mmzone.h:1029:0", seeds);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->objects, (std::vector<std::string>{"fs/xfs/xfs_icache.o", "mm/vmscan.o"}));
  EXPECT_NE(r->status, ConstStatus::Error) << r->reason;
  EXPECT_FALSE(r->uses.empty());
}

// include/net/tcp.h:144 `#define TCP_RTO_MIN ((unsigned)(HZ/5))`: tcp.h's
// inline helpers (tcp_probe0_base, tcp_mib_init) mention it, so all 85
// vmlinux units including tcp.h can see it and --max-objects 48 refused it.
// Only units whose emitted code can expand it are rebuilt now: those the
// corpus found code for (../shared/corpus, tcp_rto_min) among them.
TEST_F(KernelConsts, TcpRtoMinRebuildsOnlyTheUnitsThatExpandIt) {
  BuildOptions seeds;
  seeds.seeds_only = true;
  auto r = build_const(*kernel_, "include/net/tcp.h:144:0", seeds);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NE(r->status, ConstStatus::Error) << r->reason;
  EXPECT_GT(r->objects_seeing, BuildOptions{}.max_objects);
  EXPECT_LE(r->objects.size(), 12u);
  for (auto *o : {"net/core/filter.o", "net/ipv4/af_inet.o", "net/ipv4/tcp.o", "net/ipv4/tcp_input.o",
                  "net/ipv4/tcp_output.o", "net/ipv4/tcp_timer.o"})
    EXPECT_TRUE(std::count(r->objects.begin(), r->objects.end(), o)) << o;
  EXPECT_FALSE(r->uses.empty());
  EXPECT_EQ(to_json(*r)["objects_seeing"], r->objects_seeing);
}

// Soundness, checked the expensive way on a sample: units the selection
// drops compile to the same code (and relocations) with the constant
// changed.
TEST_F(KernelConsts, UnitsTheSelectionDropsCompileTheSameAtAnotherValue) {
  auto site = resolve_const(kernel_->tree, "include/net/tcp.h:144:0");
  ASSERT_TRUE(site) << site.error().message;
  auto cus = read_compile_units(kernel_->profile.debug_vmlinux, kernel_->tree);
  ASSERT_TRUE(cus) << cus.error().message;
  auto seeing = find_affected_objects(kernel_->tree, *cus, site->file, site->name).objects;
  auto sel = select_expanding_objects(*kernel_, {site->file, site->offset, site->length, ""}, seeing);
  ASSERT_TRUE(sel) << sel.error().message;
  ASSERT_GE(sel->dropped.size(), 3u);
  // First, middle and last: different directories, different headers.
  std::vector<std::string> sample = {sel->dropped.front(), sel->dropped[sel->dropped.size() / 2],
                                     sel->dropped.back()};
  auto dir = make_temp_dir(std::filesystem::temp_directory_path(), "kx-dropped-");
  ASSERT_TRUE(dir);
  ASSERT_TRUE(build_variant(*kernel_, {{site->file, site->offset, site->length, "7"}}, sample, *dir));
  auto orig = original_objects(*kernel_, sample);
  ASSERT_TRUE(orig) << orig.error().message;
  auto code = [](const std::filesystem::path &o) {
    auto d = run_checked({"objdump", "-d", "-r", o.string()});
    if (!d) return d.error().message;
    return d->substr(std::min(d->size(), d->find("Disassembly")));  // past the line naming the file
  };
  for (auto &o : sample) {
    std::string a = code(*orig / o), b = code(*dir / o);
    EXPECT_GT(a.size(), 100u) << o;
    EXPECT_TRUE(a == b) << o << " (" << sel->why[o] << ") compiles differently at HZ/7";
  }
  std::error_code ec;
  std::filesystem::remove_all(*dir, ec);
}

// mm/vmscan.c:785 `#define SHRINK_BATCH 128`: do_shrink_slab's
// `batch_size = shrinker->batch ? : SHRINK_BATCH` is one `mov $0x80,%eax`.
TEST_F(KernelConsts, ShrinkBatch) {
  auto r = build("mm/vmscan.c:785:0");
  EXPECT_EQ(r.status, ConstStatus::Tunable) << r.reason;
  EXPECT_EQ(r.objects, (std::vector<std::string>{"mm/vmscan.o"}));
  EXPECT_EQ(uses(r), (std::multimap<std::string, std::string>{{"T = V", "do_shrink_slab"}}));
  ASSERT_EQ(r.uses.size(), 1u);
  EXPECT_EQ(r.uses[0].seed.original_t, 128);
  EXPECT_EQ(spans(r), (std::multimap<std::string, std::string>{{"insertion", "do_shrink_slab"}}));
  // batch_size is a long; the literal 128 an int.
  expect_ranges_within(r, 0, 2147483647);
  // Safe span, checked by hand: batch_size lives through the whole scan loop
  // (`while (total_scan >= batch_size ...)`); it escapes where it is stored
  // into *shrinkctl (nr_to_scan, nr_scanned): those objects keep it.
  const SafeSpan &ss = safe_span(r, "do_shrink_slab");
  EXPECT_EQ(ss.entry, symbol("do_shrink_slab") + 0x7);
  EXPECT_GT(ss.size_insns, 50u);
  EXPECT_EQ(ss.escapes.size(), 2u);
  EXPECT_FALSE(ss.conservative);
}

// mm/migrate.c `#define NR_MAX_BATCHED_MIGRATION HPAGE_PMD_NR`: the source
// has no number; the shipped `cmp $0x200` with T = V gives it back (512),
// which a policy's x_default() needs.
TEST_F(KernelConsts, WholeDefinitionGetsItsCompiledValueFromTheBinary) {
  auto r = build("mm/migrate.c:1486:-1");  // the name alone is ambiguous (#ifdef)
  EXPECT_EQ(r.status, ConstStatus::Tunable) << r.reason;
  EXPECT_EQ(uses(r), (std::multimap<std::string, std::string>{{"T = V", "migrate_pages"}}));
  ASSERT_TRUE(r.site.value);
  EXPECT_EQ(*r.site.value, 512u);
  EXPECT_EQ(to_json(r)["value"], 512);
}

// block/blk.h `BLK_MAX_REQUEST_COUNT 32`: blk_start_plug_nr_ios keeps V;
// blk_add_rq_to_plug inlines blk_plug_max_rq_count's `multiple_queues ? 2V
// : V` branch-free as `and $-V; add $2V`. V=64 and 128 encode the add
// differently (sub $-0x80, 16-bit add): the fit must survive that ripple.
TEST_F(KernelConsts, BlkMaxRequestCount) {
  auto r = build("BLK_MAX_REQUEST_COUNT");
  EXPECT_EQ(r.status, ConstStatus::Tunable) << r.reason;
  EXPECT_EQ(r.objects, (std::vector<std::string>{"block/blk-core.o", "block/blk-mq.o"}));
  EXPECT_EQ(uses(r), (std::multimap<std::string, std::string>{{"T = -V", "blk_add_rq_to_plug"},
                                                              {"T = 2·V", "blk_add_rq_to_plug"},
                                                              {"T = V", "blk_start_plug_nr_ios"}}));
  for (auto &u : r.uses) {
    if (u.seed.function == "blk_add_rq_to_plug") {
      EXPECT_EQ(u.source.frames.front().function, "blk_plug_max_rq_count");  // the inline chain
    }
  }
  // The and/add pair is one span; the mask destroys eax, so it is captured
  // at the and and the pair recomputed before the cmp (dual location).
  EXPECT_EQ(spans(r), (std::multimap<std::string, std::string>{{"dual", "blk_add_rq_to_plug"},
                                                               {"insertion", "blk_start_plug_nr_ios"}}));
  // Its uses are unsigned short (plug->rq_count, max_rq_count): a value the
  // width of the and/add would take is no longer the source's meaning.
  expect_ranges_within(r, 0, 65535);
  // Safe spans, checked by hand on the disassembly: in blk_add_rq_to_plug the
  // limit lives in eax for `cmp %ax,%dx; jae`; on the fall-through path
  // `mov 0x0(%rbp),%rax` kills it and `test $0x8,%al` the flags (exit at
  // +0x48); on the flush path it dies at the call (exit after it, +0xa7).
  uint64_t f = symbol("blk_add_rq_to_plug");
  const SafeSpan &plug = safe_span(r, "blk_add_rq_to_plug");
  EXPECT_EQ(plug.entry, f + 0x30);
  EXPECT_EQ(std::set<uint64_t>(plug.exits.begin(), plug.exits.end()), (std::set<uint64_t>{f + 0x48, f + 0xa7}));
  EXPECT_EQ(plug.size_insns, 10u);
  // blk_start_plug_nr_ios: min(nr_ios, V) is stored in plug->max_rq_count: escapes.
  EXPECT_EQ(safe_span(r, "blk_start_plug_nr_ios").escapes.size(), 1u);
}

// block/blk.h:263 `BLK_PLUG_FLUSH_SIZE (128 * 1024)`: blk_add_rq_to_plug's
// `blk_rq_bytes(last) >= BLK_PLUG_FLUSH_SIZE` is `cmpl $0x1ffff,0x2c(%r12)`,
// a span that reads the request's length from memory: its update reads the
// same 4 bytes again at the probe (issue 14).
TEST_F(KernelConsts, BlkPlugFlushSizeReadsTheRequestLength) {
  auto r = build("block/blk.h:263:0");
  EXPECT_EQ(r.status, ConstStatus::Tunable) << r.reason;
  auto u = uses(r);
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u.begin()->second, "blk_add_rq_to_plug");
  EXPECT_EQ(spans(r), (std::multimap<std::string, std::string>{{"insertion", "blk_add_rq_to_plug"}}));
  ASSERT_EQ(r.spans.size(), 1u);
  std::string update = r.spans[0].update.dump();
  EXPECT_NE(update.find(R"(["load",32,)"), std::string::npos) << update;
  EXPECT_NE(update.find(R"(["reg","r12"])"), std::string::npos) << update;
  EXPECT_NE(update.find(R"(["const",64,"0x2c"])"), std::string::npos) << update;
}

// kernel/softirq.c:518 `MAX_SOFTIRQ_RESTART 10`: `mov $0xa,%r14d` in
// handle_softirqs; 10 compiles differently from the test values (register
// allocation), so the seed is found between test builds and aligned back.
TEST_F(KernelConsts, MaxSoftirqRestart) {
  auto r = build("kernel/softirq.c:518:0");
  EXPECT_EQ(r.status, ConstStatus::Tunable) << r.reason;
  EXPECT_EQ(uses(r), (std::multimap<std::string, std::string>{{"T = V", "handle_softirqs"}}));
  ASSERT_EQ(r.uses.size(), 1u);
  EXPECT_EQ(r.uses[0].seed.original_t, 10);
  EXPECT_EQ(spans(r), (std::multimap<std::string, std::string>{{"insertion", "handle_softirqs"}}));
  // The restart counter (r14) lives around the whole restart loop.
  const SafeSpan &ss = safe_span(r, "handle_softirqs");
  EXPECT_EQ(ss.entry, symbol("handle_softirqs") + 0x4c);
  EXPECT_GT(ss.size_insns, 40u);
  EXPECT_TRUE(ss.escapes.empty());
}

// kernel/softirq.c:517 `MAX_SOFTIRQ_TIME msecs_to_jiffies(2)`: at HZ=250 the
// binary holds ceil(V/4) (`lea 0x1(%rax)`): reported non-linear, not guessed.
TEST_F(KernelConsts, MaxSoftirqTimeIsNonLinear) {
  auto r = build("kernel/softirq.c:517:0");
  ASSERT_EQ(r.uses.size(), 1u);
  EXPECT_FALSE(r.uses[0].seed.relation.linear);
  EXPECT_EQ(r.uses[0].seed.original_t, 1);
  uses(r);
}

// net/ipv4/tcp_cubic.c HyStart: MIN_SAMPLES 8 is `cmp $0x7,%al` (T = V-1);
// DELAY_MIN 4000 is a `mov $0xfa0`, and values above DELAY_MAX do not compile
// (clamp bounds cross), so smaller test values must be tried.
TEST_F(KernelConsts, HystartMinSamplesAndDelayMin) {
  auto s = build("HYSTART_MIN_SAMPLES");
  EXPECT_EQ(s.status, ConstStatus::Tunable) << s.reason;
  EXPECT_EQ(uses(s), (std::multimap<std::string, std::string>{{"T = V - 1", "cubictcp_acked"}}));
  EXPECT_EQ(s.uses.at(0).source.frames.front().function, "hystart_update");
  auto d = build("net/ipv4/tcp_cubic.c:45:0");
  EXPECT_EQ(d.status, ConstStatus::Tunable) << d.reason;
  EXPECT_EQ(uses(d), (std::multimap<std::string, std::string>{{"T = V", "cubictcp_acked"}}));
  EXPECT_EQ(d.uses.at(0).seed.original_t, 4000);
  EXPECT_EQ(spans(s), (std::multimap<std::string, std::string>{{"insertion", "cubictcp_acked"}}));
  // jbe reads T = V - 1 unsigned: V' = 0 would be `x <= 255`, always true,
  // where the source's `x < 0` is always false.
  expect_ranges_within(s, 1, 255);
  EXPECT_EQ(spans(d), (std::multimap<std::string, std::string>{{"insertion", "cubictcp_acked"}}));
  // The third HyStart knob, `delay_min >> 3`: a shift clobbers eax (and may
  // keep the flags), so its update captures them first.
  auto shift = build("net/ipv4/tcp_cubic.c:439:0");
  EXPECT_EQ(shift.status, ConstStatus::Tunable) << shift.reason;
  EXPECT_EQ(spans(shift), (std::multimap<std::string, std::string>{{"dual", "cubictcp_acked"}}));
  auto max = build("HYSTART_DELAY_MAX");
  EXPECT_EQ(max.status, ConstStatus::Tunable) << max.reason;
  // clamp(delay_min >> 3, MIN, MAX) does not compile with MIN > MAX.
  expect_ranges_within(d, 0, 16000);
  expect_ranges_within(max, 4000, 4294967295ll);
  print_ranges(shift);
  EXPECT_EQ(spans(max), (std::multimap<std::string, std::string>{{"insertion", "cubictcp_acked"}}));
}

// kernel/sched/topology.c:1567 `.busy_factor = 16`: sd_init's struct
// initializer packs it with imbalance_pct = 117 in one `mov
// $0x7500000010,%rax`. A V' of 2^32 would rewrite imbalance_pct: the range
// stays in busy_factor's 32 bits (and the literal's int).
TEST_F(KernelConsts, TopoSdBusyFactorStaysInItsField) {
  auto r = build("kernel/sched/topology.c:1567:0");
  EXPECT_EQ(r.status, ConstStatus::Tunable) << r.reason;
  spans(r);
  expect_ranges_within(r, 0, 0xffffffffll);
}

// kernel/workqueue.c:93 `MAX_IDLE_WORKERS_RATIO = 4` in `(nr_idle - 2) *
// MAX_IDLE_WORKERS_RATIO >= nr_busy`: the shipped code folds it into `lea
// -0x8(,%rax,4)`; powers of two compile to other lea and shl forms, so no
// seed maps. Plain test values compile to imul and sub (T = V, T = 2V), and
// the spans are matched by their expression, with a range in V.
TEST_F(KernelConsts, MultiplierFoldedIntoLeaIsTunableInV) {
  auto r = build("kernel/workqueue.c:93:0");
  EXPECT_EQ(r.status, ConstStatus::Tunable) << r.reason;
  EXPECT_EQ(r.test_family, TestFamily::Plain);
  EXPECT_FALSE(r.families_tried.empty());
  ASSERT_FALSE(r.spans.empty());
  for (auto &cs : r.spans) {
    EXPECT_FALSE(cs.tunes_t) << cs.function;
    EXPECT_LE(cs.v_min, 4) << cs.function;
    EXPECT_GE(cs.v_max, 1000) << cs.function;  // confirmed by cross builds, not only V0
    EXPECT_EQ(at(r.function_address.at("kernel/workqueue.o:" + cs.function) + cs.start).first.rfind("lea", 0), 0u)
        << cs.function;
  }
}

// include/linux/swap_slots.h:11 `THRESHOLD_DEACTIVATE_SWAP_SLOTS_CACHE
// (2*SWAP_SLOTS_CACHE_SIZE)`: x * 2 * 64 is a `shl $7` at V = 2, so its own
// kind of test values give T = log2(V) + 6, a value set in T; plain values
// compile to an imul, and the const is kept tunable in V.
TEST_F(KernelConsts, MultiplyCompiledAsAShiftIsTunableInV) {
  auto r = build("include/linux/swap_slots.h:11:0");
  EXPECT_EQ(r.status, ConstStatus::Tunable) << r.reason;
  EXPECT_EQ(r.test_family, TestFamily::Plain);
  ASSERT_FALSE(r.spans.empty());
  for (auto &cs : r.spans) {
    EXPECT_FALSE(cs.tunes_t) << cs.function;
    EXPECT_LE(cs.v_min, 2) << cs.function;
    EXPECT_GT(cs.v_max, 1000) << cs.function;
  }
}

// mm/compaction.c:147 `COMPACT_MAX_DEFER_SHIFT 6`, a shift count: plain
// values (37, 53 …) are past the width and fold; values near 6 keep it.
TEST_F(KernelConsts, ShiftCountIsTestedNearItsValue) {
  auto r = build("mm/compaction.c:147:0");
  EXPECT_EQ(r.status, ConstStatus::Tunable) << r.reason;
  EXPECT_EQ(r.test_family, TestFamily::Near);
  for (int64_t v : r.test_values) EXPECT_LT(std::abs(v - 6), 4) << v;
}

// include/net/tcp.h:144 `TCP_RTO_MIN`: one of its spans stores and reads
// memory again, which the update language cannot do, so the const is
// untunable whatever the ranges; its proven spans are not confirmed by cross
// builds (each would rebuild 7 objects per value tried).
TEST_F(KernelConsts, AnUntunableConstGetsNoCrossBuilds) {
  auto r = build("include/net/tcp.h:144:0");
  ASSERT_EQ(r.status, ConstStatus::Untunable) << "expected a span the update language cannot express";
  size_t proved = 0;
  for (auto &cs : r.spans) {
    if (cs.proof != ProofResult::Proved) continue;
    ++proved;
    EXPECT_NE(std::find_if(cs.range_basis.begin(), cs.range_basis.end(),
                           [](auto &b) { return b.find("not confirmed by cross builds") != std::string::npos; }),
              cs.range_basis.end())
        << cs.function;
  }
  EXPECT_GT(proved, 0u);
}

// A const of a loadable module (issue 16): bfq_back_max is only in bfq.ko
// (CONFIG_IOSCHED_BFQ=m). Its seeds are placed in the module as section +
// offset, checked here by decoding the debug .ko's own bytes there.
TEST_F(KernelConsts, ModuleConstIsMappedToItsModuleBySectionAndOffset) {
  auto ko_path = kernel_->profile.debug_modules / "kernel/block/bfq.ko";
  auto ko = ElfFile::open(ko_path);
  ASSERT_TRUE(ko) << ko.error().message;
  const std::string build_id = ko->build_id();
  ASSERT_FALSE(build_id.empty());

  auto r = build_const(*kernel_, "block/bfq-iosched.c:169:0", {.seeds_only = true});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->site.name, "bfq_back_max");
  EXPECT_EQ(r->objects, (std::vector<std::string>{"block/bfq-iosched.o"}));
  ASSERT_FALSE(r->uses.empty()) << r->reason;
  for (auto &u : r->uses) {
    EXPECT_EQ(u.seed.object, "block/bfq-iosched.o");
    ASSERT_TRUE(u.module) << u.seed.function << "+" << u.seed.offset << " was not placed in a module";
    EXPECT_EQ(u.module->module, "bfq");
    EXPECT_EQ(u.module->build_id, build_id);
    EXPECT_EQ(ko->section_name(u.module->section_index), u.module->section);
    // The module's function holding the place, decoded from there to its end.
    const ElfSymbol *fn = nullptr;
    for (auto *f : ko->functions())
      if (f->section == u.module->section_index && u.module->offset >= f->value &&
          u.module->offset < f->value + f->size)
        fn = f;
    ASSERT_TRUE(fn) << "no function of bfq.ko at " << u.module->section << "+" << u.module->offset;
    EXPECT_EQ(fn->name, u.seed.function);
    auto bytes = ko->bytes(fn->section, u.module->offset, fn->value + fn->size - u.module->offset);
    ASSERT_TRUE(bytes) << bytes.error().message;
    auto insns = disassemble(*bytes, {});
    ASSERT_TRUE(insns && !insns->empty());
    EXPECT_EQ((*insns)[0].text, u.seed.insn) << "at " << u.module->section << "+" << u.module->offset;
    EXPECT_EQ(u.source.file.rfind("block/", 0), 0u) << u.source.file;
    EXPECT_FALSE(u.source.frames.empty());
  }
  // Not tunable yet, and the report says why.
  EXPECT_EQ(r->status, ConstStatus::Untunable);
  EXPECT_NE(r->reason.find("module bfq"), std::string::npos) << r->reason;
  auto j = to_json(*r);
  EXPECT_EQ(j["uses"][0]["module"]["name"], "bfq");
  EXPECT_EQ(j["uses"][0]["module"]["build_id"], build_id);
}

// TCP_INIT_CWND is used by vmlinux (tcp_input.o) and by tcp_bbr.ko: one
// analysis finds both, each use placed where the shipped kernel has it.
TEST_F(KernelConsts, ConstOfVmlinuxAndAModuleGetsTheUsesOfBoth) {
  auto ko = ElfFile::open(kernel_->profile.debug_modules / "kernel/net/ipv4/tcp_bbr.ko");
  ASSERT_TRUE(ko) << ko.error().message;
  auto r = build_const(*kernel_, "TCP_INIT_CWND", {.seeds_only = true});
  ASSERT_TRUE(r) << r.error().message;
  auto has = [&](const std::string &o) { return std::find(r->objects.begin(), r->objects.end(), o) != r->objects.end(); };
  EXPECT_TRUE(has("net/ipv4/tcp_input.o"));
  EXPECT_TRUE(has("net/ipv4/tcp_bbr.o"));
  size_t in_module = 0, in_vmlinux = 0;
  for (auto &u : r->uses) {
    if (u.seed.object == "net/ipv4/tcp_bbr.o") {
      ASSERT_TRUE(u.module) << u.seed.function;
      EXPECT_EQ(u.module->module, "tcp_bbr");
      EXPECT_EQ(u.module->build_id, ko->build_id());
      ++in_module;
    } else {
      EXPECT_FALSE(u.module) << u.seed.object << " is linked into vmlinux";
      // A region matched by its expression is named "first … last".
      auto [insn, fn] = at(u.address);
      EXPECT_EQ(u.seed.insn.rfind(insn, 0), 0u) << insn << " at the reported address of " << u.seed.function;
      EXPECT_EQ(fn, u.seed.function);
      ++in_vmlinux;
    }
  }
  EXPECT_GT(in_module, 0u);
  EXPECT_GT(in_vmlinux, 0u);
}

// The tree rebuilds bfq's objects to the code the debug module has:
// functions byte-identical outside relocations, as for vmlinux. `kx build`
// checks it for every module object it rebuilds and says so in the report;
// checked here again from the objects themselves. `make block/bfq-iosched.o`
// builds the module flavour (-DMODULE: references to __this_module).
TEST_F(KernelConsts, RebuiltModuleObjectsMatchTheDebugModule) {
  auto r = build_const(*kernel_, "block/bfq-iosched.c:169:0", {.seeds_only = true});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->module_fidelity.size(), 1u);
  EXPECT_EQ(r->module_fidelity[0].rfind("block/bfq-iosched.o in bfq: ", 0), 0u) << r->module_fidelity[0];

  auto ko = ElfFile::open(kernel_->profile.debug_modules / "kernel/block/bfq.ko");
  ASSERT_TRUE(ko) << ko.error().message;
  auto dir = original_objects(*kernel_, {"block/bfq-iosched.o"});
  ASSERT_TRUE(dir) << dir.error().message;
  auto o = ElfFile::open(*dir / "block/bfq-iosched.o");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_FALSE(o->find_symbols("__this_module").empty());
  auto f = compare_object(*o, *ko);
  EXPECT_GT(f.functions, 50u);
  EXPECT_EQ(f.identical, f.functions);
  EXPECT_TRUE(f.differing.empty()) << f.differing.front();
  EXPECT_TRUE(f.missing.empty()) << f.missing.front();
  EXPECT_EQ(r->module_fidelity[0], "block/bfq-iosched.o in bfq: " + std::to_string(f.identical) + "/" +
                                       std::to_string(f.functions) + " functions identical");
}

}  // namespace
}  // namespace kx
