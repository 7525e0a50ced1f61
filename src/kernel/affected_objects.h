// Which vmlinux objects can carry code for a constant: the compilation units
// that include its defining file and mention it (or a macro defined in terms
// of it). Over-approximates on purpose: the rebuild-and-diff that follows is
// the real test, this only keeps it to the objects worth rebuilding.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "binary/cu_index.h"
#include "util/result.h"

namespace kx {

struct AffectedObjects {
  std::vector<std::string> objects;  // tree-relative .o paths, sorted
  std::vector<std::string> macros;   // the macro and the macros defined in terms of it
};

// `macro` is empty for a literal or static const, whose code can only be in
// units that include `def_file`.
AffectedObjects find_affected_objects(const std::filesystem::path &tree, const std::vector<CompileUnit> &cus,
                                      const std::string &def_file, const std::string &macro);

}  // namespace kx
