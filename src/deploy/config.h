// The declarative configs kx apply reads (/etc/kernelx/*.conf), one
// transaction per file:
//
//   # block layer plugging
//   BLK_MAX_REQUEST_COUNT = 8
//   transition = per-thread
//
// A const by name (or FILE:LINE:TOKEN spec) and an integer; `transition` is
// global (the default), per-thread or immediate. '#' starts a comment.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "util/result.h"

namespace kx {

struct ConfigValue {
  std::string name;
  int64_t value = 0;
  int line = 0;
};

struct ApplyConfig {
  std::filesystem::path file;
  std::string transition = "global";
  std::vector<ConfigValue> values;  // empty: the file asks for nothing (any earlier transaction goes)
  // What the file asks for, independent of spacing, comments and order: equal
  // keys need no new transaction.
  std::string key() const;
};

// Errors are "FILE:LINE: what", one line.
Result<ApplyConfig> parse_config(const std::string &text, const std::filesystem::path &file);

// A directory's *.conf files in name order, or one file.
Result<std::vector<ApplyConfig>> read_configs(const std::filesystem::path &dir_or_file);

}  // namespace kx
