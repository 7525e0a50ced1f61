#include "runtime/static_patch.h"

#include <Zydis/Zydis.h>

#include <cstring>
#include <optional>

#include "binary/disasm.h"
#include "util/hex.h"

namespace kx {

namespace {

struct Decoded {
  ZydisDecodedInstruction zi;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
};

std::optional<Decoded> decode(const uint8_t *code, size_t len) {
  Decoded out;
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&x86_64_decoder(), code, len, &out.zi, out.ops))) return std::nullopt;
  return out;
}

uint64_t low_bits(__int128 v, unsigned bits) {
  return bits >= 64 ? static_cast<uint64_t>(v) : static_cast<uint64_t>(v) & ((uint64_t{1} << bits) - 1);
}

// The operand value an immediate field of `imm_bits` holding the low bits of
// `raw` gives, in an operand of `width` bits (sign- or zero-extended).
uint64_t operand_value(uint64_t raw, unsigned imm_bits, bool is_signed, unsigned width) {
  uint64_t v = low_bits(raw, imm_bits);
  if (is_signed && imm_bits < 64 && (v >> (imm_bits - 1)) & 1) v |= ~uint64_t{0} << imm_bits;
  return low_bits(v, width);
}

// The one use whose seed is this span's instruction: T = f(V) at its immediate.
const nlohmann::json *the_use(const nlohmann::json &report, const nlohmann::json &span) {
  const nlohmann::json *found = nullptr;
  if (!report.contains("uses")) return nullptr;
  for (auto &u : report["uses"])  // not value(): the pointer must outlive this call
    if (u.value("address", "") == span.value("address", "-")) {
      if (found) return nullptr;  // several seeds in one instruction
      found = &u;
    }
  return found;
}

// T' for V' = value: the value itself where the const is tuned as T.
std::optional<__int128> t_of(const nlohmann::json &span, const nlohmann::json &use, int64_t value) {
  if (span.value("tunes_t", false)) return value;
  if (!use.contains("relation") || !use["relation"].value("confirmed", false)) return std::nullopt;
  const auto &r = use["relation"];
  if (!r["a"].is_number_integer() || !r["b"].is_number_integer()) return std::nullopt;
  return static_cast<__int128>(r["a"].get<int64_t>()) * value + r["b"].get<int64_t>();
}

}  // namespace

StaticPlan plan_static_patch(const nlohmann::json &report, const nlohmann::json &span, int64_t value,
                             const KernelImage &image, uint64_t slide) {
  StaticPlan plan;
  auto no = [&](std::string why) {
    plan.why_not = std::move(why);
    return plan;
  };
  if (span.value("kind", "") != "insertion") return no("not an insertion span");
  if (span.value("start", -1) != span.value("end", -2)) return no("more than one instruction");
  const nlohmann::json *use = the_use(report, span);
  // ("matched" is absent from reports older than region matching: operands then.)
  if (!use || use->value("matched", "operand") != "operand") return no("its seed is not one immediate");
  auto t_new = t_of(span, *use, value);
  if (!t_new) return no("T = f(V) is not a confirmed linear relation");

  // The instruction as it runs: no byte of it may move with KASLR.
  const std::string fn = span.value("function", "");
  const uint64_t addr = std::stoull(span.value("address", "0"), nullptr, 16);
  const uint64_t probe = std::stoull(span.value("probe_address", "0"), nullptr, 16);
  auto code = image.code(fn, addr, X_SIE_MAX_INSN);
  if (!code) return no(code.error().message);
  auto old = decode(code->data(), code->size());
  if (!old || addr + old->zi.length != probe) return no("the probe is not right after its instruction");
  const unsigned len = old->zi.length;
  auto fixups = image.slide_fixups(fn, addr, len);
  if (!fixups || !fixups->empty()) return no("KASLR relocates its bytes");

  // One immediate field, holding T0 = f(V0) in the encoding.
  const auto operand = use->value("operand", -1);
  if (operand < 0 || operand >= old->zi.operand_count_visible ||
      old->ops[operand].type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
    return no("its seed is not an immediate operand");
  const auto &imm = old->zi.raw.imm[0];
  if (!imm.size || old->zi.raw.imm[1].size) return no("not exactly one immediate field");
  const unsigned imm_bits = imm.size, width = old->zi.operand_width;
  if (imm_bits % 8 || imm.offset < 1 || imm.offset + imm_bits / 8 > len || !width) return no("unusual encoding");
  uint64_t raw_old = 0;
  memcpy(&raw_old, code->data() + imm.offset, imm_bits / 8);
  const int64_t t_old = use->value("t", int64_t{0});
  if (operand_value(raw_old, imm_bits, imm.is_signed, width) != low_bits(t_old, width))
    return no("its immediate is not T0");

  // T' in the same field, meaning T' in the operand.
  const uint64_t raw_new = low_bits(*t_new, imm_bits);
  if (operand_value(raw_new, imm_bits, imm.is_signed, width) != low_bits(*t_new, width))
    return no("T' does not fit its " + std::to_string(imm_bits) + "-bit immediate: the compiler would emit other code");
  std::vector<uint8_t> fresh(code->begin(), code->begin() + len);
  memcpy(fresh.data() + imm.offset, &raw_new, imm_bits / 8);
  auto check = decode(fresh.data(), fresh.size());
  if (!check || check->zi.length != len || check->zi.mnemonic != old->zi.mnemonic ||
      check->zi.operand_width != width || check->zi.raw.imm[0].offset != imm.offset ||
      check->zi.raw.imm[0].size != imm.size)
    return no("the patched bytes decode as another instruction");

  x_sie_patch &p = plan.patch;
  p.addr = addr + slide;
  p.len = static_cast<uint8_t>(len);
  p.imm_off = imm.offset;
  p.imm_len = static_cast<uint8_t>(imm_bits / 8);
  memcpy(p.old_bytes, code->data(), len);
  memcpy(p.new_bytes, fresh.data(), len);
  return plan;
}

}  // namespace kx
