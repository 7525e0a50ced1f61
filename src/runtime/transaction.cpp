#include "runtime/transaction.h"

#include "util/hex.h"

#include <Zydis/Zydis.h>
#include <elf.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "binary/disasm.h"
#include "binary/elf_file.h"
#include "runtime/static_patch.h"
#include "runtime/uapi_names.h"
#include "runtime/update_program.h"
#include "scope/scope_table.h"
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

// The bytes of the instruction at `addr` (a probe or capture site).
Result<x_sie_site> site_at(const KernelImage &image, const std::string &fn, uint64_t addr, uint64_t slide) {
  KX_ASSIGN(code, image.code(fn, addr, X_SIE_MAX_INSN));
  auto len = instruction_length(code);
  if (!len) return make_error("no instruction at " + fn + " " + hex(addr) + ": " + len.error().message);
  KX_ASSIGN(live, image.live_code(fn, addr, *len, slide));
  x_sie_site s{};
  s.addr = addr + slide;
  s.len = static_cast<uint8_t>(*len);
  memcpy(s.bytes, live.data(), *len);
  // The kernel rewrites `jmp __x86_return_thunk` into `ret; int3; int3; int3;
  // int3` at boot when no return-thunk mitigation is on (alternative.c's
  // patch_return): both are what the analysed binary means there.
  if (*len == 5 && code[0] == 0xe9) {
    int32_t rel;
    memcpy(&rel, &code[1], 4);
    auto thunk = image.symbol("__x86_return_thunk");
    if (thunk && addr + 5 + static_cast<int64_t>(rel) == *thunk) {
      const uint8_t ret_int3[] = {0xc3, 0xcc, 0xcc, 0xcc, 0xcc};
      memcpy(s.alt, ret_int3, sizeof ret_int3);
      s.alt_len = sizeof ret_int3;
    }
  }
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
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&x86_64_decoder(), code.data() + off, code.size() - off, &in, ops)))
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

// Where the retpoline thunks are once KASLR moved the kernel: a jump there
// is an indirect jump to the kprobe optimizer.
ThunkRange thunk_range(const KernelImage &image, uint64_t slide) {
  auto start = image.symbol("__indirect_thunk_start"), end = image.symbol("__indirect_thunk_end");
  if (!start || !end) return {};
  return {*start + slide, *end + slide};
}

// Predicts the kprobe kind at `addr` (link address) in `fn` from the code
// the running kernel has there.
Status predict_probe(Transaction &t, const KernelImage &image, const std::string &fn, uint64_t addr, uint64_t slide) {
  KX_ASSIGN(start, image.function_start(fn, addr));
  KX_ASSIGN(bytes, image.live_code(fn, start, SIZE_MAX, slide));
  KX_ASSIGN(extable, image.exception_sites(fn, start, SIZE_MAX));
  for (auto &a : extable) a += slide;
  KX_ASSIGN(reserved, image.reserved_sites(fn, start, SIZE_MAX));
  for (auto &r : reserved) r.addr += slide;
  FunctionCode code{start + slide, std::move(bytes), std::move(extable), std::move(reserved)};
  if (auto ret = image.symbol("__x86_return_thunk"); ret && !t.return_thunks) code = patch_returns(code, *ret + slide);
  t.predicted[addr + slide] = predict_probe_kind(code, addr + slide, thunk_range(image, slide));
  return {};
}

// The monitors of a const's safe spans: entry and exit sites with their
// bytes, and the code ranges stack inspection looks for.
Status plan_safe_spans(Transaction &t, const nlohmann::json &r, uint32_t ci, const KernelImage &image,
                       uint64_t slide) {
  const std::string id = r.value("id", "");
  const auto &sss = r.value("safe_spans", nlohmann::json::array());
  if (sss.empty())
    return make_error(id + " has no safe span: only --transition immediate can switch it (without side-effect safety)");
  for (auto &ss : sss) {
    if (t.safe_spans.size() >= X_SIE_MAX_SS)
      return make_error("more than " + std::to_string(X_SIE_MAX_SS) + " safe spans in one transaction");
    std::string fn = ss.value("function", "");
    KX_ASSIGN(entry, parse_address(ss.value("entry", nlohmann::json()), "safe-span entry"));
    std::string where = id + ": safe span " + fn + " " + hex(entry);
    for (auto &p : ss.value("probes", nlohmann::json::array()))
      if (!p.value("probeable", false))
        return make_error(where + ": " + p.value("address", std::string("?")) + " cannot be probed" +
                          (p.contains("why") ? " (" + p["why"].get<std::string>() + ")" : ""));
    const auto &exits = ss.value("exits", nlohmann::json::array());
    const auto &ranges = ss.value("ranges", nlohmann::json::array());
    if (exits.empty()) return make_error(where + " has no exit: a task inside it could never be seen leaving");
    if (exits.size() > X_SIE_MAX_SS_EXITS || ranges.empty() || ranges.size() > X_SIE_MAX_SS_RANGES)
      return make_error(where + " has " + std::to_string(exits.size()) + " exits and " +
                        std::to_string(ranges.size()) + " code ranges; the monitors take 1.." +
                        std::to_string(X_SIE_MAX_SS_EXITS) + " and 1.." + std::to_string(X_SIE_MAX_SS_RANGES));
    x_sie_ss x{};
    x.const_index = ci;
    KX_ASSIGN(esite, site_at(image, fn, entry, slide));
    x.entry = esite;
    KX_TRY(predict_probe(t, image, fn, entry, slide));
    for (auto &e : exits) {
      KX_ASSIGN(a, parse_address(e, "safe-span exit"));
      KX_ASSIGN(site, site_at(image, fn, a, slide));
      KX_TRY(predict_probe(t, image, fn, a, slide));
      x.exits[x.n_exits++] = site;
    }
    for (auto &rg : ranges) {
      KX_ASSIGN(lo, parse_address(rg.value("start", nlohmann::json()), "range start"));
      KX_ASSIGN(hi, parse_address(rg.value("end", nlohmann::json()), "range end"));
      if (lo >= hi) return make_error(where + ": empty code range " + hex(lo));
      x.ranges[x.n_ranges][0] = lo + slide;
      x.ranges[x.n_ranges][1] = hi + slide;
      ++x.n_ranges;
    }
    t.safe_spans.push_back(x);
  }
  return {};
}

// Where a span's exit is another's entry, the task goes straight on inside:
// that exit is dropped so the entry's mark stands (the later exits end it).
// Exits shared by two spans stay twice: leaving is idempotent.
Status drop_exits_into_entries(Transaction &t) {
  std::set<uint64_t> entries;
  for (auto &x : t.safe_spans) entries.insert(x.entry.addr);
  for (auto &x : t.safe_spans) {
    uint16_t kept = 0;
    for (uint16_t i = 0; i < x.n_exits; ++i)
      if (!entries.count(x.exits[i].addr)) x.exits[kept++] = x.exits[i];
    for (uint16_t i = kept; i < x.n_exits; ++i) x.exits[i] = {};
    x.n_exits = kept;
    if (!kept)
      return make_error("every exit of the safe span at " + hex(x.entry.addr) +
                        " is another span's entry: its monitors cannot tell when a task leaves");
  }
  return {};
}

}  // namespace

Result<TransitionMode> parse_transition_mode(const std::string &s) {
  if (s == "global") return TransitionMode::global;
  if (s == "per-thread") return TransitionMode::per_thread;
  if (s == "immediate") return TransitionMode::immediate;
  return make_error("unknown transition '" + s + "': global, per-thread or immediate");
}

const char *transition_mode_name(uint32_t t) {
  switch (t) {
    case X_SIE_TRANS_IMMEDIATE: return "immediate";
    case X_SIE_TRANS_GLOBAL: return "global";
    case X_SIE_TRANS_PER_THREAD: return "per-thread";
    default: return "?";
  }
}

Result<size_t> instruction_length(const std::vector<uint8_t> &code) {
  ZydisDecodedInstruction in;
  if (code.empty() || !ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&x86_64_decoder(), nullptr, code.data(), code.size(), &in)))
    return make_error("cannot decode an instruction");
  return static_cast<size_t>(in.length);
}

struct VmlinuxImage::Impl {
  ElfFile elf;
  // .rela.text and friends (the kernel links with --emit-relocs), per
  // section, read on first use: they run to millions of entries.
  mutable std::map<size_t, std::vector<ElfRelocation>> relocs;
  mutable std::optional<size_t> percpu;
  // Symbol lookups scan the whole table: each name once per image.
  mutable std::map<std::string, std::optional<uint64_t>> symbols;
  // The faulting instructions __ex_table names, sorted, read on first use.
  mutable std::optional<std::vector<uint64_t>> extable;
  // Jump label, static call and ftrace sites (size 0: a jump label's size
  // is its instruction's), sorted, read on first use.
  mutable std::optional<std::vector<ReservedSite>> reserved;

  // The bytes of [start, stop) wherever a data section holds them.
  Result<std::vector<uint8_t>> table(uint64_t start, uint64_t stop) const {
    for (const char *name : {".data", ".init.data", ".rodata"}) {
      auto sec = elf.section_index(name);
      if (!sec) continue;
      auto b = elf.bytes(*sec, start, stop - start);
      if (b) return std::vector<uint8_t>(b->begin(), b->end());
    }
    return make_error("no section holds " + hex(start));
  }

  // The definition of `fn` holding `addr` (names repeat: static functions).
  Result<const ElfSymbol *> function(const std::string &fn, uint64_t addr) const {
    for (auto *s : elf.find_symbols(fn))
      if (s->type == STT_FUNC && addr >= s->value && addr < s->value + s->size) return s;
    return make_error(hex(addr) + " is not inside " + fn + " in " + elf.path().string());
  }
  // Up to `len` bytes of `f` from `addr` on.
  Result<std::vector<uint8_t>> code(const ElfSymbol &f, uint64_t addr, size_t len) const {
    KX_ASSIGN(bytes, elf.bytes(f.section, addr, std::min<uint64_t>(len, f.value + f.size - addr)));
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
  }
};

VmlinuxImage::~VmlinuxImage() = default;

Result<std::unique_ptr<VmlinuxImage>> VmlinuxImage::open(const std::filesystem::path &vmlinux) {
  KX_ASSIGN(elf, ElfFile::open(vmlinux));
  auto img = std::unique_ptr<VmlinuxImage>(new VmlinuxImage());
  img->impl_ = std::make_unique<Impl>(Impl{std::move(elf)});
  return img;
}

std::string VmlinuxImage::build_id() const { return impl_->elf.build_id(); }

uint64_t VmlinuxImage::text_base() const { return symbol("_text").value_or(0); }

std::optional<uint64_t> VmlinuxImage::symbol(const std::string &name) const {
  auto [it, fresh] = impl_->symbols.try_emplace(name);
  if (fresh)
    for (auto *s : impl_->elf.find_symbols(name)) {
      it->second = s->value;
      break;
    }
  return it->second;
}

// What arch/x86/tools/relocs.c makes the boot code patch when KASLR moves
// the kernel: absolute references (32, 32S, 64) to symbols other than
// per-CPU and absolute ones move with it; PC-relative references to
// per-CPU symbols move the other way; everything else stays.
Result<std::vector<uint64_t>> VmlinuxImage::exception_sites(const std::string &fn, uint64_t addr, size_t len) const {
  KX_ASSIGN(func, impl_->function(fn, addr));
  if (!impl_->extable) {
    // x86's relative entries (asm/extable.h): {int insn, fixup, data}, each
    // an offset from the field itself.
    std::vector<uint64_t> sites;
    auto start = symbol("__start___ex_table"), stop = symbol("__stop___ex_table");
    auto sec = impl_->elf.section_index("__ex_table");
    if (start && stop && sec && *stop > *start) {
      KX_ASSIGN(bytes, impl_->elf.bytes(*sec, *start, *stop - *start));
      for (size_t off = 0; off + 12 <= bytes.size(); off += 12) {
        int32_t rel;
        memcpy(&rel, bytes.data() + off, sizeof rel);
        sites.push_back(*start + off + static_cast<int64_t>(rel));
      }
    }
    std::sort(sites.begin(), sites.end());
    impl_->extable = std::move(sites);
  }
  const uint64_t end = std::min<uint64_t>(addr + std::min<uint64_t>(len, func->size), func->value + func->size);
  auto lo = std::lower_bound(impl_->extable->begin(), impl_->extable->end(), addr);
  auto hi = std::lower_bound(impl_->extable->begin(), impl_->extable->end(), end);
  return std::vector<uint64_t>(lo, hi);
}

namespace {

template <typename T>
T field(const std::vector<uint8_t> &b, size_t off) {
  T v;
  memcpy(&v, b.data() + off, sizeof v);
  return v;
}

}  // namespace

Result<std::vector<ReservedSite>> VmlinuxImage::reserved_sites(const std::string &fn, uint64_t addr, size_t len) const {
  KX_ASSIGN(func, impl_->function(fn, addr));
  if (!impl_->reserved) {
    std::vector<ReservedSite> sites;
    auto read = [&](const char *start, const char *stop, size_t entry, auto add) -> Status {
      auto a = symbol(start), b = symbol(stop);
      if (!a || !b || *b <= *a) return {};
      KX_ASSIGN(bytes, impl_->table(*a, *b));
      for (size_t off = 0; off + entry <= bytes.size(); off += entry) add(bytes, *a, off);
      return {};
    };
    // struct jump_entry {s32 code; s32 target; long key;}: relative to the field.
    KX_TRY(read("__start___jump_table", "__stop___jump_table", 16, [&](auto &b, uint64_t base, size_t off) {
      sites.push_back({base + off + static_cast<int64_t>(field<int32_t>(b, off)), 0, "jump label"});
    }));
    // struct static_call_site {s32 addr; s32 key;}: the low 2 bits of addr are flags.
    KX_TRY(read("__start_static_call_sites", "__stop_static_call_sites", 8, [&](auto &b, uint64_t base, size_t off) {
      sites.push_back({(base + off + static_cast<int64_t>(field<int32_t>(b, off))) & ~3ull, 5, "static call"});
    }));
    // __mcount_loc: absolute addresses of the 5-byte __fentry__ calls.
    KX_TRY(read("__start_mcount_loc", "__stop_mcount_loc", 8, [&](auto &b, uint64_t, size_t off) {
      sites.push_back({field<uint64_t>(b, off), 5, "ftrace"});
    }));
    std::sort(sites.begin(), sites.end(), [](auto &x, auto &y) { return x.addr < y.addr; });
    impl_->reserved = std::move(sites);
  }
  const uint64_t end = std::min<uint64_t>(addr + std::min<uint64_t>(len, func->size), func->value + func->size);
  std::vector<ReservedSite> out;
  for (auto &r : *impl_->reserved) {
    if (r.addr < addr || r.addr >= end) continue;
    ReservedSite site = r;
    if (!site.size) {  // arch_jump_entry_size(): a 2- or 5-byte jmp or nop
      KX_ASSIGN(insn, impl_->code(*func, site.addr, X_SIE_MAX_INSN));
      KX_ASSIGN(n, instruction_length(insn));
      site.size = static_cast<uint8_t>(n);
    }
    out.push_back(site);
  }
  return out;
}

Result<std::vector<SlideFixup>> VmlinuxImage::slide_fixups(const std::string &fn, uint64_t addr, size_t len) const {
  KX_ASSIGN(func, impl_->function(fn, addr));
  len = std::min<uint64_t>(len, func->value + func->size - addr);
  std::vector<SlideFixup> out;
  auto &rel = impl_->relocs[func->section];
  if (rel.empty()) rel = impl_->elf.relocations_for(func->section);
  if (!impl_->percpu) impl_->percpu = impl_->elf.section_index(".data..percpu").value_or(SIZE_MAX);
  auto it = std::lower_bound(rel.begin(), rel.end(), addr, [](auto &r, uint64_t a) { return r.offset < a; });
  for (; it != rel.end() && it->offset < addr + len; ++it) {
    const auto &syms = impl_->elf.symbols();
    if (it->symbol >= syms.size()) continue;
    const ElfSymbol &sym = syms[it->symbol];
    bool percpu = sym.section == *impl_->percpu && sym.name != "__init_begin" && sym.name != "__per_cpu_load" &&
                  sym.name.rfind("init_per_cpu_", 0) != 0;
    int8_t sign = 0;
    switch (it->type) {
      case R_X86_64_32:
      case R_X86_64_32S:
      case R_X86_64_64:
        if (!percpu && sym.section != SHN_ABS) sign = 1;
        break;
      case R_X86_64_PC32:
      case R_X86_64_PLT32:
        if (percpu) sign = -1;
        break;
    }
    unsigned width = relocation_width(it->type);
    size_t at = it->offset - addr;
    if (!sign || !width || at + width > len) continue;
    out.push_back({static_cast<uint32_t>(at), static_cast<uint8_t>(width), sign});
  }
  return out;
}

std::vector<uint8_t> apply_slide(std::vector<uint8_t> bytes, const std::vector<SlideFixup> &fixups, uint64_t slide) {
  if (!slide) return bytes;
  for (auto &f : fixups) {
    if (f.width > 8 || f.offset + f.width > bytes.size()) continue;
    uint64_t v = 0;
    memcpy(&v, &bytes[f.offset], f.width);
    v += f.sign > 0 ? slide : -slide;
    memcpy(&bytes[f.offset], &v, f.width);  // little-endian: the low `width` bytes
  }
  return bytes;
}

Result<std::vector<uint8_t>> VmlinuxImage::live_code(const std::string &fn, uint64_t addr, size_t len,
                                                     uint64_t slide) const {
  KX_ASSIGN(func, impl_->function(fn, addr));
  KX_ASSIGN(bytes, impl_->code(*func, addr, len));
  if (!slide) return bytes;
  KX_ASSIGN(fixups, slide_fixups(fn, addr, bytes.size()));
  return apply_slide(std::move(bytes), fixups, slide);
}

Result<uint64_t> VmlinuxImage::function_start(const std::string &fn, uint64_t addr) const {
  KX_ASSIGN(s, impl_->function(fn, addr));
  return s->value;
}

Result<std::vector<uint8_t>> VmlinuxImage::code(const std::string &fn, uint64_t addr, size_t len) const {
  KX_ASSIGN(s, impl_->function(fn, addr));
  return impl_->code(*s, addr, len);
}

namespace {

// The report can be planned here: a const named once, tunable, analysed for
// the running kernel. Returns its id.
// The module a report's spans or uses are in (`kx build` marks each with a
// "module" object), if any.
std::optional<std::string> module_of(const nlohmann::json &r) {
  for (const char *list : {"critical_spans", "uses"})
    for (auto &e : r.value(list, nlohmann::json::array()))
      if (e.contains("module") && e["module"].is_object()) return e["module"].value("name", std::string("?"));
  return std::nullopt;
}

Result<std::string> check_report(const nlohmann::json &r, const std::string &running_build_id,
                                 std::set<std::string> &names) {
  std::string id = r.value("id", "");
  if (id.empty() || id.size() >= X_SIE_NAME_LEN) return make_error("a report without a usable id");
  if (!names.insert(id).second) return make_error(id + " is given twice");
  // x-sie.ko resolves vmlinux addresses only: a span in a loadable module
  // would need the module's load address, build-id and lifetime (issue 16).
  // Checked before the verdict, whose reason for such a const is the same gap.
  if (auto mod = module_of(r))
    return make_error(id + "'s spans are in module " + *mod + ", which the runtime cannot patch yet");
  if (r.value("status", "") != "tunable")
    return make_error(id + " is not tunable: " + r.value("reason", std::string("no reason recorded")));
  std::string analysed = r.contains("kernel") ? r["kernel"].value("build_id", "") : "";
  if (analysed != running_build_id)
    return make_error(id + " was analysed for kernel build-id " + (analysed.empty() ? "(none)" : analysed) +
                      ", but the running kernel's is " + running_build_id);
  if (r.value("critical_spans", nlohmann::json::array()).empty()) return make_error(id + " has no critical span");
  return id;
}

struct ProvenRange {
  int64_t lo = INT64_MIN, hi = INT64_MAX;
  bool tunes_t = false;  // the value given is T, not V
};

// The proofs cover only the recorded ranges: the values every span is proven for.
Result<ProvenRange> proven_range(const std::string &id, const nlohmann::json &spans) {
  ProvenRange p;
  for (auto &s : spans) {
    std::string where = s.value("function", "?") + " " + s.value("probe_address", "?");
    if (s.value("proof", "") != "proved")
      return make_error(id + ": the update of span " + where + " is " + s.value("proof", std::string("unproved")) +
                        (s.contains("detail") ? ": " + s["detail"].get<std::string>() : ""));
    auto range = s.value("value_range", nlohmann::json::array());
    if (range.size() != 2) return make_error(id + ": span " + where + " has no proven value range");
    p.lo = std::max(p.lo, range[0].get<int64_t>());
    p.hi = std::min(p.hi, range[1].get<int64_t>());
    p.tunes_t = p.tunes_t || s.value("tunes_t", false);
  }
  if (p.lo > p.hi)
    return make_error(id + ": its critical spans are proven for no common value (ranges disjoint or empty)");
  return p;
}

// The const as the module gets it: its value (or policy), compiled value and range.
Result<x_sie_const> plan_const(const ConstRequest &req, const std::string &id, const ProvenRange &range,
                               std::vector<std::string> &notes) {
  const nlohmann::json &r = req.report;
  const bool policy = req.policy_fd >= 0;
  if (!policy && (req.value < range.lo || req.value > range.hi))
    return make_error(id + " = " + std::to_string(req.value) + " is outside [" + std::to_string(range.lo) + ", " +
                      std::to_string(range.hi) + "], the values its updates are proven for");
  if (range.tunes_t && !policy) {
    std::string how;
    for (auto &u : r.value("uses", nlohmann::json::array()))
      if (u.contains("nonlinear")) how = " (" + u["nonlinear"].get<std::string>() + ")";
    notes.push_back(id + " is compiled non-linearly" + how + ": " + std::to_string(req.value) +
                    " is T, the value the binary uses, not the source value V");
  }
  // The compiled value: a policy's x_default() and its value until the
  // first x_set(). Unknown only for a whole definition no use inverts.
  const auto known = report_value(r);
  if (policy && !known)
    return make_error(id + ": its compiled value is unknown (" + r.value("definition", std::string("?")) +
                      "), so a policy has no x_default(); use kx set with a value");
  if (policy && req.slot_fd < 0) return make_error(id + ": a policy without its slot map");
  const int64_t compiled = known.value_or(req.value);
  x_sie_const c{};
  memcpy(c.name, id.data(), id.size());
  c.value = static_cast<uint64_t>(policy ? compiled : req.value);
  c.min = range.lo, c.max = range.hi;
  c.dflt = static_cast<uint64_t>(compiled);
  c.policy_fd = req.policy_fd;
  c.slot_fd = req.slot_fd;
  return c;
}

// One critical span of const `ci`: its probe (and capture) sites with their
// live bytes, its update compiled for the module, and its static patch.
Status plan_span(Transaction &t, const ConstRequest &req, uint32_t ci, const nlohmann::json &s,
                 const KernelImage &image, uint64_t slide) {
  const std::string id = t.consts[ci].name;
  if (t.spans.size() >= X_SIE_MAX_SPANS)
    return make_error("more than " + std::to_string(X_SIE_MAX_SPANS) + " critical spans in one transaction");
  std::string fn = s.value("function", "");
  KX_ASSIGN(probe, parse_address(s.value("probe_address", nlohmann::json()), "probe_address"));
  bool has_capture = s.contains("capture_address");
  uint32_t kind = span_kind_from_name(s.value("kind", ""));
  if (!kind) return make_error(id + ": unknown span kind " + s.value("kind", std::string("(none)")));
  if ((kind == X_SIE_DUAL) != has_capture)
    return make_error(id + ": span " + fn + " " + hex(probe) + " is " + s.value("kind", "") +
                      (has_capture ? " but has" : " but has no") + " capture address");
  KX_ASSIGN(start, image.function_start(fn, probe));
  std::string label = fn + "+" + hex(probe - start);
  if (label.size() >= X_SIE_LABEL_LEN) label = label.substr(0, X_SIE_LABEL_LEN - 1);
  // Addresses the linker filled in, read from the linked kernel as it runs.
  auto update = resolve_linked(s.value("update", nlohmann::json()), [&](uint64_t offset) -> Result<uint64_t> {
    KX_ASSIGN(bytes, image.live_code(fn, start + offset, X_SIE_MAX_INSN, slide));
    return linked_address(bytes, start + offset + slide);
  });
  if (!update) return make_error(id + ": span " + label + ": " + update.error().message);
  auto prog = compile_update(*update, has_capture);
  if (!prog) return make_error(id + ": span " + label + ": " + prog.error().message);

  x_sie_span x{};
  x.const_index = ci;
  x.kind = kind;
  KX_ASSIGN(psite, site_at(image, fn, probe, slide));
  x.probe = psite;
  KX_TRY(predict_probe(t, image, fn, probe, slide));
  PlannedSpan planned{label, s.value("kind", ""), probe + slide, 0};
  if (has_capture) {
    KX_ASSIGN(capture, parse_address(s["capture_address"], "capture_address"));
    auto straight = check_straight_line(image, fn, capture, probe);
    if (!straight) return make_error(id + ": span " + label + ": " + straight.error().message);
    KX_ASSIGN(csite, site_at(image, fn, capture, slide));
    x.capture = csite;
    KX_TRY(predict_probe(t, image, fn, capture, slide));
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
  if (req.policy_fd < 0 && req.static_path) {
    auto st = plan_static_patch(req.report, s, req.value, image, slide);
    x.patch = st.patch;
    planned.static_why = st.why_not;
  }
  t.spans.push_back(x);
  t.planned.push_back(planned);
  return {};
}

}  // namespace

Result<Transaction> plan_transaction(const std::vector<ConstRequest> &consts, const KernelImage &image,
                                     const std::string &running_build_id, uint64_t slide, TransitionMode mode,
                                     bool return_thunks) {
  Transaction t;
  t.build_id = running_build_id;
  t.return_thunks = return_thunks;
  t.transition = mode == TransitionMode::global       ? X_SIE_TRANS_GLOBAL
                 : mode == TransitionMode::per_thread ? X_SIE_TRANS_PER_THREAD
                                                      : X_SIE_TRANS_IMMEDIATE;
  if (consts.empty()) return make_error("no const to set");
  if (consts.size() > X_SIE_MAX_CONSTS)
    return make_error("at most " + std::to_string(X_SIE_MAX_CONSTS) + " consts per transaction");
  std::set<std::string> names;
  for (uint32_t ci = 0; ci < consts.size(); ++ci) {
    const auto &r = consts[ci].report;
    KX_ASSIGN(id, check_report(r, running_build_id, names));
    const auto &spans = r["critical_spans"];
    KX_ASSIGN(range, proven_range(id, spans));
    KX_ASSIGN(c, plan_const(consts[ci], id, range, t.notes));
    t.consts.push_back(c);
    if (mode != TransitionMode::immediate) KX_TRY(plan_safe_spans(t, r, ci, image, slide));
    for (auto &s : spans) KX_TRY(plan_span(t, consts[ci], ci, s, image, slide));
  }
  if (mode != TransitionMode::immediate) KX_TRY(drop_exits_into_entries(t));
  return t;
}

namespace {

// {"kind": "jump-optimized"|"int3", "rule", "detail"} of the probe at `addr`.
nlohmann::json predicted_json(const Transaction &t, uint64_t addr) {
  auto it = t.predicted.find(addr);
  if (it == t.predicted.end()) return nullptr;
  nlohmann::json j = {{"kind", it->second.kind()}};
  if (!it->second.optimized) j["rule"] = it->second.rule, j["detail"] = it->second.detail;
  return j;
}

std::string site_bytes(const x_sie_site &s) {
  std::string out;
  char b[4];
  for (unsigned i = 0; i < s.len; ++i) {
    snprintf(b, sizeof b, "%s%02x", i ? " " : "", s.bytes[i]);
    out += b;
  }
  return out;
}

}  // namespace

nlohmann::json plan_json(const Transaction &t, uint64_t slide) {
  nlohmann::json consts = nlohmann::json::array();
  for (uint32_t ci = 0; ci < t.consts.size(); ++ci) {
    const auto &c = t.consts[ci];
    const bool policy = c.policy_fd >= 0;
    nlohmann::json j = {{"name", std::string(c.name, strnlen(c.name, sizeof c.name))},
                        {"compiled_value", static_cast<int64_t>(c.dflt)},
                        {"proven_range", {c.min, c.max}},
                        {"policy", policy},
                        {"critical_spans", nlohmann::json::array()},
                        {"safe_spans", nlohmann::json::array()}};
    if (!policy) j["value"] = static_cast<int64_t>(c.value);
    for (size_t i = 0; i < t.spans.size(); ++i) {
      if (t.spans[i].const_index != ci) continue;
      const auto &p = t.planned[i];
      nlohmann::json s = {{"label", p.label},
                          {"kind", p.kind},
                          {"probe_address", hex(p.probe)},
                          {"probe_bytes", site_bytes(t.spans[i].probe)},
                          {"probe_predicted", predicted_json(t, p.probe)},
                          {"update_nodes", t.spans[i].prog.n_nodes},
                          {"path", t.spans[i].patch.len ? "static" : "probe"}};
      if (!p.static_why.empty()) s["static_why_not"] = p.static_why;
      if (p.capture) {
        s["capture_address"] = hex(p.capture);
        s["capture_bytes"] = site_bytes(t.spans[i].capture);
        s["capture_predicted"] = predicted_json(t, p.capture);
      }
      j["critical_spans"].push_back(s);
    }
    for (auto &ss : t.safe_spans) {
      if (ss.const_index != ci) continue;
      nlohmann::json exits = nlohmann::json::array(), ranges = nlohmann::json::array(),
                     exits_predicted = nlohmann::json::array();
      for (unsigned e = 0; e < ss.n_exits; ++e) {
        exits.push_back(hex(ss.exits[e].addr));
        exits_predicted.push_back(predicted_json(t, ss.exits[e].addr));
      }
      for (unsigned r = 0; r < ss.n_ranges; ++r) ranges.push_back({hex(ss.ranges[r][0]), hex(ss.ranges[r][1])});
      j["safe_spans"].push_back({{"entry", hex(ss.entry.addr)},
                                 {"entry_predicted", predicted_json(t, ss.entry.addr)},
                                 {"exits", exits},
                                 {"exits_predicted", exits_predicted},
                                 {"ranges", ranges}});
    }
    consts.push_back(j);
  }
  return {{"build_id", t.build_id},
          {"slide", hex(slide)},
          {"return_thunks", t.return_thunks},
          {"transition", transition_mode_name(t.transition)},
          {"consts", consts},
          {"notes", t.notes}};
}

}  // namespace kx
