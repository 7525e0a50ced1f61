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

// Files an unmapped seed under the region between its nearest aligned
// neighbours (same basic block, no branch, at most 24 instructions a side).
void add_to_region(ObjectSeeds &out, const DecodedFunction &test, const DecodedFunction &orig,
                   const std::vector<long> &to_orig, size_t i, size_t k, const Relation &rel, int64_t value,
                   bool base_is_test, const std::string &msg) {
  if (!base_is_test) return;  // the reference build is the original itself
  auto branchy = [](const Insn &in) {
    auto c = in.zi.meta.category;
    return c == ZYDIS_CATEGORY_COND_BR || c == ZYDIS_CATEGORY_UNCOND_BR || c == ZYDIS_CATEGORY_CALL ||
           c == ZYDIS_CATEGORY_RET;
  };
  long a = static_cast<long>(i) - 1, b = static_cast<long>(i) + 1;
  while (a >= 0 && to_orig[a] < 0 && !branchy(test.insns[a])) --a;
  while (b < static_cast<long>(to_orig.size()) && to_orig[b] < 0 && !branchy(test.insns[b])) ++b;
  // The function's start is an anchor too (-1 in both builds).
  if (b >= static_cast<long>(to_orig.size()) || to_orig[b] < 0 || (a >= 0 && to_orig[a] < 0)) return;
  long oa = a < 0 ? -1 : to_orig[a], ob = to_orig[b];
  if (ob - oa < 2 || ob - oa > 25 || b - a > 25) return;  // empty or too large
  for (long x = oa + 1; x < ob; ++x)
    if (branchy(orig.insns[x])) return;
  for (auto &r : out.regions)
    if (r.test_function == test.name && r.test_first == static_cast<size_t>(a + 1)) {
      r.seeds.push_back({i, k, rel});
      r.unmapped.push_back(msg);
      return;
    }
  out.regions.push_back({orig.name, test.name, value, static_cast<size_t>(a + 1), static_cast<size_t>(b - 1),
                         static_cast<size_t>(oa + 1), static_cast<size_t>(ob - 1), {{i, k, rel}}, {msg}});
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

  // Builds: the test builds, then the original (a sample too when V is known).
  std::vector<std::map<std::string, DecodedFunction>> builds;
  std::vector<int64_t> values;
  for (size_t j = 0; j < velf.size(); ++j) {
    KX_ASSIGN(f, decode_functions(velf[j]));
    builds.push_back(std::move(f));
    values.push_back(variants[j].value);
  }
  KX_ASSIGN(orig, decode_functions(orig_elf));
  const size_t orig_index = builds.size();
  builds.push_back(orig);
  values.push_back(v0.value_or(0));
  const bool orig_is_sample = v0.has_value();

  // Partners of each function of the first test build in every other build.
  std::vector<std::map<std::string, std::string>> partner(builds.size());
  for (size_t j = 1; j < builds.size(); ++j)
    for (auto &[a, b] : match_functions(builds[0], builds[j])) partner[j][a] = b;

  for (auto &[name, first] : builds[0]) {
    std::vector<const DecodedFunction *> fn(builds.size(), nullptr);
    fn[0] = &first;
    for (size_t j = 1; j < builds.size(); ++j)
      if (auto p = partner[j].find(name); p != partner[j].end()) fn[j] = &builds[j].at(p->second);
    // Take as reference the build that agrees, values aside, with the most
    // others, and fit over that group.
    size_t base = 0;
    std::vector<size_t> group;
    std::set<std::pair<size_t, size_t>> changed;
    bool any_structural = false;
    for (size_t b = 0; b < fn.size(); ++b) {
      if (!fn[b] || (b == orig_index && !orig_is_sample)) continue;
      std::vector<size_t> g = {b};
      std::set<std::pair<size_t, size_t>> ch;
      for (size_t j = 0; j < fn.size(); ++j) {
        if (j == b || (j == orig_index && !orig_is_sample)) continue;
        if (!fn[j]) {
          any_structural = true;
          continue;
        }
        FunctionDiff d = diff_functions(*fn[b], *fn[j]);
        if (d.kind == DiffKind::Structural) {
          any_structural = true;
          continue;
        }
        g.push_back(j);
        for (auto &c : d.changes) ch.insert({c.insn, c.operand});
      }
      if (g.size() > group.size() || (g.size() == group.size() && ch.size() > changed.size())) {
        base = b;
        group = g;
        changed = ch;
      }
    }
    if (changed.empty()) {
      // No value moved; a structural change with none that is value-only
      // means the compiler reshaped this code: no seed can capture it.
      if (any_structural) {
        out.structural.push_back(name);
        out.wants_more_values = true;
      }
      continue;
    }
    ++out.functions_changed;
    if (group.size() < 3) out.wants_more_values = true;
    const DecodedFunction &f0 = *fn[base];

    // The original's instruction for each of f0's: the same index when the
    // original agrees with f0 values aside, else by alignment.
    const DecodedFunction *of = fn[orig_index];
    std::vector<long> to_orig;
    if (of) {
      if (diff_functions(f0, *of).kind != DiffKind::Structural) {
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
      for (size_t j : group) {
        const Operand &o = fn[j]->insns[i].ops[k];
        samples.push_back({values[j], sign_extend(o.value, o.size)});
      }
      Seed s;
      s.object = object;
      s.operand = k;
      s.relation = fit_relation(samples);
      if (!of || to_orig[i] < 0) {
        std::string msg = where(name, f0.insns[i].offset) + " (" + f0.insns[i].text + "): no partner in the original build";
        out.unmapped.push_back(msg);
        if (of) add_to_region(out, f0, *of, to_orig, i, k, s.relation, variants[std::min(base, variants.size() - 1)].value,
                              base < variants.size(), msg);
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
