#include "synth/value_range.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace kx {
namespace {

using i128 = __int128;

constexpr i128 kMin = INT64_MIN, kMax = INT64_MAX;
constexpr uint32_t kCF = ZYDIS_CPUFLAG_CF, kSignedFlags = ZYDIS_CPUFLAG_SF | ZYDIS_CPUFLAG_OF;
constexpr uint32_t kAllFlags = ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_PF | ZYDIS_CPUFLAG_AF | ZYDIS_CPUFLAG_ZF |
                               ZYDIS_CPUFLAG_SF | ZYDIS_CPUFLAG_OF;

i128 pow2(unsigned k) { return static_cast<i128>(1) << k; }

// A range of T (the operand's value, sign-extended as seeds read it).
struct TBound {
  i128 lo, hi;
  std::string why;
};

// How the instructions after `i` read the flags it sets, up to the first
// that rewrites them all (or leaves the straight path): "unsigned" when one
// tests CF (jb/ja/setbe/sbb), "signed" when one tests SF or OF (jl/jg), both
// when both occur. `reader` names the first such instruction.
struct FlagReading {
  bool as_unsigned = false, as_signed = false;
  std::string reader;
};

FlagReading read_flags_after(const DecodedFunction &f, size_t i) {
  FlagReading out;
  for (size_t k = i + 1; k < f.insns.size() && k < i + 64; ++k) {
    const Insn &in = f.insns[k];
    const auto *cf = in.zi.cpu_flags;
    uint32_t tested = cf ? cf->tested : 0;
    if ((tested & kCF) || (tested & kSignedFlags)) {
      if (out.reader.empty()) out.reader = in.text.substr(0, in.text.find(' '));
      out.as_unsigned = out.as_unsigned || (tested & kCF);
      out.as_signed = out.as_signed || (tested & kSignedFlags);
    }
    auto cat = in.zi.meta.category;
    if (cat == ZYDIS_CATEGORY_UNCOND_BR || cat == ZYDIS_CATEGORY_RET || cat == ZYDIS_CATEGORY_CALL) break;
    if (cf && ((cf->modified | cf->set_0 | cf->set_1 | cf->undefined) & kAllFlags) == kAllFlags) break;
  }
  return out;
}

// Instructions whose flags depend on T read as a number (not as a mask).
bool compares(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_SUB:
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_SBB:
    case ZYDIS_MNEMONIC_ADC:
      return true;
    default:
      return false;
  }
}

// T's bound at seed `s`: the operand's width, narrowed to the reading of a
// compare. A T the seeds read negative (an unsigned compare against
// 0xfffffff0 decodes as -16) keeps its window below zero.
TBound operand_bound(const DecodedFunction &f, const SpanSeed &s) {
  const Insn &in = f.insns[s.insn];
  const Operand &o = in.ops[s.operand];
  if (o.type == ZYDIS_OPERAND_TYPE_MEMORY) return {-pow2(31), pow2(31) - 1, "32-bit displacement"};
  unsigned w = std::clamp<unsigned>(in.zi.operand_width, 8, 64);
  std::string width = std::to_string(w) + "-bit";
  if (o.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && compares(in.mnemonic())) {
    FlagReading r = read_flags_after(f, s.insn);
    if (r.as_unsigned && r.as_signed)
      return {0, pow2(w - 1) - 1, width + " compare read both unsigned and signed (" + r.reader + " …)"};
    if (r.as_unsigned) {
      bool negative = std::any_of(s.relation.samples.begin(), s.relation.samples.end(),
                                  [](auto &p) { return p.second < 0; });
      if (negative) return {-pow2(w), -1, width + " unsigned compare (" + r.reader + ")"};
      return {0, w == 64 ? kMax : pow2(w) - 1, width + " unsigned compare (" + r.reader + ")"};
    }
    if (r.as_signed) return {-pow2(w - 1), pow2(w - 1) - 1, width + " signed compare (" + r.reader + ")"};
  }
  return {-pow2(w - 1), w == 64 ? kMax : pow2(w) - 1, width + " operand"};
}

// When T = aV + b with b's lowest set bit above every a·V the builds saw,
// the immediate packs V's field under other data (a struct initialised by
// one store: busy_factor | imbalance_pct << 32). V must stay in its field.
// A genuine offset (T = V + 256) is caught too; that only costs range.
std::optional<TBound> packed_field(const Insn &in, const SpanSeed &s) {
  const Relation &r = s.relation;
  if (!r.linear || r.a <= 0 || r.b == 0) return std::nullopt;
  unsigned w = std::clamp<unsigned>(in.zi.operand_width, 8, 64);
  uint64_t ub = static_cast<uint64_t>(r.b);
  if (w < 64) ub &= (uint64_t{1} << w) - 1;
  if (!ub) return std::nullopt;
  unsigned p = std::countr_zero(ub);
  if (p == 0 || p >= w || static_cast<i128>(r.a) >= pow2(p)) return std::nullopt;
  for (auto &[v, t] : r.samples)
    if (static_cast<i128>(r.a) * v < 0 || static_cast<i128>(r.a) * v >= pow2(p)) return std::nullopt;
  return TBound{r.b, r.b + pow2(p) - 1,
                "bits 0-" + std::to_string(p - 1) + " of an immediate packing other data above them"};
}

i128 floor_div(i128 n, i128 d) {
  i128 q = n / d;
  return (n % d != 0 && ((n < 0) != (d < 0))) ? q - 1 : q;
}
i128 ceil_div(i128 n, i128 d) { return -floor_div(-n, d); }

// The V with T = aV + b in [t.lo, t.hi] (rounded inwards; empty, lo > hi,
// when no integer V gives such a T).
std::pair<i128, i128> to_v(const Relation &rel, const TBound &t) {
  i128 a = rel.linear ? rel.a : 1, b = rel.linear ? rel.b : 0;
  if (a > 0) return {ceil_div(t.lo - b, a), floor_div(t.hi - b, a)};
  return {ceil_div(t.hi - b, a), floor_div(t.lo - b, a)};
}

// `mid`, or a type limit near it (±2^k, ±2^k - 1) when one lies strictly
// between `good` and `bad`: where a shape stops is mostly where a C type
// ends (x < 65536 on an unsigned short folds), so trying those first finds
// the exact end in a build or two.
i128 snap_to_type_limit(i128 mid, i128 good, i128 bad) {
  i128 lo = std::min(good, bad), hi = std::max(good, bad);
  i128 mag = mid < 0 ? -mid : mid;
  unsigned k = 0;
  while (k < 63 && pow2(k) < mag) ++k;
  i128 best = mid;
  bool found = false;
  for (unsigned e : {k ? k - 1 : 0, k, std::min(k + 1, 63u)})
    for (i128 c : {pow2(e), pow2(e) - 1, -pow2(e), -pow2(e) + 1})
      if (c > lo && c < hi) {
        auto dist = [&](i128 x) { return x > mid ? x - mid : mid - x; };
        if (!found || dist(c) < dist(best)) best = c, found = true;
      }
  return best;
}

// A value strictly between `good` and `bad`, nearer `good` in ratio while
// their distances from `anchor` are orders of magnitude apart.
int64_t between(int64_t anchor, int64_t good, int64_t bad) {
  i128 dg = static_cast<i128>(good) - anchor, db = static_cast<i128>(bad) - anchor;
  int sign = db < 0 ? -1 : 1;
  i128 ag = std::max<i128>(dg * sign, 1), ab = db * sign;
  i128 mid;
  if (ab > 16 * ag) {
    auto gm = static_cast<i128>(std::sqrt(static_cast<long double>(ag) * static_cast<long double>(ab)));
    mid = anchor + sign * gm;
  } else {
    mid = good + (static_cast<i128>(bad) - good) / 2;
  }
  i128 lo = std::min<i128>(good, bad) + 1, hi = std::max<i128>(good, bad) - 1;
  return static_cast<int64_t>(snap_to_type_limit(std::clamp(mid, lo, hi), good, bad));
}

}  // namespace

void ValueRange::intersect(int64_t l, int64_t h, const std::string &why) {
  bool moved = false;
  if (l > lo) lo = l, moved = true;
  if (h < hi) hi = h, moved = true;
  if (moved) basis.push_back(why);
}

ValueRange candidate_range(const DecodedFunction &f, const std::vector<SpanSeed> &seeds) {
  ValueRange r{INT64_MIN, INT64_MAX, {}};
  for (auto &s : seeds) {
    if (s.relation.linear && s.relation.a == 0) continue;
    std::vector<TBound> bounds = {operand_bound(f, s)};
    if (auto p = packed_field(f.insns[s.insn], s)) bounds.push_back(*p);
    for (auto &t : bounds) {
      auto [v1, v2] = to_v(s.relation, t);
      std::string why = t.why + " at " + f.insns[s.insn].text;
      if (v1 > v2) {
        r.lo = 1, r.hi = 0;
        r.basis.push_back(why + " holds no value");
        return r;
      }
      r.intersect(static_cast<int64_t>(std::clamp(v1, kMin, kMax)), static_cast<int64_t>(std::clamp(v2, kMin, kMax)),
                  why);
    }
  }
  return r;
}

Result<ValueRange> confirm_range(ValueRange r, int64_t anchor, const SameAt &same_at, unsigned max_builds) {
  if (r.empty()) return r;
  if (!r.contains(anchor)) {
    r.basis.push_back("V0 = " + std::to_string(anchor) + " lies outside [" + std::to_string(r.lo) + ", " +
                      std::to_string(r.hi) + "]: the operand's reading is not understood");
    r.lo = 1, r.hi = 0;
    return r;
  }
  // The confirmed end between `anchor` and `end`.
  auto narrow = [&](int64_t end) -> Result<int64_t> {
    if (end == anchor) return end;
    KX_ASSIGN(ok, same_at(end));
    if (ok) return end;
    int64_t good = anchor, bad = end;
    unsigned builds = 1;
    const int step = end > anchor ? -1 : 1;
    if (builds < max_builds && bad + step != good) {
      // The extreme value alone often folds (x < 256 on a byte is always true).
      KX_ASSIGN(ok1, same_at(bad + step));
      ++builds;
      if (ok1) return bad + step;
      bad += step;
    }
    while (builds < max_builds && bad + step != good) {
      int64_t mid = between(anchor, good, bad);
      KX_ASSIGN(ok2, same_at(mid));
      ++builds;
      (ok2 ? good : bad) = mid;
    }
    return good;
  };
  const int64_t lo0 = r.lo, hi0 = r.hi;
  KX_ASSIGN(lo, narrow(r.lo));
  KX_ASSIGN(hi, narrow(r.hi));
  r.lo = lo, r.hi = hi;
  if (lo != lo0)
    r.basis.push_back("the build at V=" + std::to_string(lo0) + " is not the span's shape; lowest confirmed " +
                      std::to_string(lo));
  if (hi != hi0)
    r.basis.push_back("the build at V=" + std::to_string(hi0) + " is not the span's shape; highest confirmed " +
                      std::to_string(hi));
  r.basis.push_back("cross builds at V=" + std::to_string(lo) + " and V=" + std::to_string(hi) +
                    " compile the span's shape with T = f(V)");
  return r;
}

}  // namespace kx
