// The declarative configs kx apply reads (/etc/kernelx/*.conf), one
// transaction per file:
//
//   # block layer plugging
//   BLK_MAX_REQUEST_COUNT = 8
//   transition = per-thread
//   policy = plug.bpf.o      # an X-tune object from kx compile
//
// A const by name (or FILE:LINE:TOKEN spec) and an integer; `transition` is
// global (the default), per-thread or immediate; `policy` a compiled X-tune
// (a path, relative to the config's directory) whose consts join the
// file's transaction. '#' starts a comment.
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
  std::vector<ConfigValue> values;  // empty, and no policy: the file asks for nothing (any earlier transaction goes)
  std::filesystem::path policy;     // "" when none
  int policy_line = 0;
  std::string policy_sha256;        // of the object's bytes, once read (kx apply)
  bool empty() const { return values.empty() && policy.empty(); }
  // What the file asks for, independent of spacing, comments and order: equal
  // keys need no new transaction. A policy counts by its bytes: a recompiled
  // object is a change.
  std::string key() const;
};

// Errors are "FILE:LINE: what", one line.
Result<ApplyConfig> parse_config(const std::string &text, const std::filesystem::path &file);

// A directory's *.conf files in name order, or one file.
Result<std::vector<ApplyConfig>> read_configs(const std::filesystem::path &dir_or_file);

}  // namespace kx
