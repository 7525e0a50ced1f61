// The update compiler (JSON -> x-sie.ko program) and the module's own
// evaluator (kmod/x_sie_update.c, compiled into this test) against the
// reference semantics, evaluate_update_expr, on random states.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "runtime/update_program.h"
#include "synth/update_expr.h"
#include "x_sie_update.h"

namespace kx {
namespace {

using nlohmann::json;

json cached_consts() {
  std::ifstream in(std::string(KX_FIXTURES) + "/runtime/cached_consts.json");
  return json::parse(in);
}

const char *const kRegNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                   "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
const char *const kFlagNames[6] = {"cf", "pf", "af", "zf", "sf", "of"};

// Values where masking and sign bugs show: near 0 and the 8/16/32/64-bit edges.
uint64_t interesting(std::mt19937_64 &rng) {
  static const uint64_t edges[] = {0,          1,          2,          7,           8,          0x1f,
                                   0x20,       0x7f,       0x80,       0xff,        0x7fff,     0x8000,
                                   0xffff,     0x7fffffff, 0x80000000, 0xffffffff,  0x100000000, ~0ull,
                                   ~0ull - 1,  1ull << 63, (1ull << 63) - 1};
  switch (rng() % 4) {
    case 0: return edges[rng() % (sizeof edges / sizeof edges[0])];
    case 1: return rng() % 512;
    case 2: return static_cast<uint64_t>(-static_cast<int64_t>(rng() % 512));
    default: return rng();
  }
}

// Memory both evaluators read: a byte per address, a hash of it; pages
// whose number is 3 mod 7 are not mapped (the read faults).
bool mapped(uint64_t addr) { return (addr >> 12) % 7 != 3; }
uint8_t byte_at(uint64_t addr) { return static_cast<uint8_t>((addr * 0x9e3779b97f4a7c15ull) >> 56); }
std::optional<uint64_t> read_memory(uint64_t addr, unsigned bytes) {
  uint64_t v = 0;
  for (unsigned i = 0; i < bytes; ++i) {
    if (!mapped(addr + i)) return std::nullopt;
    v |= static_cast<uint64_t>(byte_at(addr + i)) << (8 * i);
  }
  return v;
}
int module_read(__u64 addr, unsigned int bytes, __u64 *val) {
  auto v = read_memory(addr, bytes);
  if (!v) return -1;
  *val = *v;
  return 0;
}

struct Case {
  x_sie_state now{}, cap{};
  ConcreteEnv env;
};

Case random_case(std::mt19937_64 &rng, uint64_t v) {
  Case c;
  for (int r = 0; r < 16; ++r) {
    c.now.regs[r] = interesting(rng);
    c.cap.regs[r] = interesting(rng);
    c.env.regs[kRegNames[r]] = c.now.regs[r];
    c.env.caps[kRegNames[r]] = c.cap.regs[r];
  }
  c.now.flags = rng();
  c.cap.flags = rng();
  for (auto *f : kFlagNames) {
    unsigned bit = *update_flag(f);
    c.env.flags[f] = (c.now.flags >> bit) & 1;
    c.env.capflags[f] = (c.cap.flags >> bit) & 1;
  }
  c.env.v = v;
  c.now.gs_base = c.env.gs_base = interesting(rng);
  c.env.load = read_memory;
  return c;
}

// Runs `update` through the module's evaluator and the reference on `n`
// random states with values from [lo, hi]; every assignment must agree, and
// apply must write exactly the register and flag destinations.
void expect_agreement(const json &update, bool has_capture, int64_t lo, int64_t hi, int n, const std::string &what,
                      int *faults = nullptr) {
  int ignored = 0;
  if (!faults) faults = &ignored;
  auto prog = compile_update(update, has_capture);
  ASSERT_TRUE(prog) << what << ": " << prog.error().message;
  std::mt19937_64 rng(0x5eed ^ std::hash<std::string>{}(what));
  std::vector<__u64> scratch(X_SIE_MAX_NODES);
  for (int i = 0; i < n; ++i) {
    int64_t v;
    switch (i % 4) {
      case 0: v = lo; break;
      case 1: v = hi; break;
      default: v = lo + static_cast<int64_t>(rng() % (static_cast<uint64_t>(hi - lo) + 1));
    }
    Case c = random_case(rng, static_cast<uint64_t>(v));
    x_sie_results res{};
    x_sie_user_read = module_read;
    int rc = x_sie_prog_eval(&*prog, &c.now, &c.cap, static_cast<uint64_t>(v), scratch.data(), &res);
    x_sie_user_read = nullptr;
    x_sie_state after = c.now;
    x_sie_state expected = c.now;
    const auto &assigns = update["assign"];
    // A read that faults anywhere: the module runs no assignment at all.
    bool faulted = false;
    for (auto &a : assigns) {
      auto ref = evaluate_update_expr(a["expr"], c.env);
      faulted = faulted || (!ref && ref.error().message.find("faulted") != std::string::npos);
    }
    if (faulted) {
      ASSERT_EQ(rc, -EFAULT) << what << ": a faulting read must stop the update";
      ++*faults;
      continue;
    }
    ASSERT_EQ(rc, 0) << what;
    x_sie_prog_apply(&*prog, &res, &after);
    for (size_t a = 0; a < assigns.size(); ++a) {
      auto ref = evaluate_update_expr(assigns[a]["expr"], c.env);
      ASSERT_TRUE(ref) << what << ": " << ref.error().message;
      ASSERT_EQ(res.value[a], *ref) << what << " assignment " << a << " (" << assigns[a]["dest"] << ") at V=" << v;
      const auto &d = assigns[a]["dest"];
      if (d.is_object()) {
        auto addr = evaluate_update_expr(d["mem8"], c.env);
        ASSERT_TRUE(addr);
        ASSERT_EQ(res.addr[a], *addr) << what << " mem8 address";
      } else if (auto r = update_register(d)) {
        expected.regs[*r] = *ref;
      } else {
        unsigned bit = *update_flag(d);
        expected.flags = (expected.flags & ~(1ull << bit)) | (*ref << bit);
      }
    }
    ASSERT_EQ(0, memcmp(&after, &expected, sizeof after)) << what << ": apply wrote more or less than assigned";
  }
}

TEST(RuntimeUpdateProgram, EveryCachedSpanCompilesAndAgreesWithTheReference) {
  int spans = 0;
  for (auto &r : cached_consts()) {
    for (auto &s : r["critical_spans"]) {
      std::string what = r["id"].get<std::string>() + " " + s["function"].get<std::string>() + " " +
                         s["probe_address"].get<std::string>();
      expect_agreement(s["update"], s.contains("capture_address"), s["value_range"][0], s["value_range"][1], 600,
                       what);
      ++spans;
    }
  }
  EXPECT_EQ(spans, 9);  // the 8 cached consts; BLK_MAX_REQUEST_COUNT has two spans
}

TEST(RuntimeUpdateProgram, EqualSubtermsShareNodes) {
  for (auto &r : cached_consts()) {
    if (r["id"] != "BLK_MAX_REQUEST_COUNT") continue;
    for (auto &s : r["critical_spans"]) {
      if (s["kind"] != "dual") continue;
      auto p = compile_update(s["update"], true);
      ASSERT_TRUE(p) << p.error().message;
      // Seven assignments repeat the 32-bit value term; shared, it is one.
      EXPECT_LT(p->n_nodes, 100);
      EXPECT_EQ(p->n_assigns, 7);
      EXPECT_EQ(p->capture_mask, 1u << X_SIE_RAX);
      return;
    }
  }
  FAIL() << "no dual span of BLK_MAX_REQUEST_COUNT in the fixture";
}

json op(std::initializer_list<json> items) { return json(items); }

// Every operation of the language, including what no cached span uses
// (shifts past the width, signed comparisons, sign extension, mem8).
TEST(RuntimeUpdateProgram, EveryOperationAgreesWithTheReference) {
  json v32 = op({"extract", 31, 0, op({"v"})});
  json rax32 = op({"extract", 31, 0, op({"reg", "rax"})});
  json rcx8 = op({"extract", 7, 0, op({"reg", "rcx"})});
  json cap16 = op({"extract", 15, 0, op({"cap", "rdx"})});
  json sh = op({"zext", 32, rcx8});
  json arith = op({"add", 32, op({"mul", 32, v32, rax32}),
                   op({"sub", 32, op({"xor", 32, rax32, op({"const", 32, "0xdeadbeef"})}),
                       op({"or", 32, op({"and", 32, rax32, v32}), op({"not", 32, op({"neg", 32, v32})})})})});
  json shifts = op({"concat", 64, op({"shl", 32, arith, sh}),
                    op({"xor", 32, op({"lshr", 32, rax32, sh}), op({"ashr", 32, v32, sh})})});
  json cmp = op({"bor", 1,
                 op({"band", 1, op({"slt", rax32, v32}), op({"bnot", op({"sle", v32, rax32})})}),
                 op({"bxor", 1, op({"ult", cap16, op({"const", 16, "0x8000"})}),
                     op({"ule", op({"sext", 32, cap16}), rax32})})});
  json update = {
      {"captures", {"rdx", "zf"}},
      {"assign",
       {{{"dest", "rbx"}, {"expr", shifts}},
        {{"dest", "rsi"}, {"expr", op({"ite", 64, cmp, op({"sext", 64, rax32}), op({"zext", 64, v32})})}},
        {{"dest", "rdi"}, {"expr", op({"zext", 64, op({"concat", 24, rcx8, op({"extract", 20, 5, op({"cap", "rdx"})})})})}},
        {{"dest", "zf"}, {"expr", op({"eq", op({"capflag", "zf"}), op({"flag", "cf"})})}},
        {{"dest", "of"}, {"expr", op({"true"})}},
        {{"dest", "sf"}, {"expr", op({"false"})}},
        {{"dest", json::object({{"mem8", op({"add", 64, op({"reg", "rdi"}), op({"const", 64, "0x10"})})}})},
         {"expr", op({"extract", 7, 0, arith})}}}}};
  expect_agreement(update, true, -70000, 70000, 3000, "every operation");
}

// Reads of the memory a span reads: at register-relative, per-CPU and
// constant (resolved linked) addresses, of every width; a fault anywhere
// keeps every assignment from running.
TEST(RuntimeUpdateProgram, LoadsAgreeWithTheReferenceAndAFaultStopsTheUpdate) {
  json field = op({"add", 64, op({"reg", "r12"}), op({"const", 64, "0x2c"})});
  json percpu = op({"add", 64, op({"gsbase"}), op({"add", 64, op({"reg", "r8"}), op({"const", 64, "0x12"})})});
  json v32 = op({"extract", 31, 0, op({"v"})});
  json ld32 = op({"load", 32, field});
  json cf = op({"ult", ld32, v32});
  json zf = op({"eq", ld32, v32});
  json rsi = op({"add", 64, op({"zext", 64, op({"load", 16, percpu})}),
                 op({"add", 64, op({"load", 64, op({"const", 64, "0xffffffff81234560"})}),
                     op({"zext", 64, op({"load", 8, op({"reg", "rdi"})})})})});
  json update = {{"captures", json::array()},
                 {"assign", {{{"dest", "cf"}, {"expr", cf}}, {{"dest", "zf"}, {"expr", zf}}, {{"dest", "rsi"}, {"expr", rsi}}}}};
  int faults = 0;
  expect_agreement(update, false, 0, 1 << 20, 3000, "loads", &faults);
  EXPECT_GT(faults, 100);   // some reads fault ...
  EXPECT_LT(faults, 2900);  // ... and most do not
  auto p = compile_update(update, false);
  ASSERT_TRUE(p);
  // One node per distinct load: the field is read once for cf and zf.
  int loads = 0;
  for (unsigned i = 0; i < p->n_nodes; ++i) loads += p->nodes[i].op == X_SIE_OP_LOAD;
  EXPECT_EQ(loads, 4);
}

void expect_refused(const json &update, bool has_capture, const std::string &why) {
  auto p = compile_update(update, has_capture);
  ASSERT_FALSE(p) << update.dump();
  EXPECT_NE(p.error().message.find(why), std::string::npos) << p.error().message;
}

TEST(RuntimeUpdateProgram, RefusesWhatTheModuleMustNotRun) {
  auto assign = [](json dest, json expr) {
    return json{{"captures", json::array()}, {"assign", {{{"dest", dest}, {"expr", expr}}}}};
  };
  json v64 = op({"v"});
  expect_refused(assign("rax", op({"smod", 64, v64, v64})), false, "outside the update language");
  expect_refused(assign("rax", op({"zext", 64, op({"load", 12, v64})})), false, "a load of 12 bits");
  expect_refused(assign("rax", op({"load", 64, op({"linked", "0x1c"})})), false, "was not resolved");
  expect_refused(assign("rsp", v64), false, "cannot be written");
  expect_refused(assign("rip", v64), false, "writes rip");
  expect_refused(assign("rax", op({"reg", "cr3"})), false, "reads cr3");
  expect_refused(assign("rax", op({"add", 65, v64, v64})), false, "width");
  expect_refused(assign("rax", op({"extract", 31, 0, v64})), false, "64-bit value");  // 32 bits into a register
  expect_refused(assign("cf", v64), false, "1-bit value");
  expect_refused(assign(json::object({{"mem8", v64}}), v64), false, "8-bit value");
  expect_refused(assign("rax", op({"add", 64, v64, op({"extract", 31, 0, v64})})), false, "operand widths");
  expect_refused(assign("rax", op({"cap", "rax"})), false, "not captured");
  json captured = assign("rax", op({"cap", "rax"}));
  captured["captures"] = {"rax"};
  expect_refused(captured, false, "without a capture site");
  EXPECT_TRUE(compile_update(captured, true));
  expect_refused(assign("rax", v64), true, "captures nothing");
  json switches = assign(json::object({{"mem8", op({"gsbase"})}}), op({"extract", 7, 0, v64}));
  switches["captures"] = {"switches"};  // a per-CPU store: the same CPU only
  auto sw = compile_update(switches, true);
  ASSERT_TRUE(sw) << sw.error().message;
  EXPECT_EQ(sw->capture_mask, X_SIE_CAPTURE_SWITCHES);
  expect_refused(switches, false, "without a capture site");
  json two = {{"captures", json::array()}, {"assign", {{{"dest", "rax"}, {"expr", v64}}, {{"dest", "rax"}, {"expr", v64}}}}};
  expect_refused(two, false, "written twice");

  // A chain of distinct subterms longer than the module's bound.
  json e = v64;
  for (int i = 0; i < X_SIE_MAX_NODES; ++i) e = op({"add", 64, e, op({"const", 64, std::to_string(i)})});
  expect_refused(assign("rax", e), false, "distinct subterms");
}

// The module checks what it is handed field by field, whoever compiled it.
TEST(RuntimeUpdateProgram, ModuleCheckRejectsMalformedPrograms) {
  auto good = compile_update(
      json{{"captures", json::array()}, {"assign", {{{"dest", "rdx"}, {"expr", op({"add", 64, op({"v"}), op({"reg", "rdx"})})}}}}},
      false);
  ASSERT_TRUE(good);
  char err[160];
  ASSERT_EQ(x_sie_prog_check(&*good, 0, err, sizeof err), 0) << err;
  auto bad = [&](auto mutate, const std::string &why) {
    x_sie_prog p = *good;
    mutate(p);
    EXPECT_NE(x_sie_prog_check(&p, 0, err, sizeof err), 0) << why;
    EXPECT_NE(std::string(err).find(why), std::string::npos) << err;
  };
  bad([](x_sie_prog &p) { p.nodes[2].a = 2; }, "earlier node");            // a node reading itself: a loop
  bad([](x_sie_prog &p) { p.nodes[0].b = 1; }, "unused operand");          // v has no operands
  bad([](x_sie_prog &p) { p.nodes[2].op = X_SIE_OP_END; }, "unknown operation");
  bad([](x_sie_prog &p) { p.nodes[0].pad[1] = 1; }, "padding");
  bad([](x_sie_prog &p) { p.nodes[1].arg = 16; }, "one of 16");
  bad([](x_sie_prog &p) { p.nodes[1].imm = 5; }, "unused imm");
  bad([](x_sie_prog &p) { p.n_nodes = 0; }, "nodes");
  bad([](x_sie_prog &p) { p.n_nodes = X_SIE_MAX_NODES + 1; }, "nodes");
  bad([](x_sie_prog &p) { p.nodes[5].op = X_SIE_OP_V; }, "beyond n_nodes");
  bad([](x_sie_prog &p) { p.assigns[0].value = 7; }, "out of range");
  bad([](x_sie_prog &p) { p.assigns[0].dest = 9; }, "unknown destination");
  bad([](x_sie_prog &p) { p.assigns[0].index = X_SIE_RSP; }, "cannot be written");
  bad([](x_sie_prog &p) { p.capture_mask = 1u << 20; }, "capture mask");
  bad([](x_sie_prog &p) {
    p.nodes[3] = x_sie_node{X_SIE_OP_CONST, 8, 0, 0, 0, 0, {0, 0}, 0x1ff};
    p.n_nodes = 4;
  }, "wider than 8");
  bad([](x_sie_prog &p) {
    p.nodes[3] = x_sie_node{X_SIE_OP_LOAD, 24, 0, 2, 0, 0, {0, 0}, 0};
    p.n_nodes = 4;
  }, "a load of 24 bits");
  bad([](x_sie_prog &p) {
    p.nodes[3] = x_sie_node{X_SIE_OP_EXTRACT, 8, 0, 2, 0, 0, {0, 0}, 0};
    p.nodes[4] = x_sie_node{X_SIE_OP_LOAD, 32, 0, 3, 0, 0, {0, 0}, 0};
    p.n_nodes = 5;
  }, "8-bit address");
  bad([](x_sie_prog &p) {
    p.nodes[3] = x_sie_node{X_SIE_OP_GSBASE, 64, 0, 2, 0, 0, {0, 0}, 0};
    p.n_nodes = 4;
  }, "unused operand");
}

}  // namespace
}  // namespace kx
