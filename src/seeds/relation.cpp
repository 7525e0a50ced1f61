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

std::vector<int64_t> choose_test_values(std::optional<int64_t> ov) {
  std::vector<int64_t> out;
  auto add = [&](int64_t t) {
    if (t >= 2 && (!ov || t != *ov) && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  };
  if (!ov) {
    for (int64_t t : {256, 1024, 64, 4096, 16}) add(t);
    return out;
  }
  int64_t v = *ov;
  uint64_t u = static_cast<uint64_t>(v);
  if (v >= 1 && std::has_single_bit(u)) {  // 32 -> 64, 16, 128, 8, 256, 4
    for (int64_t t : {2 * v, v / 2, 4 * v, v / 4, 8 * v, v / 8, 16 * v}) add(t);
    return out;
  }
  if (v >= 3 && std::has_single_bit(u + 1)) {  // 2^k - 1 masks
    for (int64_t t : {2 * v + 1, v / 2, 4 * v + 3, v / 4, 8 * v + 7, 16 * v + 15}) add(t);
    return out;
  }
  // Unremarkable odd values near 3.7V, 5.3V and 6.1V (10 -> 37, 53, 61),
  // clear of the numbers compilers strength-reduce (powers of two and their
  // neighbours, multiples of 3 and 5); then smaller ones near 0.37V…
  auto pick = [&](int64_t target) {
    if (target < 23) target = 23 + target;
    target |= 1;
    while (std::has_single_bit(static_cast<uint64_t>(target + 1)) ||
           std::has_single_bit(static_cast<uint64_t>(target - 1)) || target % 3 == 0 || target % 5 == 0 ||
           std::find(out.begin(), out.end(), target) != out.end() || target == v)
      target += 2;
    return target;
  };
  for (int64_t per_mille : {3700, 5300, 6100}) add(pick(v * per_mille / 1000));
  if (v >= 60)
    for (int64_t per_mille : {370, 530, 610, 770}) add(pick(v * per_mille / 1000));
  return out;
}

}  // namespace kx
