#include "deploy/config.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "util/files.h"

namespace kx {
namespace fs = std::filesystem;

namespace {

std::string trim(const std::string &s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::string ApplyConfig::key() const {
  std::map<std::string, int64_t> sorted;
  for (auto &v : values) sorted[v.name] = v.value;
  std::string k = "transition=" + transition;
  for (auto &[n, v] : sorted) k += ";" + n + "=" + std::to_string(v);
  if (!policy.empty()) k += ";policy=" + policy.string() + "@" + policy_sha256;
  return k;
}

Result<ApplyConfig> parse_config(const std::string &text, const fs::path &file) {
  ApplyConfig c;
  c.file = file;
  std::istringstream in(text);
  std::string raw;
  int n = 0;
  bool transition_set = false;
  while (std::getline(in, raw)) {
    ++n;
    const std::string at = file.string() + ":" + std::to_string(n) + ": ";
    std::string line = trim(raw.substr(0, raw.find('#')));
    if (line.empty()) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) return make_error(at + "expected NAME = VALUE, got '" + line + "'");
    std::string name = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (name.empty() || value.empty()) return make_error(at + "expected NAME = VALUE, got '" + line + "'");
    if (name == "transition") {
      if (value != "global" && value != "per-thread" && value != "immediate")
        return make_error(at + "transition is global, per-thread or immediate, not '" + value + "'");
      if (transition_set) return make_error(at + "transition is given twice");
      c.transition = value, transition_set = true;
      continue;
    }
    if (name == "policy") {
      if (!c.policy.empty()) return make_error(at + "policy is given twice (first on line " + std::to_string(c.policy_line) + ")");
      c.policy = (file.parent_path() / value).lexically_normal(), c.policy_line = n;
      continue;
    }
    if (name.find_first_of(" \t") != std::string::npos) return make_error(at + "'" + name + "' is not a const name");
    ConfigValue v{name, 0, n};
    try {
      size_t used = 0;
      v.value = std::stoll(value, &used, 0);
      if (used != value.size()) throw std::invalid_argument(value);
    } catch (const std::exception &) {
      return make_error(at + "'" + value + "' is not an integer");
    }
    for (auto &o : c.values)
      if (o.name == name) return make_error(at + name + " is given twice (first on line " + std::to_string(o.line) + ")");
    c.values.push_back(v);
  }
  return c;
}

Result<std::vector<ApplyConfig>> read_configs(const fs::path &dir_or_file) {
  std::error_code ec;
  std::vector<fs::path> files;
  if (fs::is_directory(dir_or_file, ec)) {
    for (auto &e : fs::directory_iterator(dir_or_file, ec))
      if (e.path().extension() == ".conf" && e.is_regular_file()) files.push_back(e.path());
    if (ec) return make_error("cannot list " + dir_or_file.string() + ": " + ec.message());
    std::sort(files.begin(), files.end());
  } else if (fs::exists(dir_or_file, ec)) {
    files.push_back(dir_or_file);
  } else {
    return make_error(dir_or_file.string() + " does not exist");
  }
  std::vector<ApplyConfig> out;
  for (auto &f : files) {
    KX_ASSIGN(text, read_file(f));
    KX_ASSIGN(c, parse_config(text, fs::absolute(f).lexically_normal()));
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace kx
