#include "deploy/bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "spec/const_spec.h"
#include "util/hex.h"

namespace kx {
namespace fs = std::filesystem;

namespace {

// No member of a real bundle comes near this (x-sie.ko is ~1 MB with BTF):
// a bigger one is not a bundle, and is not read into memory.
constexpr int64_t kMaxMember = 64ll << 20;

Result<uint64_t> parse_hex(const nlohmann::json &j, const std::string &what) {
  if (!j.is_string()) return make_error("no " + what);
  try {
    return std::stoull(j.get<std::string>(), nullptr, 16);
  } catch (const std::exception &) {
    return make_error(what + " is not an address: " + j.get<std::string>());
  }
}

std::string bytes_hex(const std::vector<uint8_t> &b) {
  static const char *d = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) s += d[c >> 4], s += d[c & 15];
  return s;
}

Result<std::vector<uint8_t>> hex_bytes(const std::string &s) {
  if (s.size() % 2) return make_error("odd hex string");
  std::vector<uint8_t> out;
  for (size_t i = 0; i < s.size(); i += 2) {
    auto v = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = v(s[i]), lo = v(s[i + 1]);
    if (hi < 0 || lo < 0) return make_error("not hex");
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

// The functions (name, an address inside) planning reads code of.
std::set<std::pair<std::string, uint64_t>> functions_of(const std::vector<nlohmann::json> &reports) {
  std::set<std::pair<std::string, uint64_t>> out;
  auto add = [&](const nlohmann::json &j, const char *addr) {
    if (!j.contains(addr)) return;
    auto a = parse_hex(j[addr], addr);
    if (a) out.insert({j.value("function", ""), *a});
  };
  for (auto &r : reports) {
    for (auto &s : r.value("critical_spans", nlohmann::json::array())) add(s, "probe_address");
    for (auto &s : r.value("safe_spans", nlohmann::json::array())) add(s, "entry");
  }
  return out;
}

class ExcerptImage : public KernelImage {
 public:
  struct Fn {
    std::string name;
    uint64_t start = 0;
    std::vector<uint8_t> bytes;
    std::vector<SlideFixup> fixups;
    std::vector<uint64_t> extable;  // offsets of instructions with an exception-table entry
    std::vector<ReservedSite> reserved;  // addr: offset
  };
  std::vector<Fn> fns;
  std::map<std::string, uint64_t> symbols;

  Result<const Fn *> find(const std::string &fn, uint64_t addr) const {
    for (auto &f : fns)
      if (f.name == fn && addr >= f.start && addr < f.start + f.bytes.size()) return &f;
    return make_error(hex(addr) + " is not inside " + fn + " in the bundle's code");
  }
  Result<uint64_t> function_start(const std::string &fn, uint64_t addr) const override {
    KX_ASSIGN(f, find(fn, addr));
    return f->start;
  }
  Result<std::vector<uint8_t>> code(const std::string &fn, uint64_t addr, size_t len) const override {
    KX_ASSIGN(f, find(fn, addr));
    size_t off = addr - f->start, n = std::min(len, f->bytes.size() - off);
    return std::vector<uint8_t>(f->bytes.begin() + off, f->bytes.begin() + off + n);
  }
  std::optional<uint64_t> symbol(const std::string &name) const override {
    auto it = symbols.find(name);
    if (it == symbols.end()) return std::nullopt;
    return it->second;
  }
  Result<std::vector<uint64_t>> exception_sites(const std::string &fn, uint64_t addr, size_t len) const override {
    KX_ASSIGN(f, find(fn, addr));
    std::vector<uint64_t> out;
    for (auto off : f->extable)
      if (f->start + off >= addr && f->start + off - addr < len) out.push_back(f->start + off);
    return out;
  }
  Result<std::vector<ReservedSite>> reserved_sites(const std::string &fn, uint64_t addr, size_t len) const override {
    KX_ASSIGN(f, find(fn, addr));
    std::vector<ReservedSite> out;
    for (auto r : f->reserved)
      if (f->start + r.addr >= addr && f->start + r.addr - addr < len) out.push_back({f->start + r.addr, r.size, r.what});
    return out;
  }
  Result<std::vector<uint8_t>> live_code(const std::string &fn, uint64_t addr, size_t len,
                                         uint64_t slide) const override {
    KX_ASSIGN(f, find(fn, addr));
    KX_ASSIGN(bytes, code(fn, addr, len));
    // The function's fixups, moved to start at `addr`.
    std::vector<SlideFixup> here;
    const uint64_t off = addr - f->start;
    for (auto &x : f->fixups)
      if (x.offset >= off && x.offset + x.width <= off + bytes.size())
        here.push_back({static_cast<uint32_t>(x.offset - off), x.width, x.sign});
    return apply_slide(std::move(bytes), here, slide);
  }
};

// libarchive's reader and writer, freed on every path.
struct ArchiveReader {
  archive *a = archive_read_new();
  ~ArchiveReader() { archive_read_free(a); }
};
struct ArchiveWriter {
  archive *a = archive_write_new();
  ~ArchiveWriter() { archive_write_free(a); }
};

}  // namespace

std::string sha256_hex(const std::string &data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return bytes_hex(std::vector<uint8_t>(md, md + len));
}

const char *kx_version() { return KX_VERSION; }

std::string Bundle::build_id() const {
  return manifest.contains("kernel") ? manifest["kernel"].value("build_id", "") : "";
}

uint64_t Bundle::text_base() const {
  if (!manifest.contains("kernel")) return 0;
  auto b = parse_hex(manifest["kernel"].value("text_base", nlohmann::json()), "text_base");
  return b ? *b : 0;
}

Result<nlohmann::json> Bundle::report(const std::string &key) const {
  std::string canonical = key;
  if (auto spec = parse_const_spec(key)) canonical = spec->str();
  for (auto &r : reports)
    if (r.value("id", "") == key || r.value("spec", "") == canonical) return r;
  std::string held;
  for (auto &r : reports) held += (held.empty() ? "" : ", ") + r.value("id", std::string("?"));
  return make_error(key + " is not in the bundle (it holds " + (held.empty() ? "no const" : held) + ")");
}

Result<nlohmann::json> code_excerpt(const KernelImage &image, const std::vector<nlohmann::json> &reports) {
  nlohmann::json fns = nlohmann::json::array();
  std::set<std::pair<std::string, uint64_t>> seen;
  for (auto &[fn, addr] : functions_of(reports)) {
    KX_ASSIGN(start, image.function_start(fn, addr));
    if (!seen.insert({fn, start}).second) continue;
    KX_ASSIGN(bytes, image.code(fn, start, SIZE_MAX));
    KX_ASSIGN(fixups, image.slide_fixups(fn, start, bytes.size()));
    nlohmann::json fx = nlohmann::json::array();
    for (auto &f : fixups) fx.push_back({f.offset, f.width, f.sign});
    KX_ASSIGN(sites, image.exception_sites(fn, start, bytes.size()));
    nlohmann::json extable = nlohmann::json::array();
    for (auto a : sites) extable.push_back(a - start);
    KX_ASSIGN(patched, image.reserved_sites(fn, start, bytes.size()));
    nlohmann::json reserved = nlohmann::json::array();
    for (auto &r : patched) reserved.push_back({r.addr - start, r.size, r.what});
    fns.push_back({{"name", fn},
                   {"start", hex(start)},
                   {"bytes", bytes_hex(bytes)},
                   {"fixups", fx},
                   {"extable", extable},
                   {"reserved", reserved}});
  }
  nlohmann::json symbols = nlohmann::json::object();
  for (const char *s : {"__x86_return_thunk", "__indirect_thunk_start", "__indirect_thunk_end"})
    if (auto a = image.symbol(s)) symbols[s] = hex(*a);
  return nlohmann::json{{"functions", fns}, {"symbols", symbols}};
}

Result<std::unique_ptr<KernelImage>> excerpt_image(const nlohmann::json &code) {
  auto img = std::make_unique<ExcerptImage>();
  try {
    for (auto &f : code.at("functions")) {
      ExcerptImage::Fn x;
      x.name = f.at("name").get<std::string>();
      KX_ASSIGN(start, parse_hex(f.at("start"), "function start"));
      x.start = start;
      KX_ASSIGN(bytes, hex_bytes(f.at("bytes").get<std::string>()));
      x.bytes = std::move(bytes);
      for (auto &fx : f.at("fixups")) {
        SlideFixup s{fx.at(0).get<uint32_t>(), fx.at(1).get<uint8_t>(), fx.at(2).get<int8_t>()};
        if ((s.width != 4 && s.width != 8) || (s.sign != 1 && s.sign != -1) || s.offset + s.width > x.bytes.size())
          return make_error("a bad fixup in " + x.name);
        x.fixups.push_back(s);
      }
      // Bundles from before the probe-kind prediction have none.
      for (auto &off : f.value("extable", nlohmann::json::array())) {
        if (off.get<uint64_t>() >= x.bytes.size()) return make_error("a bad exception-table offset in " + x.name);
        x.extable.push_back(off.get<uint64_t>());
      }
      for (auto &r : f.value("reserved", nlohmann::json::array())) {
        ReservedSite site{r.at(0).get<uint64_t>(), r.at(1).get<uint8_t>(), r.at(2).get<std::string>()};
        if (site.addr >= x.bytes.size() || !site.size) return make_error("a bad reserved site in " + x.name);
        x.reserved.push_back(site);
      }
      img->fns.push_back(std::move(x));
    }
    for (auto &[name, a] : code.at("symbols").items()) {
      KX_ASSIGN(addr, parse_hex(a, name));
      img->symbols[name] = addr;
    }
  } catch (const nlohmann::json::exception &e) {
    return make_error(std::string("the code excerpt is malformed: ") + e.what());
  }
  return std::unique_ptr<KernelImage>(std::move(img));
}

Status write_bundle(const fs::path &file, Bundle b) {
  std::vector<std::pair<std::string, std::string>> members = {
      {kBundleReports, nlohmann::json(b.reports).dump(1) + "\n"},
      {kBundleCode, b.code.dump() + "\n"},
      {kBundleModule, b.module},
  };
  b.manifest["format"] = kBundleFormat;
  b.manifest["format_version"] = kBundleFormatVersion;
  b.manifest["members"] = nlohmann::json::array();
  for (auto &[name, data] : members)
    b.manifest["members"].push_back({{"name", name}, {"size", data.size()}, {"sha256", sha256_hex(data)}});
  members.insert(members.begin(), {"manifest.json", b.manifest.dump(2) + "\n"});

  // Written beside the target and renamed: a reader never sees half a bundle.
  fs::path tmp = file;
  tmp += ".tmp";
  ArchiveWriter w;
  archive_write_add_filter_gzip(w.a);
  archive_write_set_format_pax_restricted(w.a);
  if (archive_write_open_filename(w.a, tmp.c_str()) != ARCHIVE_OK)
    return make_error("cannot write " + tmp.string() + ": " + archive_error_string(w.a));
  for (auto &[name, data] : members) {
    archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    bool ok = archive_write_header(w.a, e) == ARCHIVE_OK &&
              archive_write_data(w.a, data.data(), data.size()) == static_cast<la_ssize_t>(data.size());
    archive_entry_free(e);
    if (!ok) return make_error("writing " + tmp.string() + ": " + archive_error_string(w.a));
  }
  if (archive_write_close(w.a) != ARCHIVE_OK)
    return make_error("writing " + tmp.string() + ": " + archive_error_string(w.a));
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) return make_error("cannot rename " + tmp.string() + " to " + file.string() + ": " + ec.message());
  return {};
}

Result<Bundle> read_bundle(const fs::path &file) {
  const std::string where = file.string();
  ArchiveReader r;
  archive_read_support_filter_gzip(r.a);
  archive_read_support_format_tar(r.a);
  if (archive_read_open_filename(r.a, file.c_str(), 1 << 16) != ARCHIVE_OK)
    return make_error(where + " is not a readable kernelx bundle: " + archive_error_string(r.a));
  std::map<std::string, std::string> members;
  archive_entry *e;
  for (;;) {
    int rc = archive_read_next_header(r.a, &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK) return make_error(where + " is damaged or truncated: " + archive_error_string(r.a));
    std::string name = archive_entry_pathname(e);
    if (archive_entry_filetype(e) != AE_IFREG) return make_error(where + ": " + name + " is not a plain file");
    int64_t size = archive_entry_size(e);
    if (size < 0 || size > kMaxMember) return make_error(where + ": member " + name + " is too large for a bundle");
    if (members.count(name)) return make_error(where + ": member " + name + " appears twice");
    std::string data(static_cast<size_t>(size), '\0');
    if (size && archive_read_data(r.a, data.data(), data.size()) != static_cast<la_ssize_t>(size))
      return make_error(where + " is damaged or truncated (in " + name + "): " +
                        (archive_error_string(r.a) ? archive_error_string(r.a) : "short read"));
    members[name] = std::move(data);
  }
  if (!members.count("manifest.json")) return make_error(where + " has no manifest.json: not a kernelx bundle");
  Bundle b;
  b.manifest = nlohmann::json::parse(members["manifest.json"], nullptr, false);
  if (b.manifest.is_discarded() || !b.manifest.is_object())
    return make_error(where + ": manifest.json is not a JSON object");
  if (b.manifest.value("format", "") != kBundleFormat) return make_error(where + " is not a kernelx bundle");
  int version = b.manifest.value("format_version", 0);
  if (version != kBundleFormatVersion)
    return make_error(where + " is bundle format " + std::to_string(version) + "; this kx reads format " +
                      std::to_string(kBundleFormatVersion));
  if (b.build_id().size() != 40) return make_error(where + ": the manifest names no kernel build-id");
  // Every member listed, present and intact; nothing unlisted.
  std::set<std::string> listed = {"manifest.json"};
  for (auto &m : b.manifest.value("members", nlohmann::json::array())) {
    std::string name = m.value("name", "");
    if (!listed.insert(name).second) return make_error(where + ": the manifest lists " + name + " twice");
    auto it = members.find(name);
    if (it == members.end()) return make_error(where + ": member " + name + " is missing");
    if (sha256_hex(it->second) != m.value("sha256", ""))
      return make_error(where + ": member " + name + " does not match its sha256 in the manifest (edited or corrupted)");
  }
  for (auto &[name, data] : members)
    if (!listed.count(name)) return make_error(where + ": member " + name + " is not in the manifest");
  for (const char *need : {kBundleReports, kBundleCode, kBundleModule})
    if (!members.count(need)) return make_error(where + ": member " + std::string(need) + " is missing");
  auto reports = nlohmann::json::parse(members[kBundleReports], nullptr, false);
  if (!reports.is_array()) return make_error(where + ": " + kBundleReports + " is not a JSON array");
  for (auto &rep : reports) {
    std::string analysed = rep.contains("kernel") ? rep["kernel"].value("build_id", "") : "";
    if (analysed != b.build_id())
      return make_error(where + ": " + rep.value("id", std::string("a report")) + " was analysed for build-id " +
                        analysed + ", not the bundle's " + b.build_id());
    b.reports.push_back(rep);
  }
  b.code = nlohmann::json::parse(members[kBundleCode], nullptr, false);
  if (b.code.is_discarded()) return make_error(where + ": " + kBundleCode + " is not JSON");
  b.module = std::move(members[kBundleModule]);
  return b;
}

}  // namespace kx
