#include "spec/const_spec.h"

#include <charconv>
#include <filesystem>

namespace kx {
namespace {

// Plain decimal, optionally negative: no '+', no spaces, no trailing junk.
bool parse_int(std::string_view s, int &out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::string ConstSpec::str() const { return file + ":" + std::to_string(line) + ":" + std::to_string(token); }

Result<ConstSpec> parse_const_spec(std::string_view text) {
  auto fail = [&](const std::string &why) { return make_error("bad spec '" + std::string(text) + "': " + why); };
  // From the right, so only FILE could ever hold a colon.
  size_t c2 = text.rfind(':');
  size_t c1 = c2 == std::string_view::npos || c2 == 0 ? std::string_view::npos : text.rfind(':', c2 - 1);
  if (c1 == std::string_view::npos) return fail("expected FILE:LINE:TOKEN, e.g. mm/vmscan.c:785:0");
  ConstSpec spec;
  if (!parse_int(text.substr(c1 + 1, c2 - c1 - 1), spec.line)) return fail("LINE must be a number");
  if (spec.line < 1) return fail("LINE starts at 1");
  if (!parse_int(text.substr(c2 + 1), spec.token)) return fail("TOKEN must be a number");
  if (spec.token < -1) return fail("TOKEN must be a 0-based literal index, or -1 for a whole macro body");
  std::filesystem::path file(text.substr(0, c1));
  if (file.empty()) return fail("FILE is empty");
  if (file.is_absolute()) return fail("FILE must be relative to the kernel source root");
  // Any "..", even one that normalises away: mm/x/.. may be a symlink out of the tree.
  for (const auto &part : file)
    if (part == "..") return fail("FILE must stay inside the kernel source tree (no '..')");
  file = file.lexically_normal();
  if (!file.has_filename() || file == ".") return fail("FILE must name a file");
  spec.file = file.string();
  return spec;
}

}  // namespace kx
