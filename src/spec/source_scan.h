// A fast pass over the C sources of a kernel tree that an x86 build can see,
// for name look-ups: each file is read once, and only files holding the name
// as a whole word are handed on to be tokenized.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace kx {

// The .c and .h files under `tree` outside other architectures' arch/ and the
// parts never built into the kernel (tools/, Documentation/, samples/,
// scripts/, usr/), that contain `word` not as part of a longer identifier.
// `visit` gets the path relative to `tree` and the content.
Status scan_sources(const std::filesystem::path &tree, std::string_view word,
                    const std::function<void(const std::string &rel, const std::string &content)> &visit);

}  // namespace kx
