// How a seed's transformed value T depends on the source value V (paper
// §3.3.2): fitted as T = a·V + b over the test builds and confirmed by one
// more; anything else is reported as non-linear, never guessed.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kx {

struct Relation {
  bool linear = false;
  int64_t a = 0, b = 0;
  bool confirmed = false;   // a third value agreed with the fit
  std::string nonlinear;    // description when not linear, e.g. "T = log2(V)"
  std::vector<std::pair<int64_t, int64_t>> samples;  // (V, T)

  std::optional<int64_t> apply(int64_t v) const {
    if (!linear) return std::nullopt;
    return a * v + b;
  }
  // The V that gives `t` (a whole-definition macro's compiled value from the
  // shipped instruction); empty when not linear or no integer V does.
  std::optional<int64_t> invert(int64_t t) const {
    if (!linear || a == 0 || (t - b) % a != 0) return std::nullopt;
    return (t - b) / a;
  }
  std::string describe() const;  // "T = -V", "T = 2·V", "T = V - 1", …
};

Relation fit_relation(const std::vector<std::pair<int64_t, int64_t>> &samples);

// Test values of the same kind as `v` (powers of two for powers of two,
// masks for masks, otherwise unremarkable odd numbers of similar size), so
// the compiler treats them like the original, in order of preference: the
// first three are built (two to fit, one to confirm); the rest stand by for
// values that do not compile (a clamp whose bounds cross) or that the
// compiler encodes differently. `v` empty (whole-definition specs): powers
// of two.
std::vector<int64_t> choose_test_values(std::optional<int64_t> v);

// Sign-extends `value` from `bits` (so an imm32 0xffffffe0 reads as -32).
int64_t sign_extend(int64_t value, unsigned bits);

}  // namespace kx
