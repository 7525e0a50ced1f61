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

// Which kind of test values to build. What a value means to the compiler
// depends on its use, which is not known before the builds: 4 as a
// multiplier is a shift by 2 (test it with powers of two), as a multiplier
// of a difference it is folded into a lea, as a shift count it must stay
// below the operand's width. So the analysis tries the families in order
// and keeps the first that locates every use (analysis/const_build.cpp).
enum class TestFamily {
  Shaped,  // the same kind as V0: powers of two, masks, else unremarkable
  Plain,   // unremarkable odd numbers of similar size: imul, cmp $imm — T = V
  Near,    // V0 ± 1, ± 2, ± 3: stays in a small domain (shift counts, tries)
};
const char *test_family_name(TestFamily f);

// Test values of `family` for a constant whose value is `v`, in order of
// preference: the first three are built (two to fit, one to confirm); the
// rest stand by for values that do not compile (a clamp whose bounds cross)
// or that the compiler encodes differently. Shaped: powers of two for powers
// of two, masks for masks, otherwise Plain. `v` empty (whole-definition
// specs): powers of two, whatever the family. Empty when the family adds
// nothing to Shaped (Plain for an unremarkable V0).
std::vector<int64_t> choose_test_values(std::optional<int64_t> v, TestFamily family = TestFamily::Shaped);

// Sign-extends `value` from `bits` (so an imm32 0xffffffe0 reads as -32).
int64_t sign_extend(int64_t value, unsigned bits);

}  // namespace kx
