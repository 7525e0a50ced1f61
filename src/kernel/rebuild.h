// Rebuilding objects of the cached kernel tree with a constant changed in
// the source. The edit is journaled before it is made and undone (content
// and timestamp) on every path: success, error, Ctrl-C, and — through the
// journal — even a killed process, on the next run. Built objects are moved
// out of the tree so make never mistakes them for the originals.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "kernel/tree_cache.h"

namespace kx {

struct SourceEdit {
  std::string file;     // tree-relative
  size_t offset = 0;    // byte range replaced
  size_t length = 0;
  std::string text;     // replacement
};

// A lock on the tree: shared for readers of its sources (locating a const,
// finding its objects), exclusive while an edit is applied. Parallel kx
// builds thus never read a file another has edited.
class TreeLock {
 public:
  static Result<TreeLock> take(const PreparedKernel &k, bool exclusive);
  TreeLock(TreeLock &&o) noexcept;
  ~TreeLock();

 private:
  explicit TreeLock(int fd) : fd_(fd) {}
  int fd_;
};

// Undoes an interrupted edit recorded in the journal, if any. Called by
// build_variant; exposed for `kx kernel prepare` and tests.
Status recover_tree(const PreparedKernel &k);

// Builds `objects` (tree-relative .o paths) with `edits` applied and copies
// each to `out_dir/<object>`. The tree is locked for the duration, so
// concurrent kx builds take turns.
Status build_variant(const PreparedKernel &k, const std::vector<SourceEdit> &edits,
                     const std::vector<std::string> &objects, const std::filesystem::path &out_dir);

// Makes targets that are not part of the kernel's build (preprocessed
// sources, `dir/name.i`) with `edits` applied, the same safe way, but with
// make -k: each target is made or not on its own. The targets made are moved
// to `out_dir/<target>`; an error only on Ctrl-C or when the tree cannot be
// restored. Kbuild's record of each target (dir/.name.cmd) is removed, so
// the tree is left as it was.
struct ScratchMade {
  std::vector<std::string> made;
  std::string first_error;  // the first error line make printed, if any
};
Result<ScratchMade> make_scratch_variant(const PreparedKernel &k, const std::vector<SourceEdit> &edits,
                                         const std::vector<std::string> &targets,
                                         const std::filesystem::path &out_dir);

// The unmodified objects, built once per prepared tree and cached.
Result<std::filesystem::path> original_objects(const PreparedKernel &k, const std::vector<std::string> &objects);

}  // namespace kx
