#include "synth/critical_span.h"

#include <algorithm>
#include <array>
#include <functional>
#include <set>
#include <unordered_set>

#include "symbolic/lifter.h"
#include "symbolic/liveness.h"
#include "synth/update_expr.h"
#include "util/hex.h"

namespace kx {

const char *synth_kind_name(SynthKind k) {
  switch (k) {
    case SynthKind::Insertion: return "insertion";
    case SynthKind::Inverse: return "inverse";
    case SynthKind::Dual: return "dual";
  }
  return "?";
}

const char *proof_name(ProofResult p) {
  switch (p) {
    case ProofResult::Proved: return "proved";
    case ProofResult::Failed: return "failed";
    case ProofResult::Timeout: return "timeout";
    case ProofResult::NotSynthesized: return "not-synthesized";
  }
  return "?";
}

namespace {

uint32_t flags_written(const Insn &in);

bool ends_block(const Insn &in) {
  switch (in.zi.meta.category) {
    case ZYDIS_CATEGORY_COND_BR:
    case ZYDIS_CATEGORY_UNCOND_BR:
    case ZYDIS_CATEGORY_CALL:
    case ZYDIS_CATEGORY_RET:
    case ZYDIS_CATEGORY_INTERRUPT:
    case ZYDIS_CATEGORY_SYSTEM:
      return true;
    default:
      return in.mnemonic() == ZYDIS_MNEMONIC_UD2 || in.mnemonic() == ZYDIS_MNEMONIC_INT3;
  }
}

// Basic-block number of every instruction (leaders: entry, branch targets,
// instructions after a block end).
std::vector<size_t> basic_blocks(const DecodedFunction &f, std::set<size_t> &targets) {
  std::set<size_t> leaders = {0};
  for (size_t i = 0; i < f.insns.size(); ++i) {
    const Insn &in = f.insns[i];
    if (ends_block(in) && i + 1 < f.insns.size()) leaders.insert(i + 1);
    for (auto &o : in.ops) {
      if (!(o.relative && o.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) || o.relocated) continue;
      int64_t target = static_cast<int64_t>(in.offset + in.length) + o.value;
      for (size_t k = 0; k < f.insns.size(); ++k)
        if (static_cast<int64_t>(f.insns[k].offset) == target) {
          leaders.insert(k);
          targets.insert(k);
        }
    }
  }
  std::vector<size_t> bb(f.insns.size());
  size_t id = 0;
  for (size_t i = 0; i < f.insns.size(); ++i) {
    if (leaders.count(i) && i) ++id;
    bb[i] = id;
  }
  return bb;
}

bool contains_const(const z3::expr &e, const std::function<bool(const std::string &)> &pred) {
  std::unordered_set<unsigned> seen;
  std::function<bool(const z3::expr &)> walk = [&](const z3::expr &x) -> bool {
    if (!seen.insert(x.id()).second) return false;
    if (x.is_const() && !x.is_numeral()) return pred(x.decl().name().str());
    if (x.is_app())
      for (unsigned i = 0; i < x.num_args(); ++i)
        if (walk(x.arg(i))) return true;
    return false;
  };
  return walk(e);
}

bool has_v(const z3::expr &e) {
  return contains_const(e, [](const std::string &n) { return n == UpdateVars::kValue; });
}

// Does `e` hold a read of the span's input memory (an opaque load)?
bool has_load(const z3::expr &e) {
  std::unordered_set<unsigned> seen;
  std::function<bool(const z3::expr &)> walk = [&](const z3::expr &x) -> bool {
    if (!seen.insert(x.id()).second || !x.is_app()) return false;
    if (x.decl().decl_kind() == Z3_OP_UNINTERPRETED && x.num_args() == 1 &&
        x.decl().name().str().rfind("load_", 0) == 0)
      return true;
    for (unsigned i = 0; i < x.num_args(); ++i)
      if (walk(x.arg(i))) return true;
    return false;
  };
  return walk(e);
}

// The distinct ["load", …] nodes of an update.
void update_loads(const nlohmann::json &j, std::set<std::string> &out) {
  if (!j.is_array() && !j.is_object()) return;
  if (j.is_array() && !j.empty() && j[0] == "load") out.insert(j.dump());
  for (auto &x : j) update_loads(x, out);
}

// A state for synthesis: linked addresses are symbols, reads of input
// memory opaque loads (sym_state.h).
SymState synthesis_state(z3::context &c) {
  SymState s(c, "in_");
  s.symbolic_links = true;
  s.opaque_loads = true;
  return s;
}

// The seed operands of instruction `i` with T written as a term of `v`.
std::vector<ValueOverride> overrides_at(const std::vector<SpanSeed> &seeds, size_t i, const z3::expr &v) {
  std::vector<ValueOverride> out;
  for (auto &s : seeds) {
    if (s.insn != i) continue;
    z3::context &c = v.ctx();
    z3::expr t = s.relation.linear ? c.bv_val(s.relation.a, 64) * v + c.bv_val(s.relation.b, 64) : v;
    out.push_back({s.operand, t});
  }
  return out;
}

Status run_span(SymState &s, const DecodedFunction &f, size_t first, size_t last, const std::vector<SpanSeed> &seeds,
                const z3::expr *v) {
  for (size_t i = first; i <= last; ++i) {
    std::vector<ValueOverride> ov;
    if (v) ov = overrides_at(seeds, i, *v);
    KX_ASSIGN(end, lift(s, f.insns[i], f.insns[i].offset, ov));
    if (end == LiftEnd::Branch) return make_error("a branch inside the span at " + f.insns[i].text);
  }
  return {};
}

// The state the other build's region would produce at V: its own, with each
// value of V the spec computes in its renamed register (match_region).
SymState renamed_spec(const SymState &spec, const SymState &other, const RegionMatch &m) {
  SymState s = other;
  for (auto [r, t] : m.rename) s.gpr[t] = spec.gpr[r];
  s.mem = spec.mem;
  if (m.flags_live) s.flag = spec.flag;
  return s;
}


// Locations whose value depends on V.
std::vector<std::string> v_dependent(const SymState &s) {
  std::vector<std::string> out;
  for (int r = 0; r < 16; ++r)
    if (has_v(s.gpr[r])) out.push_back(gpr_name(r));
  for (int f = 0; f < kFlagCount; ++f)
    if (has_v(s.flag[f])) out.push_back(flag_name(Flag(f)));
  if (has_v(s.mem)) out.push_back("mem");
  return out;
}

// Did `x` (executed from `before` to `after`) consume V-dependent state?
// Yes when it wrote a location that now depends on V and did not before.
bool consumes(const SymState &before, const SymState &after) {
  for (int r = 0; r < 16; ++r)
    if (!z3::eq(before.gpr[r], after.gpr[r]) && has_v(after.gpr[r])) return true;
  for (int f = 0; f < kFlagCount; ++f)
    if (!z3::eq(before.flag[f], after.flag[f]) && has_v(after.flag[f])) return true;
  return !z3::eq(before.mem, after.mem) && has_v(after.mem);
}

int gpr_index(ZydisRegister r) {
  auto s = gpr_slice(r);
  return s ? s->index : -1;
}

// The inverse of instruction `in` for its destination register: the value
// before from the value after (`post`, full 64 bits). Empty when `in` loses
// information (or writes `reg` implicitly).
std::optional<z3::expr> undo(const Insn &in, int reg, const z3::expr &post, const SymState &end, const std::set<int> &written) {
  z3::context &c = post.ctx();
  const auto &z = in.zops;
  if (in.zi.operand_count_visible == 0 || z[0].type != ZYDIS_OPERAND_TYPE_REGISTER || gpr_index(z[0].reg.value) != reg) {
    // Not the destination: does it write `reg` another way?
    for (uint8_t k = 0; k < in.zi.operand_count; ++k)
      if (z[k].type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_index(z[k].reg.value) == reg &&
          (z[k].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
        return std::nullopt;
    return post;
  }
  unsigned w = z[0].size;
  z3::expr low = post.extract(w - 1, 0);
  // A source: an immediate, or a register the span never writes (so its
  // value at the end is its value here).
  auto source = [&](int k) -> std::optional<z3::expr> {
    if (z[k].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
      return z[k].imm.is_signed ? c.bv_val(static_cast<int64_t>(z[k].imm.value.s), w)
                                : c.bv_val(static_cast<uint64_t>(z[k].imm.value.u), w);
    if (z[k].type == ZYDIS_OPERAND_TYPE_REGISTER && !written.count(gpr_index(z[k].reg.value)))
      return end.read_reg(z[k].reg.value);
    return std::nullopt;
  };
  std::optional<z3::expr> pre;
  switch (in.mnemonic()) {
    case ZYDIS_MNEMONIC_ADD: if (auto s = source(1)) pre = low - *s; break;
    case ZYDIS_MNEMONIC_SUB: if (auto s = source(1)) pre = low + *s; break;
    case ZYDIS_MNEMONIC_XOR: if (auto s = source(1)) pre = low ^ *s; break;
    case ZYDIS_MNEMONIC_INC: pre = low - c.bv_val(1, w); break;
    case ZYDIS_MNEMONIC_DEC: pre = low + c.bv_val(1, w); break;
    case ZYDIS_MNEMONIC_NEG: pre = -low; break;
    case ZYDIS_MNEMONIC_NOT: pre = ~low; break;
    case ZYDIS_MNEMONIC_IMUL: {
      // imul d, d, k / imul d, k with k odd: multiply by k's inverse mod 2^w.
      int src = in.zi.operand_count_visible == 3 ? 1 : -1;
      int imm = in.zi.operand_count_visible == 3 ? 2 : 1;
      if (src >= 0 && !(z[src].type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_index(z[src].reg.value) == reg)) break;
      if (z[imm].type != ZYDIS_OPERAND_TYPE_IMMEDIATE) break;
      uint64_t k = z[imm].imm.value.u;
      if (!(k & 1)) break;
      uint64_t inv = k;  // Newton: inv = inv * (2 - k*inv), doubling correct bits
      for (int i = 0; i < 6; ++i) inv *= 2 - k * inv;
      pre = low * c.bv_val(inv, w);
      break;
    }
    case ZYDIS_MNEMONIC_LEA: {
      const auto &m = z[1].mem;
      if (gpr_index(m.base) == reg && m.index == ZYDIS_REGISTER_NONE && w == 64)
        pre = low - c.bv_val(static_cast<int64_t>(m.disp.value), w);
      break;
    }
    default: break;
  }
  if (!pre) return std::nullopt;
  if (w == 64) return pre->simplify();
  if (w == 32) return z3::concat(c.bv_const("lost!upper", 32), *pre).simplify();  // zero-extended: upper half lost
  return z3::concat(post.extract(63, w), *pre).simplify();                       // 8/16-bit: upper bits kept
}

// When may an update read memory? It reads at the probe what the span read
// earlier; another CPU may have written there since. That is the span's own
// read delayed to the probe — an execution the original allows too — as
// long as the update recomputes everything that read gave (nothing the span
// leaves keeps the earlier value), the span stores nothing after it, and the
// update reads once (checked after synthesis). Empty when the span's reads
// are fine, else why not.
std::string memory_read_refusal(const SymState &impl_end, const SymState &in, const SymState &end,
                                const std::set<int> &written, bool flags_live) {
  bool read = false;
  for (int r = 0; r < 16; ++r) read = read || (has_v(end.gpr[r]) && has_load(end.gpr[r]));
  for (int fl = 0; fl < kFlagCount; ++fl) read = read || (has_v(end.flag[fl]) && has_load(end.flag[fl]));
  if (!read) return "";
  if (!z3::eq(impl_end.mem, in.mem))
    return "the span reads memory and writes memory: an update that reads again after the span's store is not "
           "supported yet";
  for (int r : written)
    if (!has_v(end.gpr[r]) && has_load(impl_end.gpr[r]))
      return std::string(gpr_name(r)) + " keeps a value the span read from memory, which the update would read "
             "again: both must come from one read";
  // Flags nobody reads after the span keep nothing.
  for (int fl = 0; fl < kFlagCount && flags_live; ++fl)
    if (!z3::eq(impl_end.flag[fl], in.flag[fl]) && !has_v(end.flag[fl]) && !depends_on_undefined(impl_end.flag[fl]) &&
        has_load(impl_end.flag[fl]))
      return std::string(flag_name(Flag(fl))) + " keeps a value the span read from memory, which the update would "
             "read again: both must come from one read";
  return "";
}

struct Synthesis {
  SynthKind kind;
  nlohmann::json update;
  std::string error;
};

bool has_lost(const z3::expr &e) {
  return contains_const(e, [](const std::string &n) { return n.rfind("lost!", 0) == 0; });
}

// `end`: the state the span should produce (V symbolic); `impl_end`: the
// state the shipped instructions f[first..last] produce (which registers
// and flags they clobber). The two coincide for a seed's own span; they
// differ for a span matched by its symbolic expression (region spans).
// `flags_live`: false when nothing reads the flags after the span.
Synthesis synthesize(const DecodedFunction &f, size_t first, size_t last, const std::vector<SpanSeed> &seeds,
                     z3::context &c, const SymState &in, const SymState &end, const SymState &impl_end,
                     const std::set<std::string> &force_capture = {}, bool flags_live = true) {
  Synthesis out{SynthKind::Insertion, nlohmann::json::object(), ""};
  std::set<std::string> undone;
  std::vector<std::string> defs = v_dependent(end);
  // Inputs the defined values depend on.
  std::set<std::string> inputs;
  auto collect = [&](const z3::expr &e) {
    contains_const(e, [&](const std::string &n) {
      if (n.rfind("in_", 0) == 0) inputs.insert(n.substr(3));
      return false;
    });
  };
  for (int r = 0; r < 16; ++r)
    if (has_v(end.gpr[r])) collect(end.gpr[r]);
  for (int fl = 0; fl < kFlagCount; ++fl)
    if (has_v(end.flag[fl])) collect(end.flag[fl]);
  if (has_v(end.mem))  // the stores' addresses and bytes; the memory below is not read
    for (z3::expr m = end.mem; m.is_app() && m.decl().decl_kind() == Z3_OP_STORE; m = m.arg(0)) {
      collect(m.arg(1));
      collect(m.arg(2));
    }
  if (inputs.count("mem")) {
    out.error = "the span's result depends on memory it wrote itself (a load after a store); updates read memory "
                "only as the span found it";
    return out;
  }
  if (inputs.count("fs_base")) {
    out.error = "the span's result depends on %fs-relative memory, which kernel code does not use";
    return out;
  }
  std::set<int> written;
  for (int r = 0; r < 16; ++r)
    if (!z3::eq(impl_end.gpr[r], in.gpr[r])) written.insert(r);
  if (std::string why = memory_read_refusal(impl_end, in, end, written, flags_live); !why.empty()) {
    out.error = why;
    return out;
  }

  // Each input, recovered at the end of the span: current value, undone, or captured.
  z3::expr_vector from(c), to(c);
  nlohmann::json captures = nlohmann::json::array();
  bool inverse = false;
  for (auto &name : inputs) {
    int r = -1;
    for (int k = 0; k < 16; ++k)
      if (name == gpr_name(k)) r = k;
    if (name == "gs_base") {  // the per-CPU base: the CPU's own at the probe
      from.push_back(in.gs_base);
      to.push_back(c.bv_const(UpdateVars::kGsBase, 64));
      continue;
    }
    if (r < 0) {  // a flag
      int fl = -1;
      for (int k = 0; k < kFlagCount; ++k)
        if (name == flag_name(Flag(k))) fl = k;
      if (fl < 0) {
        out.error = "unknown input " + name;
        return out;
      }
      from.push_back(in.flag[fl]);
      if (!z3::eq(impl_end.flag[fl], in.flag[fl])) {
        // Clobbered (a shift by 0 keeps the flags it was given): capture it.
        captures.push_back(name);
        to.push_back(c.bool_const(UpdateVars::cap(name).c_str()));
      } else {
        to.push_back(c.bool_const(UpdateVars::flag(name).c_str()));
      }
      continue;
    }
    z3::expr current = c.bv_const(UpdateVars::reg(name).c_str(), 64);
    if (!written.count(r)) {
      from.push_back(in.gpr[r]);
      to.push_back(current);
      continue;
    }
    // Clobbered: undo the span's writes to it, last to first. A 32-bit
    // write loses the upper half; that is fine as long as no defined value
    // depends on it (checked below, after substitution).
    std::optional<z3::expr> pre = current;
    for (size_t i = last + 1; i-- > first && pre;) pre = undo(f.insns[i], r, *pre, impl_end, written);
    if (pre && !force_capture.count(name)) {
      inverse = true;
      undone.insert(name);
      from.push_back(in.gpr[r]);
      to.push_back(*pre);
      continue;
    }
    captures.push_back(name);
    from.push_back(in.gpr[r]);
    to.push_back(c.bv_const(UpdateVars::cap(name).c_str(), 64));
  }
  out.kind = !captures.empty() ? SynthKind::Dual : inverse ? SynthKind::Inverse : SynthKind::Insertion;

  nlohmann::json assign = nlohmann::json::array();
  bool lost = false, same_cpu = false;
  auto add = [&](nlohmann::json dest, z3::expr e) -> bool {
    z3::expr sub = e.substitute(from, to).simplify();
    if (has_lost(sub)) {
      lost = true;
      return true;
    }
    auto j = to_update_expr(sub);
    if (!j) {
      out.error = j.error().message;
      return false;
    }
    assign.push_back({{"dest", dest}, {"expr", *j}});
    return true;
  };
  for (int r = 0; r < 16; ++r)
    if (has_v(end.gpr[r]) && !add(gpr_name(r), end.gpr[r])) return out;
  for (int fl = 0; fl < kFlagCount; ++fl)
    if (has_v(end.flag[fl]) && !depends_on_undefined(end.flag[fl]) && !add(flag_name(Flag(fl)), end.flag[fl]))
      return out;
  if (has_v(end.mem)) {
    // Bytes the span stores: walk the store chain down to the input memory.
    z3::expr m = end.mem;
    std::vector<std::pair<z3::expr, z3::expr>> stores;
    while (m.is_app() && m.decl().decl_kind() == Z3_OP_STORE) {
      stores.push_back({m.arg(1), m.arg(2)});
      m = m.arg(0);
    }
    if (!z3::eq(m, in.mem)) {
      out.error = "the span's memory effect is not a chain of stores";
      return out;
    }
    for (auto it = stores.rbegin(); it != stores.rend(); ++it) {
      z3::expr addr = it->first;
      // A task may move to another CPU between the span and the probe: the
      // update would write that CPU's copy. So the capture at the span's
      // start takes the task's context-switch count, and the runtime skips
      // the update (the compiled value's store stands) if it changed. (Reads
      // need no such check: the span's read could as well have run there.)
      if (contains_const(addr, [](const std::string &n) { return n == "in_gs_base"; })) same_cpu = true;
      auto a = to_update_expr(addr.substitute(from, to).simplify());
      if (!a) {
        out.error = a.error().message;
        return out;
      }
      if (!add({{"mem8", *a}}, it->second)) return out;
    }
  }
  if (lost) {
    // An undone register lost bits a defined value needs: capture those instead.
    std::set<std::string> more = force_capture;
    more.insert(undone.begin(), undone.end());
    return synthesize(f, first, last, seeds, c, in, end, impl_end, more, flags_live);
  }
  std::set<std::string> loads;
  update_loads(assign, loads);
  if (loads.size() > 1) {
    out.error = "the update would read memory at " + std::to_string(loads.size()) +
                " places; it reads once, where the span's one read is (" + *loads.begin() + " …)";
    return out;
  }
  if (same_cpu) {
    captures.push_back("switches");
    out.kind = SynthKind::Dual;
  }
  out.update = {{"captures", captures}, {"assign", assign}};
  return out;
}

// Instructions [first, last] of a function.
struct Region {
  const DecodedFunction *f;
  size_t first, last;
};

// True where every seed's T = aV + b (computed without wrapping) fits its
// operand: an immediate or register of w bits holds -2^(w-1) .. 2^w - 1
// (either signedness), a displacement a signed 32-bit value.
z3::expr operands_fit(const DecodedFunction &f, const std::vector<SpanSeed> &seeds, const z3::expr &v) {
  z3::context &c = v.ctx();
  z3::expr all = c.bool_val(true);
  for (auto &sd : seeds) {
    const Insn &in = f.insns[sd.insn];
    bool mem = in.ops[sd.operand].type == ZYDIS_OPERAND_TYPE_MEMORY;
    unsigned w = mem ? 32 : std::min<unsigned>(in.zi.operand_width, 64);
    z3::expr t = z3::sext(v, 64);
    if (sd.relation.linear)
      t = c.bv_val(sd.relation.a, 128) * t + c.bv_val(sd.relation.b, 128);
    auto pow2 = [&](unsigned k) { return z3::shl(c.bv_val(1, 128), c.bv_val(k, 128)); };
    z3::expr lo = -pow2(w - 1);
    z3::expr hi = (mem || w == 64 ? pow2(w - 1) : pow2(w)) - c.bv_val(1, 128);
    all = all && t >= lo && t <= hi;
  }
  return all;
}

// The update reads exactly what the span reads: each of its loads has the
// width and the address of one of the span's reads (`span_reads`), in every
// state — so it reads no other memory, even where the value would not matter.
Result<z3::expr> reads_what_the_span_reads(z3::context &c, const nlohmann::json &update,
                                           const std::map<std::string, z3::expr> &vars,
                                           const std::vector<MemRead> &span_reads) {
  std::set<std::string> loads;
  update_loads(update["assign"], loads);
  z3::expr all = c.bool_val(true);
  for (auto &text : loads) {
    auto load = nlohmann::json::parse(text);
    KX_ASSIGN(addr, from_update_expr(c, load.at(2), vars));
    unsigned bytes = load.at(1).get<unsigned>() / 8;
    z3::expr one = c.bool_val(false);
    for (auto &r : span_reads)
      if (r.bytes == bytes) one = one || addr == r.addr;
    all = all && one;
  }
  return all;
}

// Proves impl(V0); update(V') == spec(V') for all states and V' in range,
// where spec is `spec` run with its seeds' T written in terms of V'.
std::pair<ProofResult, std::string> prove(Region impl_r, Region spec_r, const std::vector<SpanSeed> &seeds,
                                          const nlohmann::json &update, int64_t v_min, int64_t v_max,
                                          unsigned timeout_ms, bool flags_live = true,
                                          const RegionMatch *match = nullptr) {
  z3::context c;
  SymState sigma(c, "p_");
  sigma.symbolic_links = true;  // as synthesis saw them; memory stays bytes
  z3::expr v = c.bv_const(UpdateVars::kValue, 64);
  SymState spec = sigma, impl = sigma;
  if (auto st = run_span(spec, *spec_r.f, spec_r.first, spec_r.last, seeds, &v); !st)
    return {ProofResult::Failed, st.error().message};
  if (auto st = run_span(impl, *impl_r.f, impl_r.first, impl_r.last, {}, nullptr); !st)
    return {ProofResult::Failed, st.error().message};
  // A region matched across register renaming: the spec in the shipped
  // code's registers.
  if (match) spec = renamed_spec(spec, impl, *match);

  // The memory and the per-CPU base at the probe: the span's, since the
  // span reads memory only if it writes none (memory_read_refusal).
  std::map<std::string, z3::expr> vars = {
      {UpdateVars::kValue, v}, {UpdateVars::kMemory, impl.mem}, {UpdateVars::kGsBase, impl.gs_base}};
  for (int r = 0; r < 16; ++r) {
    vars.emplace(UpdateVars::reg(gpr_name(r)), impl.gpr[r]);
    vars.emplace(UpdateVars::cap(gpr_name(r)), sigma.gpr[r]);  // captured at the span's start
  }
  for (int fl = 0; fl < kFlagCount; ++fl) {
    vars.emplace(UpdateVars::flag(flag_name(Flag(fl))), impl.flag[fl]);
    vars.emplace(UpdateVars::cap(flag_name(Flag(fl))), sigma.flag[fl]);
  }
  // Every assignment reads the state before any is written, as the runtime does.
  SymState after = impl;
  for (auto &a : update["assign"]) {
    auto e = from_update_expr(c, a["expr"], vars);
    if (!e) return {ProofResult::Failed, e.error().message};
    const auto &dest = a["dest"];
    if (dest.is_object()) {
      auto addr = from_update_expr(c, dest["mem8"], vars);
      if (!addr) return {ProofResult::Failed, addr.error().message};
      after.mem = z3::store(after.mem, *addr, *e);
      continue;
    }
    std::string d = dest;
    bool done = false;
    for (int r = 0; r < 16 && !done; ++r)
      if (d == gpr_name(r)) after.gpr[r] = *e, done = true;
    for (int fl = 0; fl < kFlagCount && !done; ++fl)
      if (d == flag_name(Flag(fl))) after.flag[fl] = *e, done = true;
    if (!done) return {ProofResult::Failed, "unknown destination " + d};
  }
  z3::expr same = c.bool_val(true);
  for (int r = 0; r < 16; ++r) same = same && after.gpr[r] == spec.gpr[r];
  for (int fl = 0; fl < kFlagCount && flags_live; ++fl)
    if (!depends_on_undefined(spec.flag[fl])) same = same && after.flag[fl] == spec.flag[fl];
  same = same && after.mem == spec.mem;
  auto reads = reads_what_the_span_reads(c, update, vars, impl.reads);
  if (!reads) return {ProofResult::Failed, reads.error().message};
  same = same && *reads;

  // The range is checked, not trusted: beyond the widths of the seeds'
  // operands the compiler emits other instructions, which spec does not model.
  z3::expr fits = operands_fit(*spec_r.f, seeds, v);

  z3::solver s(c);
  z3::params p(c);
  p.set("timeout", timeout_ms);
  s.set(p);
  s.add(v >= c.bv_val(v_min, 64) && v <= c.bv_val(v_max, 64));
  s.add(!(same && fits));
  switch (s.check()) {
    case z3::unsat: return {ProofResult::Proved, ""};
    case z3::unknown: return {ProofResult::Timeout, "z3: " + s.reason_unknown()};
    case z3::sat: {
      auto m = s.get_model();
      std::string at = "counterexample at V'=" + std::to_string(static_cast<int64_t>(m.eval(v, true).get_numeral_uint64()));
      if (m.eval(fits, true).is_false()) return {ProofResult::Failed, at + ": T no longer fits a seed's operand"};
      return {ProofResult::Failed, at};
    }
  }
  return {ProofResult::Failed, "z3 gave no answer"};
}

}  // namespace

std::string same_expression(const DecodedFunction &orig, size_t first, size_t last, const std::vector<SpanSeed> &seeds,
                            const DecodedFunction &test, int64_t value, unsigned timeout_ms) {
  std::vector<long> map = align_functions(orig, test);
  long tf = map[first], tl = map[last];
  if (tf < 0 || tl < 0 || tl - tf != static_cast<long>(last - first)) return "not comparable: the span does not align";
  z3::context c;
  SymState sigma(c, "p_");
  sigma.symbolic_links = true;
  SymState a = sigma, b = sigma;
  z3::expr v = c.bv_val(value, 64);
  // Each instruction at its index in the span: linked addresses (named by
  // address) then agree across layouts.
  for (size_t i = first; i <= last; ++i) {
    auto r = lift(a, orig.insns[i], i - first, overrides_at(seeds, i, v));
    if (!r) return "not comparable: " + r.error().message;
  }
  for (long i = tf; i <= tl; ++i) {
    auto r = lift(b, test.insns[i], static_cast<uint64_t>(i - tf));
    if (!r) return "not comparable: " + r.error().message;
  }
  z3::expr same = a.mem == b.mem;
  for (int r = 0; r < 16; ++r) same = same && a.gpr[r] == b.gpr[r];
  for (int fl = 0; fl < kFlagCount; ++fl)
    if (!depends_on_undefined(a.flag[fl]) && !depends_on_undefined(b.flag[fl])) same = same && a.flag[fl] == b.flag[fl];
  z3::solver s(c);
  z3::params p(c);
  p.set("timeout", timeout_ms);
  s.set(p);
  s.add(!same);
  auto res = s.check();
  return res == z3::unsat ? "same" : res == z3::sat ? "differs" : "not comparable: z3 timed out";
}

namespace {

bool flags_dead_after(const DecodedFunction &f, size_t last);

// What the straight-line code from an instruction on does first with each
// GPR: reads it (at which instruction and operand; operand -1 for what a
// ret or call reads by the ABI), overwrites it whole (the value before is
// dead), or nothing before a branch or the window's end (unknown: live).
struct FirstAccess {
  enum Kind { Unknown, Read, Overwritten } kind = Unknown;
  size_t insn = 0;
  int operand = -1;
};

std::array<FirstAccess, 16> first_accesses(const DecodedFunction &f, size_t from) {
  std::array<FirstAccess, 16> out;
  auto set = [&](int r, FirstAccess::Kind k, size_t i, int op) {
    if (r >= 0 && out[r].kind == FirstAccess::Unknown) out[r] = {k, i, op};
  };
  for (size_t i = from; i < f.insns.size() && i < from + 16; ++i) {
    const Insn &in = f.insns[i];
    auto cat = in.zi.meta.category;
    if (is_return(in) || cat == ZYDIS_CATEGORY_CALL) {
      // The ABI: a ret reads the return value and the callee-saved
      // registers; a call its arguments, and keeps the callee-saved ones
      // for later (live); it clobbers the rest.
      uint16_t read = kCalleeSavedRegs | (is_return(in) ? uint16_t{1} : kArgumentRegs);  // bit 0: rax
      for (int r = 0; r < 16; ++r)
        if (read >> r & 1) set(r, FirstAccess::Read, i, -1);
      for (int r = 0; r < 16; ++r) set(r, FirstAccess::Overwritten, i, -1);
      break;
    }
    // Reads first: a register an instruction reads and writes is read.
    auto accesses = register_accesses(in);
    for (auto &a : accesses)
      if (a.read) set(a.gpr, FirstAccess::Read, i, a.operand);
    for (auto &a : accesses)
      if (!a.read) set(a.gpr, FirstAccess::Overwritten, i, a.operand);
    if (cat == ZYDIS_CATEGORY_COND_BR || cat == ZYDIS_CATEGORY_UNCOND_BR) break;
  }
  return out;
}

// The register instruction `in`'s operand `k` names, in the role `r` plays
// in `like`'s operand k (register, memory base or index): -1 if none.
int same_role(const Insn &like, int k, int r, const Insn &in) {
  const auto &a = like.zops[k], &b = in.zops[k];
  if (a.type != b.type) return -1;
  auto idx = [](ZydisRegister x) { auto sl = gpr_slice(x); return sl ? sl->index : -1; };
  if (a.type == ZYDIS_OPERAND_TYPE_REGISTER) return idx(b.reg.value);
  if (a.type != ZYDIS_OPERAND_TYPE_MEMORY) return -1;
  if (idx(a.mem.base) == r) return idx(b.mem.base);
  if (idx(a.mem.index) == r) return idx(b.mem.index);
  return -1;
}

// What region matching needs of two whole functions, computed once for the
// many regions one pair is tried with: the alignment (an LCS, quadratic in
// the functions' length) and each one's register liveness.
struct FunctionPair {
  std::vector<long> map;  // spec instruction -> its partner in other, or -1
  std::vector<uint16_t> spec_live, other_live;
};

FunctionPair pair_functions(const DecodedFunction &spec, const DecodedFunction &other) {
  return {align_functions(spec, other), live_in(spec.insns), live_in(other.insns)};
}

Result<RegionMatch> match_paired_region(const FunctionPair &fp, const DecodedFunction &spec, size_t sf, size_t sl,
                                        const std::vector<SpanSeed> &seeds, const DecodedFunction &other, size_t of,
                                        size_t ol, int64_t value, unsigned timeout_ms) {
  if (sl + 1 >= spec.insns.size() || ol + 1 >= other.insns.size())
    return make_error("the region ends the function");
  z3::context c;
  SymState in = synthesis_state(c);
  SymState a = in, b = in;
  z3::expr v = c.bv_const(UpdateVars::kValue, 64);
  KX_TRY(run_span(a, spec, sf, sl, seeds, &v));
  if (ol + 1 > of) KX_TRY(run_span(b, other, of, ol, {}, nullptr));  // the region may be empty there
  z3::expr_vector from(c), to(c);
  from.push_back(v);
  to.push_back(c.bv_val(value, 64));
  auto at = [&](z3::expr e) { return e.substitute(from, to); };

  // Every register the other build reads after its region must hold what
  // the spec holds in the register its partner instruction reads in the
  // same role: register renaming is only naming. What only the ABI reads
  // (a ret, a call) or nothing aligned reads keeps its name.
  const std::vector<long> &map = fp.map;
  std::vector<long> back(other.insns.size(), -1);
  for (size_t i = 0; i < map.size(); ++i)
    if (map[i] >= 0) back[map[i]] = static_cast<long>(i);
  auto spec_next = first_accesses(spec, sl + 1), other_next = first_accesses(other, ol + 1);
  // Registers no path after the region reads are temporaries.
  const uint16_t spec_live = fp.spec_live[sl + 1], other_live = fp.other_live[ol + 1];
  RegionMatch m;
  std::set<int> followed;  // spec registers the other build's reads follow
  z3::expr same = at(a.mem) == b.mem;
  for (int w = 0; w < 16; ++w) {
    const FirstAccess &fa = other_next[w];
    if (fa.kind == FirstAccess::Overwritten || !(other_live >> w & 1)) continue;
    int u = w;
    if (fa.kind == FirstAccess::Read && fa.operand >= 0) {
      const Insn &reader = other.insns[fa.insn];
      long i = back[fa.insn];
      if (i < 0 || spec.insns[i].mnemonic() != reader.mnemonic())
        return make_error("the reader of " + std::string(gpr_name(w)) + " (" + reader.text + ") has no partner");
      u = same_role(reader, fa.operand, w, spec.insns[i]);
      if (u < 0 || spec_next[u].kind != FirstAccess::Read || spec_next[u].insn != static_cast<size_t>(i))
        return make_error("the reader of " + std::string(gpr_name(w)) + " (" + reader.text +
                          ") reads no region value in " + spec.insns[i].text);
    }
    same = same && b.gpr[w] == at(a.gpr[u]);
    followed.insert(u);
    if (has_v(a.gpr[u])) m.rename.push_back({u, w});
  }
  // And every value of V the spec goes on to read, the other build reads.
  for (int r = 0; r < 16; ++r)
    if (has_v(a.gpr[r]) && spec_next[r].kind != FirstAccess::Overwritten && (spec_live >> r & 1) && !followed.count(r))
      return make_error("the other build does not read the value of V the spec keeps in " + std::string(gpr_name(r)));
  // Flags nobody reads after the region need not agree (imul and lea+shl
  // set them differently).
  m.flags_live = !flags_dead_after(other, ol);
  if (m.flags_live)
    for (int fl = 0; fl < kFlagCount; ++fl)
      if (!depends_on_undefined(a.flag[fl]) && !depends_on_undefined(b.flag[fl])) same = same && at(a.flag[fl]) == b.flag[fl];
  z3::solver sv(c);
  z3::params prm(c);
  prm.set("timeout", timeout_ms);
  sv.set(prm);
  sv.add(!same);
  auto res = sv.check();
  if (res == z3::unknown) return make_error("z3 timed out comparing the regions");
  if (res == z3::sat) return make_error("the regions compute different values at V=" + std::to_string(value));
  return m;
}


}  // namespace

Result<RegionMatch> match_region(const DecodedFunction &spec, size_t sf, size_t sl, const std::vector<SpanSeed> &seeds,
                                 const DecodedFunction &other, size_t of, size_t ol, int64_t value,
                                 unsigned timeout_ms) {
  return match_paired_region(pair_functions(spec, other), spec, sf, sl, seeds, other, of, ol, value, timeout_ms);
}

std::string same_region_expression(const DecodedFunction &spec, size_t first, size_t last,
                                   const std::vector<SpanSeed> &seeds, const DecodedFunction &build, int64_t value,
                                   unsigned timeout_ms) {
  // The build's region lies between the partners of the spec region's
  // neighbours; its instructions may be anything straight-line.
  const FunctionPair fp = pair_functions(spec, build);
  const std::vector<long> &map = fp.map;
  long before = static_cast<long>(first) - 1, after = static_cast<long>(last) + 1;
  if (after >= static_cast<long>(spec.insns.size()) || map[after] < 0 || (before >= 0 && map[before] < 0))
    return "not comparable: the region's neighbours do not align";
  long bf = before < 0 ? 0 : map[before] + 1, bl = map[after] - 1;
  if (bl + 1 < bf || bl - bf >= 25) return "not comparable: the build's region is out of order or too large";
  auto m = match_paired_region(fp, spec, first, last, seeds, build, static_cast<size_t>(bf), static_cast<size_t>(bl),
                               value, timeout_ms);
  if (m) return "same";
  const std::string &why = m.error().message;
  return why.rfind("the regions compute different values", 0) == 0 ? "differs" : "not comparable: " + why;
}

namespace {

// Are the flags dead after instruction `last`? True when, on the straight
// path that follows, they are rewritten or the function returns/calls (the
// ABI keeps no flags across either) before anything tests them.
bool flags_dead_after(const DecodedFunction &f, size_t last) {
  constexpr uint32_t kAll = ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_PF | ZYDIS_CPUFLAG_AF | ZYDIS_CPUFLAG_ZF |
                            ZYDIS_CPUFLAG_SF | ZYDIS_CPUFLAG_OF;
  for (size_t i = last + 1; i < f.insns.size() && i < last + 33; ++i) {
    const Insn &in = f.insns[i];
    const auto *cf = in.zi.cpu_flags;
    if (cf && (cf->tested & kAll)) return false;
    auto cat = in.zi.meta.category;
    if (is_return(in) || is_tail_call(in) || cat == ZYDIS_CATEGORY_CALL) return true;
    if ((flags_written(in) & kAll) == kAll) return true;
    if (cat == ZYDIS_CATEGORY_COND_BR || cat == ZYDIS_CATEGORY_UNCOND_BR) return false;
  }
  return false;
}

// Zydis's mask for each Flag.
constexpr uint32_t kZydisFlag[kFlagCount] = {ZYDIS_CPUFLAG_CF, ZYDIS_CPUFLAG_PF, ZYDIS_CPUFLAG_AF,
                                             ZYDIS_CPUFLAG_ZF, ZYDIS_CPUFLAG_SF, ZYDIS_CPUFLAG_OF};

// Flags `in` certainly writes. A shift or rotate by a register count writes
// none: by 0 it keeps them all.
uint32_t flags_written(const Insn &in) {
  const auto *cf = in.zi.cpu_flags;
  if (!cf) return 0;
  switch (in.mnemonic()) {
    case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR: case ZYDIS_MNEMONIC_ROL:
    case ZYDIS_MNEMONIC_ROR: case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR: case ZYDIS_MNEMONIC_SHLD:
    case ZYDIS_MNEMONIC_SHRD:
      for (uint8_t k = 0; k < in.zi.operand_count_visible; ++k)
        if (k > 0 && in.zops[k].type == ZYDIS_OPERAND_TYPE_REGISTER && in.zops[k].size <= 8) return 0;
      break;
    default: break;
  }
  return cf->modified | cf->set_0 | cf->set_1 | cf->undefined;
}

// Does code after instruction `last` read a flag of `flags` (names, as in
// CriticalSpan::undefined_flags) before writing it, on any path through the
// function? The proof leaves those flags out (a build with V' may leave them
// undefined), so such a read sees a value nothing vouches for. Calls and
// returns end a path (the ABI keeps no flags across them), as do jumps out
// of the function (tail calls); an indirect jump counts as a read. Returns
// why, or empty.
std::string reads_undefined_flag(const DecodedFunction &f, size_t last, const std::vector<std::string> &flags) {
  uint32_t undefined = 0;
  for (int fl = 0; fl < kFlagCount; ++fl)
    if (std::find(flags.begin(), flags.end(), flag_name(Flag(fl))) != flags.end()) undefined |= kZydisFlag[fl];
  auto names = [](uint32_t mask) {
    std::string out;
    for (int fl = 0; fl < kFlagCount; ++fl)
      if (mask & kZydisFlag[fl]) out += (out.empty() ? "" : ", ") + std::string(flag_name(Flag(fl)));
    return out;
  };
  auto index_of = [&](int64_t offset) -> std::optional<size_t> {
    for (size_t k = 0; k < f.insns.size(); ++k)
      if (static_cast<int64_t>(f.insns[k].offset) == offset) return k;
    return std::nullopt;
  };
  std::vector<std::pair<size_t, uint32_t>> work = {{last + 1, undefined}};
  std::set<std::pair<size_t, uint32_t>> seen;
  while (!work.empty()) {
    auto [i, live] = work.back();
    work.pop_back();
    if (!live || i >= f.insns.size() || !seen.insert({i, live}).second) continue;
    const Insn &in = f.insns[i];
    auto where = [&] { return " (" + in.text + " at +" + hex(in.offset) + ")"; };
    if (in.zi.cpu_flags && (in.zi.cpu_flags->tested & live))
      return "an instruction after the span" + where() + " reads " + names(in.zi.cpu_flags->tested & live) +
             ", which a build with V' may leave undefined: no update can restore it";
    auto cat = in.zi.meta.category;
    if (cat == ZYDIS_CATEGORY_RET || cat == ZYDIS_CATEGORY_CALL || in.mnemonic() == ZYDIS_MNEMONIC_UD2 ||
        in.mnemonic() == ZYDIS_MNEMONIC_INT3)
      continue;
    live &= ~flags_written(in);
    if (cat == ZYDIS_CATEGORY_COND_BR || cat == ZYDIS_CATEGORY_UNCOND_BR) {
      const Operand &o = in.ops[0];
      if (o.type != ZYDIS_OPERAND_TYPE_IMMEDIATE || !o.relative)
        return "an indirect jump after the span" + where() + " may reach a read of " + names(live) +
               ", which a build with V' may leave undefined";
      // A target outside the function (a tail call) ends that path.
      if (!o.relocated)
        if (auto t = index_of(static_cast<int64_t>(in.offset + in.length) + o.value)) work.push_back({*t, live});
      if (cat == ZYDIS_CATEGORY_UNCOND_BR) continue;
    }
    work.push_back({i + 1, live});
  }
  return "";
}

// The instruction after the span is a branch target: other paths reach the
// update probe too. The update must then run only for a task that came
// through the span, so a probe at the span's start marks it, as a dual
// span's capture does (the runtime skips the update for unmarked tasks).
void mark_entry(CriticalSpan &cs) {
  if (cs.kind != SynthKind::Dual) {
    cs.kind = SynthKind::Dual;
    cs.capture = cs.start;
    auto &caps = cs.update["captures"];
    if (caps.empty()) caps.push_back(cs.defines.empty() || cs.defines[0] == "mem" ? "rax" : cs.defines[0]);
  }
  cs.notes.push_back("the instruction after the span is a branch target: the update runs only for tasks that "
                     "passed the span's start (marked there, like a capture)");
}

// Takes a synthesis into the span and proves it over the range of new
// values the seeds' operands can hold. False when nothing was synthesized.
bool synthesize_and_prove(CriticalSpan &cs, const Synthesis &syn, Region impl, Region spec,
                          const std::vector<SpanSeed> &seeds, unsigned timeout_ms, bool flags_live,
                          const RegionMatch *match = nullptr) {
  if (!syn.error.empty()) {
    cs.detail = syn.error;
    return false;
  }
  cs.kind = syn.kind;
  cs.update = syn.update;
  if (cs.kind == SynthKind::Dual) cs.capture = cs.start;
  ValueRange range = candidate_range(*spec.f, seeds);
  cs.v_min = range.lo;
  cs.v_max = range.hi;
  cs.range_basis = range.basis;
  cs.seeds = seeds;
  if (range.empty()) {
    cs.proof = ProofResult::Failed;
    cs.detail = "no new value keeps the operand's meaning: " + (range.basis.empty() ? "" : range.basis.back());
    return true;
  }
  auto [res, detail] = prove(impl, spec, seeds, cs.update, range.lo, range.hi, timeout_ms, flags_live, match);
  cs.proof = res;
  cs.detail = detail;
  // The proof leaves out flags a build with V' may leave undefined: sound
  // only while the code that follows never reads them.
  if (cs.proof == ProofResult::Proved && flags_live)
    if (auto why = reads_undefined_flag(*impl.f, impl.last, cs.undefined_flags); !why.empty()) {
      cs.proof = ProofResult::Failed;
      cs.detail = why;
    }
  return true;
}

}  // namespace

std::pair<ProofResult, std::string> prove_update(const DecodedFunction &f, size_t first, size_t last,
                                                 const std::vector<SpanSeed> &seeds, const nlohmann::json &update,
                                                 int64_t v_min, int64_t v_max, unsigned timeout_ms) {
  return prove({&f, first, last}, {&f, first, last}, seeds, update, v_min, v_max, timeout_ms);
}

std::optional<CriticalSpan> build_region_span(const DecodedFunction &orig, size_t ofirst, size_t olast,
                                              const DecodedFunction &test, size_t tfirst, size_t tlast,
                                              const std::vector<SpanSeed> &seeds, int64_t v0, std::string &why,
                                              unsigned timeout_ms) {
  if (olast + 1 >= orig.insns.size()) {
    why = "the region ends the function";
    return std::nullopt;
  }
  // Same state at V0, whatever the instructions and registers? The
  // compiler may schedule unrelated instructions into the shipped
  // computation (mov; mov $32; add for one imul), or its loads before it:
  // then the region grows over the neighbouring aligned pairs and the gaps
  // beyond them, up to four each way, smallest first.
  const FunctionPair fp = pair_functions(test, orig);
  const std::vector<long> &map = fp.map;
  auto is_branch = [](const Insn &in) {
    auto c = in.zi.meta.category;
    return c == ZYDIS_CATEGORY_COND_BR || c == ZYDIS_CATEGORY_UNCOND_BR || c == ZYDIS_CATEGORY_CALL ||
           c == ZYDIS_CATEGORY_RET;
  };
  auto straight = [&](const DecodedFunction &f, size_t a, size_t b) {
    for (size_t i = a; i <= b && i < f.insns.size(); ++i)
      if (is_branch(f.insns[i])) return false;
    return true;
  };
  std::vector<std::pair<size_t, size_t>> ends = {{tlast, olast}}, starts = {{tfirst, ofirst}};
  while (ends.size() < 5) {
    auto [t, o] = ends.back();
    size_t next = t + 2;  // past the aligned neighbour t + 1
    if (t + 1 >= test.insns.size() || map[t + 1] != static_cast<long>(o + 1)) break;
    while (next < test.insns.size() && map[next] < 0) ++next;
    if (next >= test.insns.size() || map[next] <= map[t + 1] || !straight(test, t + 1, next - 1) ||
        !straight(orig, o + 1, static_cast<size_t>(map[next] - 1)))
      break;
    ends.push_back({next - 1, static_cast<size_t>(map[next] - 1)});
  }
  while (starts.size() < 5) {
    auto [t, o] = starts.back();
    if (t < 1 || o < 1 || map[t - 1] != static_cast<long>(o - 1)) break;
    long prev = static_cast<long>(t) - 2;  // before the aligned neighbour t - 1
    while (prev >= 0 && map[prev] < 0) --prev;
    long oprev = prev < 0 ? -1 : map[prev];
    if (oprev >= static_cast<long>(o) - 1 || !straight(test, prev + 1, t - 1) || !straight(orig, oprev + 1, o - 1)) break;
    starts.push_back({static_cast<size_t>(prev + 1), static_cast<size_t>(oprev + 1)});
  }
  std::vector<std::pair<size_t, size_t>> tries;  // (start index, end index), smallest first
  for (size_t b = 0; b < starts.size(); ++b)
    for (size_t e = 0; e < ends.size(); ++e) tries.push_back({b, e});
  std::stable_sort(tries.begin(), tries.end(), [](auto &x, auto &y) { return x.first + x.second < y.first + y.second; });
  Result<RegionMatch> match = make_error("no region");
  for (auto [b, e] : tries) {
    auto [tf, of] = starts[b];
    auto [tl, ol] = ends[e];
    if (tl - tf >= 25 || ol + 1 - of > 25) continue;
    auto m = match_paired_region(fp, test, tf, tl, seeds, orig, of, ol, v0, timeout_ms);
    if (b == 0 && e == 0) match = m;  // the first region's reason, if none matches
    if (!m) continue;
    match = m;
    tfirst = tf, tlast = tl, ofirst = of, olast = ol;
    break;
  }
  if (!match) {
    why = "the original's instructions do not compute the test builds' expression at V=" + std::to_string(v0) +
          ": " + match.error().message;
    return std::nullopt;
  }
  bool flags_live = match->flags_live;
  z3::context c;
  SymState in = synthesis_state(c);
  z3::expr v = c.bv_const(UpdateVars::kValue, 64);
  SymState test_end = in, impl = in;
  auto st = run_span(test_end, test, tfirst, tlast, seeds, &v);
  if (st) st = run_span(impl, orig, ofirst, olast, {}, nullptr);
  if (!st) {
    why = st.error().message;
    return std::nullopt;
  }
  // The spec in the shipped code's registers; dead flags (a ret follows,
  // say) are the original's: lea+shl and imul set them differently.
  SymState spec = renamed_spec(test_end, impl, *match);
  std::set<size_t> targets;
  basic_blocks(orig, targets);
  CriticalSpan cs;
  cs.function = orig.name;
  cs.first = ofirst;
  cs.last = olast;
  cs.start = orig.insns[ofirst].offset;
  cs.end = orig.insns[olast].offset;
  cs.probe = orig.insns[olast + 1].offset;
  cs.spec_region = {tfirst, tlast};
  cs.defines = v_dependent(spec);
  for (int fl = 0; fl < kFlagCount; ++fl)
    if (depends_on_undefined(spec.flag[fl])) cs.undefined_flags.push_back(flag_name(Flag(fl)));
  cs.tunes_t = std::any_of(seeds.begin(), seeds.end(), [](auto &g) { return !g.relation.linear; });
  cs.notes.push_back("matched by its symbolic state expression: the shipped code computes it with other "
                     "instructions than the test builds (" + orig.insns[ofirst].text + " …)");

  for (size_t i = ofirst + 1; i <= olast + 1 && i < orig.insns.size(); ++i)
    if (targets.count(i) && i <= olast) {
      cs.detail = "a branch enters the middle of the span";
      return cs;
    }
  if (orig.insns[olast + 1].zi.meta.category == ZYDIS_CATEGORY_COND_BR)
    cs.notes.push_back("the update probe sits on a conditional jump, which kprobes cannot jump-optimize (Appendix B)");
  for (auto [r, t] : match->rename)
    if (r != t)
      cs.notes.push_back(std::string("the test builds hold the value in ") + gpr_name(r) + ", the shipped code in " +
                         gpr_name(t) + " (registers renamed)");
  synthesize_and_prove(cs, synthesize(orig, ofirst, olast, seeds, c, in, spec, impl, {}, flags_live), {&orig, ofirst, olast},
                       {&test, tfirst, tlast}, seeds, timeout_ms, flags_live, &*match);
  if (targets.count(olast + 1)) mark_entry(cs);
  if (!flags_live) cs.notes.push_back("flags are dead after the span: not part of its state");
  return cs;
}

std::vector<CriticalSpan> build_critical_spans(const DecodedFunction &f, std::vector<SpanSeed> seeds,
                                               const std::vector<TestBuild> &tests,
                                               unsigned timeout_ms) {
  std::vector<CriticalSpan> out;
  std::sort(seeds.begin(), seeds.end(), [](auto &a, auto &b) { return a.insn < b.insn; });
  std::set<size_t> targets;
  std::vector<size_t> bb = basic_blocks(f, targets);

  size_t i = 0;
  while (i < seeds.size()) {
    z3::context c;
    SymState in = synthesis_state(c);
    SymState s = in;
    z3::expr v = c.bv_const(UpdateVars::kValue, 64);
    size_t first = seeds[i].insn, last = first;
    std::vector<SpanSeed> group = {seeds[i]};
    CriticalSpan cs;
    cs.function = f.name;
    Status ran = run_span(s, f, first, first, seeds, &v);
    size_t j = i + 1;
    // Same instruction, another operand: already executed.
    while (j < seeds.size() && seeds[j].insn == first) group.push_back(seeds[j++]);
    // Extend over later seeds of the block while nothing between consumes V.
    while (ran && j < seeds.size() && bb[seeds[j].insn] == bb[first]) {
      SymState t = s;
      bool ok = true;
      for (size_t x = last + 1; x < seeds[j].insn && ok; ++x) {
        SymState before = t;
        auto r = lift(t, f.insns[x], f.insns[x].offset);
        ok = r && *r == LiftEnd::Continue && !consumes(before, t);
      }
      if (!ok) break;
      size_t next = seeds[j].insn;
      std::vector<SpanSeed> more;
      while (j < seeds.size() && seeds[j].insn == next) more.push_back(seeds[j++]);
      std::vector<SpanSeed> all = group;
      all.insert(all.end(), more.begin(), more.end());
      if (!run_span(t, f, next, next, all, &v)) break;
      s = t;
      group = all;
      last = next;
    }
    i = j;

    cs.first = first;
    cs.last = last;
    cs.start = f.insns[first].offset;
    cs.end = f.insns[last].offset;
    cs.tunes_t = std::any_of(group.begin(), group.end(), [](auto &g) { return !g.relation.linear; });
    if (!ran) {
      cs.detail = ran.error().message;
      out.push_back(cs);
      continue;
    }
    cs.defines = v_dependent(s);
    for (int fl = 0; fl < kFlagCount; ++fl)
      if (depends_on_undefined(s.flag[fl])) cs.undefined_flags.push_back(flag_name(Flag(fl)));
    for (int r = 0; r < 16; ++r)
      if (has_v(s.gpr[r])) cs.expression += std::string(gpr_name(r)) + " = " + s.gpr[r].simplify().to_string() + "; ";
    for (int fl = 0; fl < kFlagCount; ++fl)
      if (has_v(s.flag[fl]) && !depends_on_undefined(s.flag[fl]))
        cs.expression += std::string(flag_name(Flag(fl))) + " = " + s.flag[fl].simplify().to_string() + "; ";
    if (cs.expression.size() > 600) cs.expression = cs.expression.substr(0, 600) + "…";

    // Probe placement (paper §4): a pre-handler on the instruction after the span.
    if (last + 1 >= f.insns.size()) {
      cs.detail = "the span ends the function: no instruction to probe after it";
      out.push_back(cs);
      continue;
    }
    cs.probe = f.insns[last + 1].offset;
    bool join = targets.count(last + 1) > 0;
    if (f.insns[last + 1].zi.meta.category == ZYDIS_CATEGORY_COND_BR)
      cs.notes.push_back("the update probe sits on a conditional jump, which kprobes cannot jump-optimize (Appendix B)");

    if (!synthesize_and_prove(cs, synthesize(f, first, last, group, c, in, s, s), {&f, first, last},
                              {&f, first, last}, group, timeout_ms, true)) {
      out.push_back(cs);
      continue;
    }
    if (join) mark_entry(cs);
    // Linear seeds only: a non-linear T has no V to instantiate.
    if (!cs.tunes_t)
      for (auto &t : tests) {
        std::string verdict = same_expression(f, first, last, group, *t.function, t.value, timeout_ms);
        cs.cross_builds.push_back({t.value, verdict});
        if (verdict == "differs" && cs.proof == ProofResult::Proved) {
          cs.proof = ProofResult::Failed;
          cs.detail = "the span's symbolic state expression at V=" + std::to_string(t.value) +
                      " differs from what the compiler generated for that value";
        }
      }
    out.push_back(cs);
  }
  return out;
}

}  // namespace kx
