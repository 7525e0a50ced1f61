#include "seeds/relation.h"

#include <bit>
#include <algorithm>
#include <cstdlib>

namespace kx {

int64_t sign_extend(int64_t value, unsigned bits) {
  if (bits == 0 || bits >= 64) return value;
  uint64_t m = 1ull << (bits - 1);
  uint64_t v = static_cast<uint64_t>(value) & ((1ull << bits) - 1);
  return static_cast<int64_t>((v ^ m) - m);
}

std::string Relation::describe() const {
  if (!linear) return nonlinear;
  std::string s = "T = ";
  if (a == 0) return s + std::to_string(b);
  if (a == 1) s += "V";
  else if (a == -1) s += "-V";
  else s += std::to_string(a) + "·V";
  if (b > 0) s += " + " + std::to_string(b);
  if (b < 0) s += " - " + std::to_string(-b);
  return s;
}

Relation fit_relation(const std::vector<std::pair<int64_t, int64_t>> &samples) {
  Relation r;
  r.samples = samples;
  if (samples.size() < 2) {
    r.nonlinear = "too few samples";
    return r;
  }
  auto [v1, t1] = samples[0];
  auto [v2, t2] = samples[1];
  if (v1 != v2 && (t2 - t1) % (v2 - v1) == 0) {
    int64_t a = (t2 - t1) / (v2 - v1), b = t1 - a * v1;
    bool all = true;
    for (auto [v, t] : samples) all = all && a * v + b == t;
    if (all) {
      r.linear = true;
      r.a = a;
      r.b = b;
      r.confirmed = samples.size() >= 3;
      return r;
    }
  }
  // Name the common non-linear shapes so the user knows what T to tune.
  bool log2 = true;
  for (auto [v, t] : samples) log2 = log2 && v > 0 && std::has_single_bit(static_cast<uint64_t>(v)) &&
                                     t == std::countr_zero(static_cast<uint64_t>(v));
  if (log2) {
    r.nonlinear = "T = log2(V)";
    return r;
  }
  r.nonlinear = "non-linear:";
  for (auto [v, t] : samples) r.nonlinear += " V=" + std::to_string(v) + "→T=" + std::to_string(t);
  return r;
}

const char *test_family_name(TestFamily f) {
  switch (f) {
    case TestFamily::Shaped: return "shaped";
    case TestFamily::Plain: return "plain";
    case TestFamily::Near: return "near";
  }
  return "?";
}

std::vector<int64_t> choose_test_values(std::optional<int64_t> ov, TestFamily family) {
  std::vector<int64_t> out;
  auto add = [&](int64_t t) {
    if (t >= 2 && (!ov || t != *ov) && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  };
  if (!ov) {
    if (family == TestFamily::Shaped)
      for (int64_t t : {256, 1024, 64, 4096, 16}) add(t);
    return out;
  }
  int64_t v = *ov;
  uint64_t u = static_cast<uint64_t>(v);
  bool power = v >= 1 && std::has_single_bit(u), mask = v >= 3 && std::has_single_bit(u + 1);
  if (family == TestFamily::Near) {
    // Close enough that a shift count stays below the width and a loop's
    // shape stays; V0 - k first for large values (fewer overflows), and
    // never 0 or 1, where multiplies and divides fold away.
    for (int64_t d : {1, -1, 2, -2, 3, -3}) add(v + d);
    return out;
  }
  if (family == TestFamily::Shaped && power) {  // 32 -> 64, 16, 128, 8, 256, 4
    for (int64_t t : {2 * v, v / 2, 4 * v, v / 4, 8 * v, v / 8, 16 * v}) add(t);
    return out;
  }
  if (family == TestFamily::Shaped && mask) {  // 2^k - 1 masks
    for (int64_t t : {2 * v + 1, v / 2, 4 * v + 3, v / 4, 8 * v + 7, 16 * v + 15}) add(t);
    return out;
  }
  if (family == TestFamily::Plain && !power && !mask) return out;  // Shaped already chose these
  // Unremarkable odd values near 3.7V, 5.3V and 6.1V (10 -> 37, 53, 61),
  // clear of the numbers compilers strength-reduce (powers of two and their
  // neighbours, multiples of 3 and 5); then smaller ones near 0.37V…
  // Plain values, the fallback when the shipped code is a lea, also avoid
  // x + 2^k·m (m = 3, 5, 9), which gcc builds from two leas (37 = 1 + 4·9):
  // the test builds then compile to imul, whose T = V the region matching
  // can state in V.
  auto lea_chain = [&](int64_t t) {
    if (family != TestFamily::Plain) return false;
    for (int64_t q = t - 1; q > 0 && q % 2 == 0; q /= 2)
      if (q / 2 == 3 || q / 2 == 5 || q / 2 == 9) return true;
    return false;
  };
  auto pick = [&](int64_t target) {
    if (target < 23) target = 23 + target;
    target |= 1;
    while (std::has_single_bit(static_cast<uint64_t>(target + 1)) ||
           std::has_single_bit(static_cast<uint64_t>(target - 1)) || target % 3 == 0 || target % 5 == 0 ||
           lea_chain(target) || std::find(out.begin(), out.end(), target) != out.end() || target == v)
      target += 2;
    return target;
  };
  for (int64_t per_mille : {3700, 5300, 6100}) add(pick(v * per_mille / 1000));
  if (v >= 60)
    for (int64_t per_mille : {370, 530, 610, 770}) add(pick(v * per_mille / 1000));
  // Plain values change the register allocation around an imul more often
  // than a power of two does: stand-bys, so two builds can still agree.
  if (family == TestFamily::Plain)
    for (int64_t per_mille : {7300, 8900}) add(pick(v * per_mille / 1000));
  return out;
}

}  // namespace kx
