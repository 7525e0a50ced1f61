#include "binary/disasm.h"

#include <cstdio>

namespace kx {

namespace {

struct Zydis {
  ZydisDecoder decoder;
  ZydisFormatter formatter;
  Zydis() {
    ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    ZydisFormatterInit(&formatter, ZYDIS_FORMATTER_STYLE_ATT);
  }
};

const Zydis &zydis() {
  static const Zydis z;
  return z;
}

}  // namespace

const ZydisDecoder &x86_64_decoder() { return zydis().decoder; }

namespace {

bool any_marked(const std::vector<bool> &mask, uint64_t from, unsigned size) {
  for (uint64_t i = from; i < from + size; ++i)
    if (i < mask.size() && mask[i]) return true;
  return false;
}

}  // namespace

std::string Insn::shape() const {
  std::string s = ZydisMnemonicGetString(zi.mnemonic);
  // An immediate's width is how its value was encoded (imm8 vs imm32), a
  // property of the value, not of the code's shape.
  for (auto &o : ops)
    s += "|" + std::to_string(o.type) + ":" + (o.type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? "imm" : std::to_string(o.size));
  return s;
}

std::string Insn::shape_with_registers() const {
  std::string s = shape();
  for (uint8_t i = 0; i < zi.operand_count_visible; ++i) {
    const auto &z = zops[i];
    if (z.type == ZYDIS_OPERAND_TYPE_REGISTER) s += "|" + std::string(ZydisRegisterGetString(z.reg.value));
    if (z.type == ZYDIS_OPERAND_TYPE_MEMORY)
      s += "|" + std::string(ZydisRegisterGetString(z.mem.base)) + "," +
           ZydisRegisterGetString(z.mem.index) + "," + std::to_string(z.mem.scale);
  }
  return s;
}

Result<std::vector<Insn>> disassemble(std::span<const uint8_t> code, const std::vector<bool> &relocated,
                                      uint64_t address) {
  std::vector<Insn> out;
  uint64_t off = 0;
  while (off < code.size()) {
    Insn in;
    in.offset = off;
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&zydis().decoder, code.data() + off, code.size() - off, &in.zi,
                                             in.zops))) {
      char buf[64];
      snprintf(buf, sizeof buf, "cannot decode the instruction at +0x%llx", static_cast<unsigned long long>(off));
      return make_error(buf);
    }
    in.length = in.zi.length;
    for (uint8_t i = 0; i < in.zi.operand_count_visible; ++i) {
      const auto &z = in.zops[i];
      Operand o;
      o.type = z.type;
      o.size = z.size;
      if (z.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        o.has_value = true;
        o.relative = z.imm.is_relative;
        o.value = z.imm.is_signed ? z.imm.value.s : static_cast<int64_t>(z.imm.value.u);
        // Which raw immediate this operand is: the first or second of the instruction.
        int k = (in.zi.raw.imm[1].size && i > 0 && in.zops[i - 1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) ? 1 : 0;
        o.relocated = any_marked(relocated, off + in.zi.raw.imm[k].offset, in.zi.raw.imm[k].size / 8);
      } else if (z.type == ZYDIS_OPERAND_TYPE_MEMORY && z.mem.disp.has_displacement) {
        o.has_value = true;
        o.value = z.mem.disp.value;
        o.relative = z.mem.base == ZYDIS_REGISTER_RIP;
        o.relocated = any_marked(relocated, off + in.zi.raw.disp.offset, in.zi.raw.disp.size / 8);
      }
      in.ops.push_back(o);
    }
    char text[256];
    ZydisFormatterFormatInstruction(&zydis().formatter, &in.zi, in.zops, in.zi.operand_count_visible, text,
                                    sizeof text, address ? address + off : ZYDIS_RUNTIME_ADDRESS_NONE, nullptr);
    in.text = text;
    off += in.length;
    out.push_back(std::move(in));
  }
  return out;
}

}  // namespace kx
