#include "runtime/transaction.h"

#include "util/hex.h"

#include <Zydis/Zydis.h>
#include <elf.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "binary/elf_file.h"
#include "runtime/update_program.h"
#include "symbolic/sym_state.h"

namespace kx {

namespace {

Result<uint64_t> parse_address(const nlohmann::json &j, const std::string &what) {
  if (!j.is_string()) return make_error("the report has no " + what);
  try {
    return std::stoull(j.get<std::string>(), nullptr, 16);
  } catch (const std::exception &) {
    return make_error("the report's " + what + " is not an address: " + j.get<std::string>());
  }
}

const ZydisDecoder &decoder() {
  static ZydisDecoder d = [] {
    ZydisDecoder x;
    ZydisDecoderInit(&x, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    return x;
  }();
  return d;
}

// The bytes of the instruction at `addr` (a probe or capture site).
Result<x_sie_site> site_at(const KernelImage &image, const std::string &fn, uint64_t addr, uint64_t slide) {
  KX_ASSIGN(code, image.code(fn, addr, X_SIE_MAX_INSN));
  auto len = instruction_length(code);
  if (!len) return make_error("no instruction at " + fn + " " + hex(addr) + ": " + len.error().message);
  x_sie_site s{};
  s.addr = addr + slide;
  s.len = static_cast<uint8_t>(*len);
  memcpy(s.bytes, code.data(), *len);
  return s;
}

// Captures are matched to updates by (task, stack pointer): the span from
// capture to probe must be straight-line code that leaves rsp alone.
Status check_straight_line(const KernelImage &image, const std::string &fn, uint64_t from, uint64_t to) {
  if (to <= from || to - from > 256) return make_error("capture " + hex(from) + " is not shortly before " + hex(to));
  KX_ASSIGN(code, image.code(fn, from, to - from));
  size_t off = 0;
  while (off < code.size()) {
    ZydisDecodedInstruction in;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder(), code.data() + off, code.size() - off, &in, ops)))
      return make_error("cannot decode " + fn + " at " + hex(from + off));
    auto cat = in.meta.category;
    if (cat == ZYDIS_CATEGORY_CALL || cat == ZYDIS_CATEGORY_RET || cat == ZYDIS_CATEGORY_COND_BR ||
        cat == ZYDIS_CATEGORY_UNCOND_BR)
      return make_error("the span branches at " + hex(from + off));
    for (unsigned i = 0; i < in.operand_count; ++i) {
      if (ops[i].type != ZYDIS_OPERAND_TYPE_REGISTER || !(ops[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) continue;
      auto g = gpr_slice(ops[i].reg.value);
      if (g && g->index == X_SIE_RSP) return make_error("the span moves the stack pointer at " + hex(from + off));
    }
    off += in.length;
  }
  if (off != code.size()) return make_error("the capture and probe are not on one instruction stream");
  return {};
}

uint32_t kind_of(const std::string &k) {
  if (k == "insertion") return X_SIE_INSERTION;
  if (k == "inverse") return X_SIE_INVERSE;
  if (k == "dual") return X_SIE_DUAL;
  return 0;
}

}  // namespace

Result<size_t> instruction_length(const std::vector<uint8_t> &code) {
  ZydisDecodedInstruction in;
  if (code.empty() || !ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&decoder(), nullptr, code.data(), code.size(), &in)))
    return make_error("cannot decode an instruction");
  return static_cast<size_t>(in.length);
}

struct VmlinuxImage::Impl {
  ElfFile elf;
};

VmlinuxImage::~VmlinuxImage() = default;

Result<std::unique_ptr<VmlinuxImage>> VmlinuxImage::open(const std::filesystem::path &vmlinux) {
  KX_ASSIGN(elf, ElfFile::open(vmlinux));
  auto img = std::unique_ptr<VmlinuxImage>(new VmlinuxImage());
  img->impl_ = std::make_unique<Impl>(Impl{std::move(elf)});
  return img;
}

std::string VmlinuxImage::build_id() const { return impl_->elf.build_id(); }

uint64_t VmlinuxImage::text_base() const {
  for (auto *s : impl_->elf.find_symbols("_text")) return s->value;
  return 0;
}

Result<uint64_t> VmlinuxImage::function_start(const std::string &fn, uint64_t addr) const {
  for (auto *s : impl_->elf.find_symbols(fn))
    if (s->type == STT_FUNC && addr >= s->value && addr < s->value + s->size) return s->value;
  return make_error(hex(addr) + " is not inside " + fn + " in " + impl_->elf.path().string());
}

Result<std::vector<uint8_t>> VmlinuxImage::code(const std::string &fn, uint64_t addr, size_t len) const {
  for (auto *s : impl_->elf.find_symbols(fn)) {
    if (s->type != STT_FUNC || addr < s->value || addr >= s->value + s->size) continue;
    size_t n = std::min<uint64_t>(len, s->value + s->size - addr);
    KX_ASSIGN(bytes, impl_->elf.bytes(s->section, addr, n));
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
  }
  return make_error(hex(addr) + " is not inside " + fn + " in " + impl_->elf.path().string());
}

Result<Transaction> plan_transaction(const std::vector<ConstRequest> &consts, const KernelImage &image,
                                     const std::string &running_build_id, uint64_t slide) {
  Transaction t;
  if (consts.empty()) return make_error("no const to set");
  if (consts.size() > X_SIE_MAX_CONSTS)
    return make_error("at most " + std::to_string(X_SIE_MAX_CONSTS) + " consts per transaction");
  std::set<std::string> names;
  for (size_t ci = 0; ci < consts.size(); ++ci) {
    const auto &r = consts[ci].report;
    const int64_t value = consts[ci].value;
    std::string id = r.value("id", "");
    if (id.empty() || id.size() >= X_SIE_NAME_LEN) return make_error("a report without a usable id");
    if (!names.insert(id).second) return make_error(id + " is given twice");
    if (r.value("status", "") != "tunable")
      return make_error(id + " is not tunable: " + r.value("reason", std::string("no reason recorded")));
    std::string analysed = r.contains("kernel") ? r["kernel"].value("build_id", "") : "";
    if (analysed != running_build_id)
      return make_error(id + " was analysed for kernel build-id " + (analysed.empty() ? "(none)" : analysed) +
                        ", but the running kernel's is " + running_build_id);
    const auto &spans = r.value("critical_spans", nlohmann::json::array());
    if (spans.empty()) return make_error(id + " has no critical span");

    // The proofs cover only the recorded ranges: the value must lie in all.
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    bool tunes_t = false;
    for (auto &s : spans) {
      std::string where = s.value("function", "?") + " " + s.value("probe_address", "?");
      if (s.value("proof", "") != "proved")
        return make_error(id + ": the update of span " + where + " is " + s.value("proof", std::string("unproved")) +
                          (s.contains("detail") ? ": " + s["detail"].get<std::string>() : ""));
      auto range = s.value("value_range", nlohmann::json::array());
      if (range.size() != 2) return make_error(id + ": span " + where + " has no proven value range");
      lo = std::max(lo, range[0].get<int64_t>());
      hi = std::min(hi, range[1].get<int64_t>());
      tunes_t = tunes_t || s.value("tunes_t", false);
    }
    if (value < lo || value > hi)
      return make_error(id + " = " + std::to_string(value) + " is outside [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "], the values its updates are proven for");
    if (tunes_t) {
      std::string how;
      for (auto &u : r.value("uses", nlohmann::json::array()))
        if (u.contains("nonlinear")) how = " (" + u["nonlinear"].get<std::string>() + ")";
      t.notes.push_back(id + " is compiled non-linearly" + how + ": " + std::to_string(value) +
                        " is T, the value the binary uses, not the source value V");
    }

    x_sie_const c{};
    memcpy(c.name, id.data(), id.size());
    c.value = static_cast<uint64_t>(value);
    t.consts.push_back(c);

    for (auto &s : spans) {
      if (t.spans.size() >= X_SIE_MAX_SPANS)
        return make_error("more than " + std::to_string(X_SIE_MAX_SPANS) + " critical spans in one transaction");
      std::string fn = s.value("function", "");
      KX_ASSIGN(probe, parse_address(s.value("probe_address", nlohmann::json()), "probe_address"));
      bool has_capture = s.contains("capture_address");
      uint32_t kind = kind_of(s.value("kind", ""));
      if (!kind) return make_error(id + ": unknown span kind " + s.value("kind", std::string("(none)")));
      if ((kind == X_SIE_DUAL) != has_capture)
        return make_error(id + ": span " + fn + " " + hex(probe) + " is " + s.value("kind", "") +
                          (has_capture ? " but has" : " but has no") + " capture address");
      KX_ASSIGN(start, image.function_start(fn, probe));
      std::string label = fn + "+" + hex(probe - start);
      if (label.size() >= X_SIE_LABEL_LEN) label = label.substr(0, X_SIE_LABEL_LEN - 1);
      auto prog = compile_update(s.value("update", nlohmann::json()), has_capture);
      if (!prog) return make_error(id + ": span " + label + ": " + prog.error().message);

      x_sie_span x{};
      x.const_index = static_cast<uint32_t>(ci);
      x.kind = kind;
      KX_ASSIGN(psite, site_at(image, fn, probe, slide));
      x.probe = psite;
      PlannedSpan planned{label, s.value("kind", ""), probe + slide, 0};
      if (has_capture) {
        KX_ASSIGN(capture, parse_address(s["capture_address"], "capture_address"));
        auto straight = check_straight_line(image, fn, capture, probe);
        if (!straight) return make_error(id + ": span " + label + ": " + straight.error().message);
        KX_ASSIGN(csite, site_at(image, fn, capture, slide));
        x.capture = csite;
        planned.capture = capture + slide;
      }
      // Two updates on one probe would run in kprobe-list order, each on the
      // other's result: refuse rather than guess (e.g. two consts in one span).
      for (auto &other : t.planned)
        if (other.probe == planned.probe)
          return make_error(id + ": span " + label + " updates at " + hex(probe) + ", where " + other.label +
                            " already does; tune them in separate transactions or not at once");
      memcpy(x.label, label.data(), label.size());
      x.prog = *prog;
      t.spans.push_back(x);
      t.planned.push_back(planned);
    }
  }
  return t;
}

}  // namespace kx
