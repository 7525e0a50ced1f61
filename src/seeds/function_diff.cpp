#include "seeds/function_diff.h"

#include <elf.h>

#include <algorithm>
#include <regex>

#include "binary/function_compare.h"

namespace kx {

namespace {

// Names the symbol each relocated branch of `fn` jumps or calls to, so the
// analysis can tell a return (jmp __x86_return_thunk) and a tail call from
// a jump into the function's cold part.
void name_branch_symbols(const ElfFile &object, const ElfSymbol &fn, std::vector<Insn> &insns) {
  auto relocs = object.relocations_for(fn.section);
  const auto &syms = object.symbols();
  size_t r = 0;
  for (auto &in : insns) {
    auto cat = in.zi.meta.category;
    if (cat != ZYDIS_CATEGORY_UNCOND_BR && cat != ZYDIS_CATEGORY_COND_BR && cat != ZYDIS_CATEGORY_CALL) continue;
    uint64_t start = fn.value + in.offset, end = start + in.length;
    while (r < relocs.size() && relocs[r].offset < start) ++r;
    if (r < relocs.size() && relocs[r].offset < end && relocs[r].symbol < syms.size() &&
        syms[relocs[r].symbol].type != STT_SECTION)
      in.branch_symbol = syms[relocs[r].symbol].name;
  }
}

}  // namespace

Result<std::map<std::string, DecodedFunction>> decode_functions(const ElfFile &object) {
  std::map<std::string, DecodedFunction> out;
  for (auto *s : object.functions()) {
    KX_ASSIGN(bytes, object.symbol_bytes(*s));
    auto insns = disassemble(bytes, relocation_mask(object, *s));
    if (!insns) return insns.error().context(object.path().filename().string() + ":" + s->name);
    name_branch_symbols(object, *s, *insns);
    out[s->name] = DecodedFunction{s->name, s, std::move(*insns)};
  }
  return out;
}

static std::string base_name(const std::string &n) {
  static const std::regex clone(R"(\.(constprop|isra|part)\.\d+)");
  return std::regex_replace(n, clone, "");
}

std::vector<std::pair<std::string, std::string>> match_functions(const std::map<std::string, DecodedFunction> &a,
                                                                 const std::map<std::string, DecodedFunction> &b) {
  std::vector<std::pair<std::string, std::string>> out;
  std::map<std::string, std::vector<std::string>> a_left, b_left;
  for (auto &[n, f] : a) {
    if (b.count(n)) out.push_back({n, n});
    else a_left[base_name(n)].push_back(n);
  }
  for (auto &[n, f] : b)
    if (!a.count(n)) b_left[base_name(n)].push_back(n);
  for (auto &[base, names] : a_left) {
    auto it = b_left.find(base);
    if (names.size() == 1 && it != b_left.end() && it->second.size() == 1) out.push_back({names[0], it->second[0]});
  }
  return out;
}

namespace {

// Index of the instruction at `offset`, or -1 when it lies outside.
long index_at(const std::vector<Insn> &insns, int64_t offset) {
  auto it = std::lower_bound(insns.begin(), insns.end(), offset,
                             [](const Insn &i, int64_t off) { return static_cast<int64_t>(i.offset) < off; });
  if (it == insns.end() || static_cast<int64_t>(it->offset) != offset) return -1;
  return it - insns.begin();
}

// A relative branch's target as an instruction index (layout-independent).
long branch_target(const std::vector<Insn> &insns, size_t i, const Operand &o) {
  return index_at(insns, static_cast<int64_t>(insns[i].offset + insns[i].length) + o.value);
}

}  // namespace

FunctionDiff diff_functions(const DecodedFunction &a, const DecodedFunction &b) {
  FunctionDiff d;
  if (a.insns.size() != b.insns.size()) {
    d.kind = DiffKind::Structural;
    return d;
  }
  for (size_t i = 0; i < a.insns.size(); ++i) {
    const Insn &x = a.insns[i], &y = b.insns[i];
    if (x.shape_with_registers() != y.shape_with_registers()) {
      d.kind = DiffKind::Structural;
      d.changes.clear();
      return d;
    }
    for (size_t k = 0; k < x.ops.size(); ++k) {
      const Operand &p = x.ops[k], &q = y.ops[k];
      if (!p.has_value || p.relocated || q.relocated) continue;
      if (p.relative) {
        // An immediate that grew (imm8 -> imm32) shifts later code: branches
        // still agree when they reach the same instruction.
        if (p.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && branch_target(a.insns, i, p) != branch_target(b.insns, i, q)) {
          d.kind = DiffKind::Structural;
          d.changes.clear();
          return d;
        }
        continue;
      }
      if (p.value != q.value) d.changes.push_back({i, k});
    }
  }
  d.kind = d.changes.empty() ? DiffKind::Identical : DiffKind::ImmediateOnly;
  return d;
}

std::vector<long> align_functions(const DecodedFunction &a, const DecodedFunction &b) {
  size_t n = a.insns.size(), m = b.insns.size();
  std::vector<std::string> sa(n), sb(m);
  for (size_t i = 0; i < n; ++i) sa[i] = a.insns[i].shape();
  for (size_t j = 0; j < m; ++j) sb[j] = b.insns[j].shape();
  // Classic LCS table; functions are at most a few thousand instructions.
  std::vector<std::vector<uint32_t>> L(n + 1, std::vector<uint32_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;)
      L[i][j] = sa[i] == sb[j] ? L[i + 1][j + 1] + 1 : std::max(L[i + 1][j], L[i][j + 1]);
  std::vector<long> map(n, -1);
  size_t i = 0, j = 0;
  while (i < n && j < m) {
    if (sa[i] == sb[j]) {
      map[i++] = static_cast<long>(j++);
    } else if (L[i + 1][j] >= L[i][j + 1]) {
      ++i;
    } else {
      ++j;
    }
  }
  return map;
}

}  // namespace kx
