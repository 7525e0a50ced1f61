#include "seeds/seeds.h"

#include <cstdio>
#include <set>

#include "seeds/function_diff.h"
#include "seeds/layout_check.h"

namespace kx {

namespace {

std::string where(const std::string &fn, uint64_t off) {
  char buf[32];
  snprintf(buf, sizeof buf, "+0x%llx", static_cast<unsigned long long>(off));
  return fn + buf;
}

// A changed displacement of a real memory access (not lea) or a change to the
// stack pointer's arithmetic means the constant sizes or places memory.
std::optional<std::string> layout_use(const DecodedFunction &f, const ValueChange &c) {
  const Insn &in = f.insns[c.insn];
  const Operand &o = in.ops[c.operand];
  if (o.type == ZYDIS_OPERAND_TYPE_MEMORY && in.mnemonic() != ZYDIS_MNEMONIC_LEA)
    return "a memory offset in " + where(f.name, in.offset) + " (" + in.text +
           ") changes with the constant (struct member offset or array size)";
  if (in.zi.operand_count_visible >= 1 && in.zops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
      in.zops[0].reg.value == ZYDIS_REGISTER_RSP)
    return "the stack frame size changes in " + where(f.name, in.offset) + " (" + in.text + ")";
  return std::nullopt;
}

}  // namespace

Result<ObjectSeeds> find_object_seeds(const std::string &object, const std::filesystem::path &original,
                                      const std::vector<Variant> &variants, std::optional<int64_t> v0) {
  if (variants.size() < 2) return make_error("seeds need at least two test builds");
  KX_ASSIGN(orig_elf, ElfFile::open(original));
  std::vector<ElfFile> velf;
  for (auto &v : variants) {
    KX_ASSIGN(e, ElfFile::open(v.object));
    velf.push_back(std::move(e));
  }
  ObjectSeeds out;
  out.layout = layout_changes(velf[0], velf[1]);

  KX_ASSIGN(orig, decode_functions(orig_elf));
  std::vector<std::map<std::string, DecodedFunction>> vf;
  for (auto &e : velf) {
    KX_ASSIGN(f, decode_functions(e));
    vf.push_back(std::move(f));
  }
  // Partners of each function of the first test build in the others.
  std::vector<std::map<std::string, std::string>> partner(vf.size());
  for (size_t j = 1; j < vf.size(); ++j)
    for (auto &[a, b] : match_functions(vf[0], vf[j])) partner[j][a] = b;
  std::map<std::string, std::string> orig_partner;
  for (auto &[a, b] : match_functions(vf[0], orig)) orig_partner[a] = b;

  // Functions are keyed by their name in the first test build.
  for (auto &[name, first] : vf[0]) {
    std::vector<const DecodedFunction *> fn(vf.size(), nullptr);
    fn[0] = &first;
    for (size_t j = 1; j < vf.size(); ++j)
      if (auto p = partner[j].find(name); p != partner[j].end()) fn[j] = &vf[j].at(p->second);
    // A value can make the compiler pick another encoding (add $0x40 vs
    // sub $-0x80): take as reference the test build that agrees, values
    // aside, with the most others, and fit over that group.
    size_t base = 0;
    std::vector<size_t> same_code;
    std::set<std::pair<size_t, size_t>> changed;
    bool any_structural = false;
    for (size_t b = 0; b < fn.size(); ++b) {
      if (!fn[b]) continue;
      std::vector<size_t> group = {b};
      std::set<std::pair<size_t, size_t>> ch;
      for (size_t j = 0; j < fn.size(); ++j) {
        if (j == b) continue;
        if (!fn[j]) {
          any_structural = true;
          continue;
        }
        FunctionDiff d = diff_functions(*fn[b], *fn[j]);
        if (d.kind == DiffKind::Structural) {
          any_structural = true;
          continue;
        }
        group.push_back(j);
        for (auto &c : d.changes) ch.insert({c.insn, c.operand});
      }
      if (group.size() > same_code.size() || (group.size() == same_code.size() && ch.size() > changed.size())) {
        base = b;
        same_code = group;
        changed = ch;
      }
    }
    if (changed.empty()) {
      // No value moved; a structural change with none that is value-only
      // means the compiler reshaped this code: no seed can capture it.
      if (any_structural) out.structural.push_back(name);
      continue;
    }
    ++out.functions_changed;
    const DecodedFunction &f0 = *fn[base];

    const DecodedFunction *of = nullptr;
    std::vector<long> to_orig;
    if (auto op = orig_partner.find(name); op != orig_partner.end() && orig.count(op->second)) {
      of = &orig.at(op->second);
      FunctionDiff d = diff_functions(f0, *of);
      if (d.kind != DiffKind::Structural) {
        to_orig.resize(f0.insns.size());
        for (size_t i = 0; i < to_orig.size(); ++i) to_orig[i] = static_cast<long>(i);
      } else {
        to_orig = align_functions(f0, *of);
      }
    }
    for (auto [i, k] : changed) {
      ValueChange c{i, k};
      if (auto why = layout_use(f0, c)) {
        out.layout.push_back(*why);
        continue;
      }
      std::vector<std::pair<int64_t, int64_t>> samples;
      for (size_t j : same_code) {
        const Operand &o = fn[j]->insns[i].ops[k];
        samples.push_back({variants[j].value, sign_extend(o.value, o.size)});
      }
      Seed s;
      s.object = object;
      s.operand = k;
      s.relation = fit_relation(samples);
      if (!of || to_orig[i] < 0) {
        out.unmapped.push_back(where(name, f0.insns[i].offset) + " (" + f0.insns[i].text +
                               "): no partner in the original build");
        continue;
      }
      const Insn &oi = of->insns[to_orig[i]];
      if (k >= oi.ops.size() || !oi.ops[k].has_value) {
        out.unmapped.push_back(where(name, f0.insns[i].offset) + ": the original instruction " + oi.text +
                               " has no value there");
        continue;
      }
      s.function = of->name;
      s.offset = oi.offset;
      s.insn = oi.text;
      s.original_t = sign_extend(oi.ops[k].value, oi.ops[k].size);
      s.renamed = oi.shape_with_registers() != f0.insns[i].shape_with_registers();
      if (v0 && s.relation.linear && *s.relation.apply(*v0) != s.original_t) {
        out.unmapped.push_back(where(of->name, oi.offset) + " (" + oi.text + "): holds " +
                               std::to_string(s.original_t) + ", but " + s.relation.describe() + " gives " +
                               std::to_string(*s.relation.apply(*v0)) + " at V=" + std::to_string(*v0));
        continue;
      }
      out.seeds.push_back(std::move(s));
    }
  }
  return out;
}

}  // namespace kx
