#include "runtime/probe_kind.h"

#include <Zydis/Zydis.h>

#include <algorithm>
#include <optional>

#include "binary/disasm.h"
#include "util/hex.h"

namespace kx {

namespace {

// The optimized region: a 5-byte relative jump over the probed instructions
// (RELATIVEJUMP_SIZE, JMP32_INSN_SIZE).
constexpr uint64_t kJumpSize = 5;

// One instruction as the kernel's decoder (struct insn) sees what can_boost
// and insn_jump_into_range look at.
struct OptInsn {
  uint64_t addr = 0;
  bool extable = false;  // has an exception-table entry
  unsigned length = 0;
  unsigned nbytes = 1;  // opcode bytes: 1, 2 (0f xx) or 3 (0f 38 xx, 0f 3a xx)
  uint8_t op = 0;       // the last opcode byte (bytes[0] when nbytes is 1, bytes[1] when 2)
  int modrm_reg = -1;   // -1: no ModRM
  bool cs_or_addr32 = false;  // a cs (2e) or address-size (67) prefix
  std::optional<uint64_t> jump_target;  // relative jmp, jcc, loop, jcxz
};

// Which opcodes insn_jump_into_range() follows.
bool is_relative_jump(const OptInsn &i) {
  if (i.nbytes == 2) return (i.op & 0xf0) == 0x80;                         // jcc near
  if (i.nbytes != 1) return false;
  return (i.op >= 0xe0 && i.op <= 0xe3) || i.op == 0xe9 || i.op == 0xeb ||  // loop*, jcxz, jmp
         (i.op & 0xf0) == 0x70;                                            // jcc short
}

std::optional<OptInsn> decode(const FunctionCode &fn, uint64_t off) {
  ZydisDecodedInstruction in;
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&x86_64_decoder(), nullptr, fn.bytes.data() + off, fn.bytes.size() - off,
                                                  &in)))
    return std::nullopt;
  OptInsn i;
  i.addr = fn.start + off;
  i.length = in.length;
  i.op = in.opcode;
  // VEX/EVEX/XOP: the kernel's decoder records the opcode byte alone.
  if (in.encoding == ZYDIS_INSTRUCTION_ENCODING_LEGACY || in.encoding == ZYDIS_INSTRUCTION_ENCODING_3DNOW) {
    if (in.opcode_map == ZYDIS_OPCODE_MAP_0F) i.nbytes = 2;
    if (in.opcode_map == ZYDIS_OPCODE_MAP_0F0F) i.nbytes = 2, i.op = 0x0f;
    if (in.opcode_map == ZYDIS_OPCODE_MAP_0F38 || in.opcode_map == ZYDIS_OPCODE_MAP_0F3A) i.nbytes = 3;
  }
  if (in.attributes & ZYDIS_ATTRIB_HAS_MODRM) i.modrm_reg = in.raw.modrm.reg;
  for (unsigned p = 0; p < in.raw.prefix_count; ++p)
    i.cs_or_addr32 = i.cs_or_addr32 || in.raw.prefixes[p].value == 0x2e || in.raw.prefixes[p].value == 0x67;
  if (is_relative_jump(i) && in.raw.imm[0].is_relative)
    i.jump_target = i.addr + i.length + static_cast<uint64_t>(in.raw.imm[0].value.s);
  return i;
}

// core.c twobyte_is_boostable[] (Linux 6.1), as the kernel writes it: row
// 0x?0, column 0x0?; 0f xx is boostable where the digit is 1.
constexpr const char *kTwoByteBoostable[16] = {
    // 0123456789abcdef
    "0011001011000000",  // 00
    "0000000000000001",  // 10
    "1111000000000000",  // 20
    "0100000000000000",  // 30
    "1111111111111111",  // 40
    "0000000000000000",  // 50
    "1111111111110011",  // 60
    "0000111100000011",  // 70
    "0000000000000000",  // 80
    "1111111111111111",  // 90
    "1101110011011101",  // a0
    "1111111100011111",  // b0
    "1100000011111111",  // c0
    "0111010011011101",  // d0
    "0110010011011101",  // e0
    "0111010011101110",  // f0
};

bool twobyte_boostable(uint8_t op) { return kTwoByteBoostable[op >> 4][op & 15] == '1'; }

// can_boost()'s switch: the one-byte opcodes it refuses.
bool onebyte_boostable(const OptInsn &i) {
  const uint8_t o = i.op;
  if (o == 0x62 || (o >= 0x70 && o <= 0x7f) || o == 0x9a || o == 0xc0 || o == 0xc1 || (o >= 0xcc && o <= 0xce) ||
      (o >= 0xd0 && o <= 0xd3) || o == 0xd6 || (o >= 0xd8 && o <= 0xdf) || (o >= 0xe0 && o <= 0xe3) || o == 0xe8 ||
      o == 0xe9 || o == 0xeb || (o >= 0xf0 && o <= 0xf4) || o == 0xf6 || o == 0xf7 || o == 0xfe)
    return false;
  if (o == 0xff) return i.modrm_reg == 4;  // grp5: only the indirect jmp
  return true;
}

std::string at(const OptInsn &i) { return hex(i.addr); }

// What a rule checks: every instruction of the function (can_optimize) or
// each instruction copied out of the 5 bytes (copy_optimized_instructions).
enum class Scope { function, region };

struct Check {
  ProbeRule rule;
  Scope scope;
  // The problem with `i` ("" when none); `probe` and `thunks` as given.
  std::string (*test)(const OptInsn &i, uint64_t probe, ThunkRange thunks);
};

const std::vector<Check> &checks() {
  static const std::vector<Check> table = {
      {{"exception-table", "an instruction of the function has an exception-table entry (its fixup may jump "
                           "into the function): can_optimize/search_exception_tables"},
       Scope::function,
       [](const OptInsn &i, uint64_t, ThunkRange) -> std::string {
         return i.extable ? "exception-table entry at " + at(i) : "";
       }},
      {{"indirect-jump", "the function has an indirect jump (jmp *r/m, ljmp): can_optimize/insn_is_indirect_jump"},
       Scope::function,
       [](const OptInsn &i, uint64_t, ThunkRange) -> std::string {
         bool ind = (i.nbytes == 1 && i.op == 0xff && i.modrm_reg >= 0 && (i.modrm_reg & 6) == 4) ||
                    (i.nbytes == 1 && i.op == 0xea);
         return ind ? "indirect jump at " + at(i) : "";
       }},
      {{"retpoline-jump", "the function jumps into the retpoline thunks, an indirect jump: insn_is_indirect_jump"},
       Scope::function,
       [](const OptInsn &i, uint64_t, ThunkRange t) -> std::string {
         bool in = i.jump_target && t.end > t.start && *i.jump_target >= t.start && *i.jump_target <= t.end;
         return in ? "jump to a retpoline thunk at " + at(i) : "";
       }},
      {{"jump-into-region", "a jump in the function lands inside the 5 bytes the jump replaces: insn_jump_into_range"},
       Scope::function,
       [](const OptInsn &i, uint64_t probe, ThunkRange) -> std::string {
         bool in = i.jump_target && *i.jump_target >= probe + 1 && *i.jump_target <= probe + kJumpSize;
         return in ? "jump at " + at(i) + " to " + hex(*i.jump_target) : "";
       }},
      {{"int3-in-region", "an int3 among the replaced instructions: __copy_instruction"},
       Scope::region,
       [](const OptInsn &i, uint64_t, ThunkRange) -> std::string {
         return i.nbytes == 1 && i.op == 0xcc ? "int3 at " + at(i) : "";
       }},
      {{"masks-exceptions", "a mov to %ss among the replaced instructions: insn_masking_exception"},
       Scope::region,
       [](const OptInsn &i, uint64_t, ThunkRange) -> std::string {
         return i.nbytes == 1 && i.op == 0x8e && i.modrm_reg == 2 ? "mov to %ss at " + at(i) : "";
       }},
      {{"prefix-not-boostable", "a cs or address-size prefix on a replaced one-byte-opcode instruction: can_boost"},
       Scope::region,
       [](const OptInsn &i, uint64_t, ThunkRange) -> std::string {
         return i.nbytes == 1 && i.cs_or_addr32 ? "cs/addr32 prefix at " + at(i) : "";
       }},
      {{"opcode-not-boostable",
        "a replaced instruction can_boost refuses (jcc, call, jmp, shift/rotate, grp3, loop, int, x87, hlt, inc/dec "
        "byte, grp5 but jmp)"},
       Scope::region,
       [](const OptInsn &i, uint64_t, ThunkRange) -> std::string {
         char op[8];
         snprintf(op, sizeof op, "%02x", i.op);
         return i.nbytes == 1 && !onebyte_boostable(i) ? "opcode " + std::string(op) + " at " + at(i) : "";
       }},
      {{"twobyte-not-boostable", "a replaced 0f xx instruction outside can_boost's twobyte_is_boostable"},
       Scope::region,
       [](const OptInsn &i, uint64_t, ThunkRange) -> std::string {
         char op[8];
         snprintf(op, sizeof op, "%02x", i.op);
         return i.nbytes == 2 && !twobyte_boostable(i.op) ? "opcode 0f " + std::string(op) + " at " + at(i) : "";
       }},
      {{"threebyte-not-boostable", "a replaced 0f 38/0f 3a instruction: can_boost takes one- and two-byte opcodes only"},
       Scope::region,
       [](const OptInsn &i, uint64_t, ThunkRange) -> std::string {
         return i.nbytes == 3 ? "three-byte opcode at " + at(i) : "";
       }},
  };
  return table;
}

// Rules checked before the instruction table, in can_optimize's order.
const ProbeRule kOutside = {"function-end",
                            "fewer than 5 bytes from the probe to the end of its function: can_optimize"};
const ProbeRule kUndecodable = {"undecodable", "an instruction of the function does not decode: can_optimize"};
const ProbeRule kReserved = {"reserved-site", "the replaced bytes cover a jump label, static call or ftrace site: "
                                              "copy_optimized_instructions (*_text_reserved)"};

ProbePrediction refused(const ProbeRule &r, std::string detail) { return {false, r.name, std::move(detail)}; }

}  // namespace

const std::vector<ProbeRule> &probe_rules() {
  static const std::vector<ProbeRule> rules = [] {
    std::vector<ProbeRule> out = {kOutside, kUndecodable};
    for (auto &c : checks()) out.push_back(c.rule);
    out.push_back(kReserved);
    return out;
  }();
  return rules;
}

FunctionCode patch_returns(FunctionCode fn, uint64_t return_thunk) {
  for (uint64_t off = 0; off < fn.bytes.size();) {
    auto i = decode(fn, off);
    if (!i) break;  // predict_probe_kind refuses it
    if (i->nbytes == 1 && i->op == 0xe9 && i->jump_target == return_thunk) {
      fn.bytes[off] = 0xc3;
      std::fill(fn.bytes.begin() + off + 1, fn.bytes.begin() + off + i->length, 0xcc);
    }
    off += i->length;
  }
  return fn;
}

ProbePrediction predict_probe_kind(const FunctionCode &fn, uint64_t probe, ThunkRange thunks) {
  if (probe < fn.start || probe + kJumpSize > fn.start + fn.bytes.size())
    return refused(kOutside, hex(probe) + " in " + std::to_string(fn.bytes.size()) + " bytes at " + hex(fn.start));
  // can_optimize: decode the whole function from its start.
  std::vector<OptInsn> insns;
  for (uint64_t off = 0; off < fn.bytes.size();) {
    auto i = decode(fn, off);
    if (!i) return refused(kUndecodable, "at " + hex(fn.start + off));
    i->extable = std::find(fn.extable.begin(), fn.extable.end(), i->addr) != fn.extable.end();
    insns.push_back(*i);
    off += i->length;
  }
  for (auto &i : insns)
    for (auto &c : checks())
      if (c.scope == Scope::function)
        if (auto why = c.test(i, probe, thunks); !why.empty()) return refused(c.rule, why);
  // copy_optimized_instructions: from the probe until 5 bytes are covered.
  uint64_t region_end = probe;  // one past the last replaced byte
  for (auto &i : insns) {
    if (i.addr < probe || i.addr >= probe + kJumpSize) continue;
    for (auto &c : checks())
      if (c.scope == Scope::region)
        if (auto why = c.test(i, probe, thunks); !why.empty()) return refused(c.rule, why);
    region_end = i.addr + i.length;
  }
  // ... then the *_text_reserved checks on [probe, region_end - 1].
  for (auto &r : fn.reserved)
    if (r.addr <= region_end - 1 && r.addr + r.size > probe) return refused(kReserved, r.what + " at " + hex(r.addr));
  return {true, "", ""};
}

}  // namespace kx
