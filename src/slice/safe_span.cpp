#include "slice/safe_span.h"

#include "symbolic/liveness.h"

#include "util/hex.h"

#include <algorithm>
#include <unordered_map>
#include <cstdio>
#include <map>
#include <set>

#include "symbolic/sym_state.h"

namespace kx {

namespace {

constexpr int kMaxCalleeDepth = 3, kMaxCallers = 16;
constexpr size_t kBudget = 20000;

// Locations: GPRs 0..15, flags 16..21, stack slots 1<<40 + entry-relative offset.
using Loc = int64_t;
constexpr Loc kFlagBase = 16, kSlotBase = int64_t(1) << 40;
Loc slot(int64_t off) { return kSlotBase + off; }
const int kArgRegs[] = {7, 6, 2, 1, 8, 9};  // rdi rsi rdx rcx r8 r9
const int kCallerSaved[] = {0, 1, 2, 6, 7, 8, 9, 10, 11};

int gpr_of(ZydisRegister r) {
  auto s = gpr_slice(r);
  return s ? s->index : -1;
}

bool is_return(const Insn &in, uint64_t addr, KernelCode &code) {
  if (in.zi.meta.category == ZYDIS_CATEGORY_RET) return true;
  // Return thunks: `jmp __x86_return_thunk`.
  if (in.mnemonic() == ZYDIS_MNEMONIC_JMP)
    if (auto t = branch_target(in, addr)) return code.name_at(*t) == "__x86_return_thunk";
  return false;
}

// Index of the instruction at `addr`, or -1.
// Instructions are in address order: a binary search (functions reach thousands of instructions).
long index_at(const KernelFunction &f, uint64_t addr) {
  if (addr < f.address) return -1;
  uint64_t off = addr - f.address;
  auto it = std::lower_bound(f.insns.begin(), f.insns.end(), off,
                             [](const Insn &in, uint64_t o) { return in.offset < o; });
  return it != f.insns.end() && it->offset == off ? static_cast<long>(it - f.insns.begin()) : -1;
}

// Stack pointer offsets from the function's entry, per instruction (nullopt: unknown).
std::vector<std::optional<int64_t>> stack_deltas(const KernelFunction &f) {
  std::vector<std::optional<int64_t>> d(f.insns.size());
  if (d.empty()) return d;
  std::vector<size_t> work = {0};
  std::vector<char> seen(f.insns.size(), 0);
  d[0] = 0;
  seen[0] = 1;
  auto index_of = [&](uint64_t addr) { return index_at(f, addr); };
  while (!work.empty()) {
    size_t i = work.back();
    work.pop_back();
    const Insn &in = f.insns[i];
    std::optional<int64_t> after = d[i];
    const auto &z = in.zops;
    switch (in.mnemonic()) {
      case ZYDIS_MNEMONIC_PUSH: if (after) *after -= 8; break;
      case ZYDIS_MNEMONIC_POP: if (after) *after += 8; break;
      case ZYDIS_MNEMONIC_SUB:
      case ZYDIS_MNEMONIC_ADD:
        if (z[0].type == ZYDIS_OPERAND_TYPE_REGISTER && z[0].reg.value == ZYDIS_REGISTER_RSP) {
          if (z[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && after)
            *after += (in.mnemonic() == ZYDIS_MNEMONIC_SUB ? -1 : 1) * z[1].imm.value.s;
          else after.reset();
        }
        break;
      default:
        for (uint8_t k = 0; k < in.zi.operand_count; ++k)
          if (z[k].type == ZYDIS_OPERAND_TYPE_REGISTER && z[k].reg.value == ZYDIS_REGISTER_RSP &&
              (z[k].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) && in.zi.meta.category != ZYDIS_CATEGORY_CALL &&
              in.zi.meta.category != ZYDIS_CATEGORY_RET)
            after.reset();  // leave, mov %rbp,%rsp, and $-16,%rsp: stop tracking
    }
    std::vector<size_t> succ;
    auto cat = in.zi.meta.category;
    if (cat != ZYDIS_CATEGORY_RET && cat != ZYDIS_CATEGORY_UNCOND_BR && i + 1 < f.insns.size()) succ.push_back(i + 1);
    if (cat == ZYDIS_CATEGORY_COND_BR || cat == ZYDIS_CATEGORY_UNCOND_BR)
      if (auto t = branch_target(in, f.address + in.offset); t)
        if (long k = index_of(*t); k >= 0) succ.push_back(k);
    // Each instruction's offset only moves from unseen to a value to unknown
    // (paths disagree), so the walk ends (an unknown offset once looped forever).
    for (size_t s : succ) {
      if (!seen[s]) {
        seen[s] = 1;
        d[s] = after;
        work.push_back(s);
      } else if (d[s] && d[s] != after) {
        d[s].reset();
        work.push_back(s);
      }
    }
  }
  return d;
}

struct Access {
  std::set<Loc> reads, writes;
  bool heap_store = false;
};

Access accesses(const Insn &in, const std::optional<int64_t> &delta) {
  Access a;
  const auto &z = in.zops;
  const bool zeroes = zero_idiom(in);
  for (uint8_t k = 0; k < in.zi.operand_count; ++k) {
    const auto &o = z[k];
    if (o.type == ZYDIS_OPERAND_TYPE_REGISTER) {
      int r = gpr_of(o.reg.value);
      if (r < 0) continue;
      if ((o.actions & ZYDIS_OPERAND_ACTION_MASK_READ) && !zeroes) a.reads.insert(r);
      if (o.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) {
        a.writes.insert(r);
        // A partial (8/16-bit) write keeps the rest of the register.
        unsigned w = ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, o.reg.value);
        if (w < 32) a.reads.insert(r);
      }
    } else if (o.type == ZYDIS_OPERAND_TYPE_MEMORY) {
      int base = gpr_of(o.mem.base), index = gpr_of(o.mem.index);
      if (base >= 0) a.reads.insert(base);
      if (index >= 0) a.reads.insert(index);
      if (in.mnemonic() == ZYDIS_MNEMONIC_LEA || o.mem.type == ZYDIS_MEMOP_TYPE_AGEN) continue;
      bool stack = o.mem.base == ZYDIS_REGISTER_RSP && o.mem.index == ZYDIS_REGISTER_NONE && delta;
      if (stack) {
        Loc s = slot(*delta + o.mem.disp.value);
        if (o.actions & ZYDIS_OPERAND_ACTION_MASK_READ) a.reads.insert(s);
        if (o.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) a.writes.insert(s);
      } else if (o.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) {
        a.heap_store = true;
      }
    }
  }
  if (in.zi.cpu_flags) {
    static const std::pair<uint32_t, int> bits[] = {{ZYDIS_CPUFLAG_CF, CF}, {ZYDIS_CPUFLAG_PF, PF}, {ZYDIS_CPUFLAG_AF, AF},
                                                    {ZYDIS_CPUFLAG_ZF, ZF}, {ZYDIS_CPUFLAG_SF, SF}, {ZYDIS_CPUFLAG_OF, OF}};
    const auto *cf = in.zi.cpu_flags;
    for (auto [bit, f] : bits) {
      if (cf->tested & bit) a.reads.insert(kFlagBase + f);
      if ((cf->modified | cf->set_0 | cf->set_1 | cf->undefined) & bit) a.writes.insert(kFlagBase + f);
    }
  }
  return a;
}

// One function's slice from a starting instruction with some locations tainted.
struct FrameResult {
  std::set<size_t> live;          // instructions with a derived value in flight
  std::vector<size_t> exits;      // first instructions where nothing is in flight any more
  std::vector<size_t> returns;    // returns reached with something in flight
  bool returns_value = false;     // rax derived at a return
};

class Slicer {
 public:
  explicit Slicer(KernelCode &code) : code_(code) {}
  // Stack offsets per function, computed once: callers and callees recur.
  std::unordered_map<uint64_t, std::vector<std::optional<int64_t>>> deltas_;
  SafeSpan span;
  size_t budget = kBudget;

  FrameResult frame(const KernelFunction &f, size_t start, std::set<Loc> taint, int depth) {
    FrameResult r;
    auto [cached, fresh_fn] = deltas_.try_emplace(f.address);
    if (fresh_fn) cached->second = stack_deltas(f);
    const auto &deltas = cached->second;
    std::map<size_t, std::set<Loc>> in;
    std::vector<size_t> work = {start};
    in[start] = taint;
    std::set<size_t> exit_set;
    auto index_of = [&](uint64_t addr) { return index_at(f, addr); };
    while (!work.empty()) {
      size_t i = work.back();
      work.pop_back();
      if (budget == 0) {
        widen(f, "the slice exceeded " + std::to_string(kBudget) + " instructions");
        break;
      }
      --budget;
      const std::set<Loc> cur = in[i];
      if (cur.empty()) continue;
      r.live.insert(i);
      const Insn &insn = f.insns[i];
      uint64_t addr = f.address + insn.offset;
      Access acc = accesses(insn, deltas[i]);
      bool consumes = std::any_of(acc.reads.begin(), acc.reads.end(), [&](Loc l) { return cur.count(l); });
      std::set<Loc> out = cur;
      for (Loc w : acc.writes) out.erase(w);
      if (consumes) {
        out.insert(acc.writes.begin(), acc.writes.end());
        if (acc.heap_store) span.escapes.push_back(f.name + "+" + hex(insn.offset) + ": " + insn.text);
      }
      auto cat = insn.zi.meta.category;
      if (cat == ZYDIS_CATEGORY_CALL) out = call(f, insn, addr, cur, out, depth);
      if (is_return(insn, addr, code_)) {
        r.returns.push_back(i);
        if (cur.count(0)) r.returns_value = true;
        continue;
      }
      std::vector<size_t> succ;
      if (cat != ZYDIS_CATEGORY_UNCOND_BR && i + 1 < f.insns.size()) succ.push_back(i + 1);
      if (cat == ZYDIS_CATEGORY_COND_BR || cat == ZYDIS_CATEGORY_UNCOND_BR) {
        auto t = branch_target(insn, addr);
        long k = t ? index_of(*t) : -1;
        if (k >= 0) succ.push_back(k);
        else if (!t) widen(f, "an indirect jump at " + f.name + "+" + hex(insn.offset));
        else if (t && cat == ZYDIS_CATEGORY_UNCOND_BR) {  // tail call
          out = call(f, insn, addr, cur, out, depth);
          r.returns.push_back(i);
          if (out.count(0)) r.returns_value = true;
          continue;
        }
      }
      for (size_t s : succ) {
        if (out.empty()) {
          exit_set.insert(s);
          continue;
        }
        bool fresh = !in.count(s);
        auto &dst = in[s];
        size_t before = dst.size();
        dst.insert(out.begin(), out.end());
        if (fresh || dst.size() != before) work.push_back(s);
      }
    }
    for (size_t e : exit_set)
      if (!r.live.count(e)) r.exits.push_back(e);
    return r;
  }

  // After a call: what the callee does with derived arguments, and the
  // caller-saved registers and flags it clobbers.
  std::set<Loc> call(const KernelFunction &f, const Insn &insn, uint64_t addr, const std::set<Loc> &cur,
                     std::set<Loc> out, int depth) {
    // `call __fentry__` is patched to a NOP at boot (ftrace): no call at all.
    if (auto t = branch_target(insn, addr); t && code_.name_at(*t) == "__fentry__") return out;
    std::set<Loc> args;
    for (int r : kArgRegs)
      if (cur.count(r)) args.insert(r);
    for (int r : kCallerSaved) out.erase(r);
    for (int fl = 0; fl < kFlagCount; ++fl) out.erase(kFlagBase + fl);
    if (args.empty()) return out;
    auto t = branch_target(insn, addr);
    std::string target = t ? code_.name_at(*t) : "";
    if (t && target.empty()) target = hex(*t);
    if (!t || target.rfind("__x86_indirect_thunk", 0) == 0 || target.rfind("__SCT__", 0) == 0) {
      widen(f, "a derived value is passed to an indirect call at " + f.name + "+" + hex(insn.offset));
      return out;
    }
    if (depth >= kMaxCalleeDepth) {
      widen(f, "calls nest deeper than " + std::to_string(kMaxCalleeDepth) + " at " + target);
      return out;
    }
    const KernelFunction *callee = code_.function_at(*t);
    if (!callee) return out;
    FrameResult cr = frame(*callee, 0, args, depth + 1);
    add_ranges(*callee, cr.live);
    if (std::find(span.callees.begin(), span.callees.end(), callee->name) == span.callees.end())
      span.callees.push_back(callee->name);
    if (cr.returns_value) out.insert(0);
    return out;
  }

  void add_ranges(const KernelFunction &f, const std::set<size_t> &live) {
    for (size_t i : live) span.members[f.address + f.insns[i].offset] = {f.name, f.insns[i].length};
  }

  void widen(const KernelFunction &f, const std::string &why) {
    if (!span.conservative) span.conservative_reason = why;
    span.conservative = true;
    widened_.insert(f.address);
  }

  std::set<uint64_t> widened_;
  KernelCode &code_;
};

Loc loc_of(const std::string &name) {
  for (int r = 0; r < 16; ++r)
    if (name == gpr_name(r)) return r;
  for (int f = 0; f < kFlagCount; ++f)
    if (name == flag_name(Flag(f))) return kFlagBase + f;
  return -1;
}

// Where a kprobe cannot go (kprobes' own blacklist rules, arch/x86 and
// kernel/kprobes.c): sections that run without instrumentation or are gone
// after boot.
std::optional<std::string> unprobeable(const KernelFunction &f) {
  for (const char *s : {".noinstr.text", ".entry.text", ".kprobes.text", ".init.text", ".exit.text", ".cpuidle.text"})
    if (f.section == s) return "in " + f.section + ", where kprobes are not allowed";
  return std::nullopt;
}

void plan_probes(SafeSpan &ss, const KernelFunction &f, const std::vector<uint64_t> &returns) {
  auto add = [&](uint64_t addr, const std::string &kind) {
    ProbePoint p{addr, kind, true, "", std::nullopt};
    if (auto why = unprobeable(f)) {
      p.probeable = false;
      p.why_not = *why;
    }
    ss.probes.push_back(p);
  };
  add(ss.entry, "entry");
  for (uint64_t e : ss.exits)
    add(e, std::find(returns.begin(), returns.end(), e) != returns.end() ? "return" : "exit");
}

// Ranges and size from the member instructions.
void finalize(SafeSpan &ss) {
  ss.ranges.clear();
  ss.size_insns = ss.members.size();
  for (auto it = ss.members.begin(); it != ss.members.end();) {
    Range r{it->second.first, it->first, it->first + it->second.second};
    for (++it; it != ss.members.end() && it->first == r.end && it->second.first == r.function; ++it)
      r.end = it->first + it->second.second;
    ss.ranges.push_back(r);
  }
}

}  // namespace

std::vector<SafeSpan> build_safe_spans(KernelCode &code, const std::vector<SpanStart> &starts) {
  std::vector<SafeSpan> out;
  for (size_t n = 0; n < starts.size(); ++n) {
    const SpanStart &st = starts[n];
    const KernelFunction *f = code.function_at(st.function);
    if (!f || st.last >= f->insns.size()) continue;
    Slicer s(code);
    s.span.function = f->name;
    s.span.entry = f->address + f->insns[st.first].offset;
    s.span.merged_from = {n};
    std::set<Loc> taint;
    for (auto &d : st.defines) {
      if (d == "mem") s.span.escapes.push_back(f->name + "+" + hex(f->insns[st.last].offset) + ": the span stores the value");
      else if (loc_of(d) >= 0) taint.insert(loc_of(d));
    }
    std::set<size_t> live;
    for (size_t i = st.first; i <= st.last; ++i) live.insert(i);
    FrameResult top;
    if (!taint.empty() && st.last + 1 < f->insns.size()) {
      top = s.frame(*f, st.last + 1, taint, 0);
      live.insert(top.live.begin(), top.live.end());
    } else if (st.last + 1 < f->insns.size()) {
      top.exits.push_back(st.last + 1);
    }
    if (s.widened_.count(f->address)) {
      // The fallback: the whole function, left only by its returns and
      // tail calls (jumps out of it), wherever the slice stopped.
      live.clear();
      for (size_t i = 0; i < f->insns.size(); ++i) live.insert(i);
      top.exits.clear();
      top.returns.clear();
      for (size_t i = 0; i < f->insns.size(); ++i) {
        const Insn &in = f->insns[i];
        uint64_t a = f->address + in.offset;
        auto t = in.zi.meta.category == ZYDIS_CATEGORY_UNCOND_BR ? branch_target(in, a) : std::nullopt;
        if (is_return(in, a, code) || (t && index_at(*f, *t) < 0)) top.returns.push_back(i);
      }
    }
    s.add_ranges(*f, live);
    std::vector<uint64_t> returns;
    for (size_t e : top.exits) s.span.exits.push_back(f->address + f->insns[e].offset);
    for (size_t r : top.returns) {
      s.span.exits.push_back(f->address + f->insns[r].offset);
      returns.push_back(f->address + f->insns[r].offset);
    }
    // A derived value returned: follow it into the callers.
    if (top.returns_value) {
      const auto &sites = code.callers_of(f->address);
      if (sites.size() > static_cast<size_t>(kMaxCallers)) {
        s.span.conservative = true;
        s.span.conservative_reason = f->name + " returns a derived value to " + std::to_string(sites.size()) +
                                     " call sites (more than " + std::to_string(kMaxCallers) + ")";
      }
      for (size_t k = 0; k < sites.size() && k < static_cast<size_t>(kMaxCallers); ++k) {
        const KernelFunction *caller = code.function_at(sites[k]);
        if (!caller) continue;
        for (size_t i = 0; i + 1 < caller->insns.size(); ++i)
          if (caller->address + caller->insns[i].offset == sites[k]) {
            FrameResult cr = s.frame(*caller, i + 1, {0}, 1);
            s.add_ranges(*caller, cr.live);
            s.span.callers.push_back(caller->name);
          }
      }
    }
    plan_probes(s.span, *f, returns);
    finalize(s.span);
    out.push_back(std::move(s.span));
  }

  // Merge spans of the same function that share an instruction.
  std::vector<SafeSpan> merged;
  for (auto &ss : out) {
    auto overlaps = [&](const SafeSpan &m) {
      if (m.function != ss.function) return false;
      for (auto &a : m.ranges)
        for (auto &b : ss.ranges)
              if (a.function == b.function && a.start < b.end && b.start < a.end) return true;
      return false;
    };
    auto it = std::find_if(merged.begin(), merged.end(), overlaps);
    if (it == merged.end()) {
      merged.push_back(ss);
      continue;
    }
    SafeSpan &m = *it;
    m.entry = std::min(m.entry, ss.entry);
    m.members.insert(ss.members.begin(), ss.members.end());
    for (auto e : ss.exits)
      if (std::find(m.exits.begin(), m.exits.end(), e) == m.exits.end()) m.exits.push_back(e);
    for (auto &c : ss.callees)
      if (std::find(m.callees.begin(), m.callees.end(), c) == m.callees.end()) m.callees.push_back(c);
    for (auto &c : ss.callers) m.callers.push_back(c);
    m.merged_from.insert(m.merged_from.end(), ss.merged_from.begin(), ss.merged_from.end());
    m.escapes.insert(m.escapes.end(), ss.escapes.begin(), ss.escapes.end());
    m.conservative = m.conservative || ss.conservative;
    if (m.conservative_reason.empty()) m.conservative_reason = ss.conservative_reason;
    for (auto &p : ss.probes)
      if (p.kind != "entry") m.probes.push_back(p);
  }
  for (auto &m : merged) {
    // After a merge, one span's exit may lie inside the other: no exit then.
    // (A return stays: its probe sits on the ret, which is a member.)
    auto inside = [&](uint64_t a, const std::string &kind) { return kind == "exit" && m.members.count(a); };
    std::erase_if(m.probes, [&](const ProbePoint &p) { return inside(p.address, p.kind); });
    std::erase_if(m.exits, [&](uint64_t e) {
      return std::none_of(m.probes.begin(), m.probes.end(), [&](const ProbePoint &p) { return p.address == e; });
    });
    finalize(m);
  }
  return merged;
}

}  // namespace kx
