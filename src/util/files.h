// Small file helpers with errors as values.
#pragma once
#include <filesystem>
#include <string>

#include "util/result.h"

namespace kx {

Result<std::string> read_file(const std::filesystem::path &p);
// Writes via a temporary file and rename, so readers never see half a file.
Status write_file_atomic(const std::filesystem::path &p, const std::string &content);
// A fresh directory under `parent` (mkdtemp), e.g. for one lab run.
Result<std::filesystem::path> make_temp_dir(const std::filesystem::path &parent,
                                            const std::string &prefix);
// FNV-1a 64-bit as 16 hex digits: cache keys, not security.
std::string hash_hex(const std::string &data);

}  // namespace kx
