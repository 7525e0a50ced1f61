#include "kernel/module_units.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "binary/elf_file.h"
#include "binary/function_compare.h"
#include "util/files.h"
#include "util/hex.h"

namespace kx {
namespace fs = std::filesystem;

namespace {

// What the cached index was read from: every .ko's path, size and time.
Result<std::string> modules_stamp(const fs::path &dir) {
  std::error_code ec;
  std::vector<std::string> lines;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file() || it->path().extension() != ".ko") continue;
    auto t = fs::last_write_time(it->path(), ec).time_since_epoch().count();
    lines.push_back(it->path().string() + " " + std::to_string(it->file_size(ec)) + " " + std::to_string(t));
  }
  if (ec) return make_error("cannot list " + dir.string() + ": " + ec.message());
  std::sort(lines.begin(), lines.end());
  std::string all;
  for (auto &l : lines) all += l + "\n";
  return hash_hex(all);
}

nlohmann::json units_json(const std::vector<CompileUnit> &units) {
  nlohmann::json a = nlohmann::json::array();
  for (auto &u : units)
    a.push_back({{"source", u.source}, {"object", u.object}, {"files", u.files}, {"module", u.module},
                 {"image", u.module_image.string()}});
  return a;
}

std::vector<CompileUnit> units_from_json(const nlohmann::json &a) {
  std::vector<CompileUnit> out;
  for (auto &j : a)
    out.push_back({j.at("source"), j.at("object"), j.at("files").get<std::vector<std::string>>(), j.at("module"),
                   j.at("image").get<std::string>()});
  return out;
}

}  // namespace

Result<std::vector<CompileUnit>> module_compile_units(const PreparedKernel &k) {
  const fs::path &dir = k.profile.debug_modules;
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return std::vector<CompileUnit>{};
  KX_ASSIGN(stamp, modules_stamp(dir));
  fs::path cache = profile_cache_dir(k.profile) / "module_units.json";
  if (auto text = read_file(cache)) {
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_discarded() && j.value("stamp", "") == stamp && j.contains("units")) {
      try {
        return units_from_json(j["units"]);
      } catch (const nlohmann::json::exception &) {
        // A cache of another shape is read again below.
      }
    }
  }
  KX_ASSIGN(units, read_module_compile_units(dir, k.tree));
  nlohmann::json j = {{"stamp", stamp}, {"units", units_json(units)}};
  KX_TRY(write_file_atomic(cache, j.dump()));
  return units;
}

std::map<std::string, std::vector<fs::path>> module_images_by_object(const std::vector<CompileUnit> &units) {
  std::map<std::string, std::vector<fs::path>> out;
  for (auto &u : units)
    if (!u.module.empty()) out[u.object].push_back(u.module_image);
  return out;
}

std::string ModuleFidelity::describe() const {
  std::string s = object + " in " + module + ": " + std::to_string(identical) + "/" + std::to_string(functions) +
                  " functions identical";
  auto list = [](const std::vector<std::string> &v) {
    std::string o;
    for (size_t i = 0; i < v.size() && i < 5; ++i) o += (i ? ", " : "") + v[i];
    if (v.size() > 5) o += ", … (" + std::to_string(v.size() - 5) + " more)";
    return o;
  };
  if (!differing.empty()) s += "; differing: " + list(differing);
  if (!missing.empty()) s += "; not in the module: " + list(missing);
  return s;
}

Result<std::vector<ModuleFidelity>> check_module_objects(const fs::path &orig_dir,
                                                         const std::vector<std::string> &objects,
                                                         const std::map<std::string, std::vector<fs::path>> &images) {
  std::vector<ModuleFidelity> out;
  for (auto &obj : objects) {
    auto it = images.find(obj);
    if (it == images.end()) continue;
    KX_ASSIGN(o, ElfFile::open(orig_dir / obj));
    for (auto &ko : it->second) {
      KX_ASSIGN(image, ElfFile::open(ko));
      ObjectFidelity f = compare_object(o, image);
      out.push_back({obj, module_name(ko), f.functions, f.identical, f.differing, f.missing});
    }
  }
  return out;
}

struct ModuleMaps::Open {
  ModuleImage image;
  DebugInfo debug;
};

ModuleMaps::ModuleMaps(std::map<std::string, std::vector<fs::path>> images, fs::path tree)
    : images_(std::move(images)), tree_(std::move(tree)) {}
ModuleMaps::ModuleMaps(ModuleMaps &&) noexcept = default;
ModuleMaps::~ModuleMaps() = default;

Result<ModuleMaps::Open *> ModuleMaps::open(const fs::path &ko) {
  auto it = open_.find(module_name(ko));
  if (it != open_.end()) return it->second.get();
  KX_ASSIGN(image, ModuleImage::open(ko));
  KX_ASSIGN(debug, DebugInfo::open_module(ko, tree_));
  auto o = std::make_unique<Open>(Open{std::move(image), std::move(debug)});
  return open_.emplace(module_name(ko), std::move(o)).first->second.get();
}

Result<ModuleLocation> ModuleMaps::function_location(const std::string &object, const ElfFile &elf,
                                                     const ElfSymbol &fn) {
  auto it = images_.find(object);
  if (it == images_.end()) return make_error(object + " is not linked into any module");
  Error why{"no module"};
  for (auto &ko : it->second) {
    KX_ASSIGN(o, open(ko));
    auto loc = o->image.function_location(elf, fn);
    if (loc) return *loc;
    why = loc.error();
  }
  return why;
}

Result<SourceLocation> ModuleMaps::locate(const ModuleLocation &at) {
  auto it = open_.find(at.module);
  if (it == open_.end()) return make_error("module " + at.module + " is not open");
  return it->second->debug.locate_in_section(at.section_index, at.offset);
}

std::string module_place(const ModuleLocation &at) { return at.module + ":" + at.section + "+" + hex(at.offset); }

}  // namespace kx
