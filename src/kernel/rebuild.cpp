#include "kernel/rebuild.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "util/files.h"
#include "util/process.h"

namespace kx {
namespace fs = std::filesystem;

namespace {

volatile sig_atomic_t g_interrupted = 0;
void on_signal(int) { g_interrupted = 1; }

fs::path journal_dir(const PreparedKernel &k) { return profile_cache_dir(k.profile) / "journal"; }

// Catches Ctrl-C/TERM/HUP while the tree is edited: make (same process
// group) stops on its own; we restore before reporting the interruption.
struct InterruptScope {
  struct sigaction old[3];
  const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
  InterruptScope() {
    g_interrupted = 0;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; ++i) sigaction(sigs[i], &sa, &old[i]);
  }
  ~InterruptScope() {
    for (int i = 0; i < 3; ++i) sigaction(sigs[i], &old[i], nullptr);
  }
};

// The journal: a copy of each file before its edit, plus its timestamp.
Status journal_edits(const PreparedKernel &k, const std::vector<SourceEdit> &edits) {
  fs::path dir = journal_dir(k);
  std::error_code ec;
  fs::create_directories(dir, ec);
  nlohmann::json meta = nlohmann::json::array();
  int i = 0;
  std::set<std::string> done;
  for (auto &e : edits) {
    if (!done.insert(e.file).second) continue;
    fs::path src = k.tree / e.file;
    KX_ASSIGN(text, read_file(src));
    std::string copy = "file" + std::to_string(i++);
    KX_TRY(write_file_atomic(dir / copy, text));
    auto mtime = fs::last_write_time(src, ec);
    meta.push_back({{"file", e.file}, {"copy", copy}, {"mtime", mtime.time_since_epoch().count()}});
  }
  // Written last: a journal without meta.json means nothing was edited yet.
  return write_file_atomic(dir / "meta.json", meta.dump());
}

Status apply_edits(const PreparedKernel &k, const std::vector<SourceEdit> &edits) {
  std::map<std::string, std::vector<const SourceEdit *>> by_file;
  for (auto &e : edits) by_file[e.file].push_back(&e);
  for (auto &[file, es] : by_file) {
    KX_ASSIGN(text, read_file(k.tree / file));
    // Back to front, so earlier offsets stay valid.
    std::sort(es.begin(), es.end(), [](auto *a, auto *b) { return a->offset > b->offset; });
    for (auto *e : es) {
      if (e->offset + e->length > text.size()) return make_error("edit outside " + file);
      text.replace(e->offset, e->length, e->text);
    }
    // In place (not rename): keeps the inode, and make sees a new mtime.
    std::ofstream out(k.tree / file, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) return make_error("cannot write " + file);
  }
  return {};
}

}  // namespace

Result<TreeLock> TreeLock::take(const PreparedKernel &k, bool exclusive) {
  fs::path p = profile_cache_dir(k.profile) / "tree.lock";
  int fd = open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return make_error("cannot open " + p.string());
  if (flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
    close(fd);
    return make_error("cannot lock " + p.string());
  }
  return TreeLock(fd);
}

TreeLock::TreeLock(TreeLock &&o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
TreeLock::~TreeLock() {
  if (fd_ >= 0) close(fd_);
}

Status recover_tree(const PreparedKernel &k) {
  fs::path dir = journal_dir(k);
  auto meta_text = read_file(dir / "meta.json");
  std::error_code ec;
  if (!meta_text) {
    fs::remove_all(dir, ec);
    return {};
  }
  auto meta = nlohmann::json::parse(*meta_text, nullptr, false);
  if (meta.is_discarded()) return make_error("corrupt journal " + (dir / "meta.json").string());
  for (auto &m : meta) {
    fs::path file = k.tree / m["file"].get<std::string>();
    KX_ASSIGN(text, read_file(dir / m["copy"].get<std::string>()));
    {
      std::ofstream out(file, std::ios::binary | std::ios::trunc);
      out << text;
      if (!out.flush()) return make_error("cannot restore " + file.string());
    }
    fs::last_write_time(file, fs::file_time_type(fs::file_time_type::duration(m["mtime"].get<int64_t>())), ec);
    if (ec) return make_error("cannot restore the timestamp of " + file.string() + ": " + ec.message());
  }
  fs::remove_all(dir, ec);
  return {};
}

namespace {

// The one way the tree is edited: under its exclusive lock, journaled, and
// restored before anything else can go wrong. Makes `targets` and moves each
// one made to out_dir; returns the ones made. Without `scratch` a target that
// is not made is an error; scratch targets (make -k) each stand on their own,
// and are no part of the tree's build state: their kbuild records go too.
Result<ScratchMade> make_in_edited_tree(const PreparedKernel &k, const std::vector<SourceEdit> &edits,
                                        const std::vector<std::string> &targets, const fs::path &out_dir,
                                        bool scratch) {
  KX_ASSIGN(lock, TreeLock::take(k, true));
  KX_TRY(recover_tree(k));
  InterruptScope interrupts;
  std::error_code ec;
  // Targets left in the tree would satisfy make without a rebuild.
  for (auto &o : targets) fs::remove(k.tree / o, ec);
  Status built;
  if (!edits.empty()) {
    KX_TRY(journal_edits(k, edits));
    built = apply_edits(k, edits);
  }
  std::string make_output;
  if (built) {
    std::vector<std::string> cmd = {"make", "-C", k.tree.string(),
                                    "-j" + std::to_string(std::max(1l, sysconf(_SC_NPROCESSORS_ONLN)))};
    if (scratch) cmd.push_back("-k");
    cmd.insert(cmd.end(), k.env.make_vars.begin(), k.env.make_vars.end());
    cmd.insert(cmd.end(), targets.begin(), targets.end());
    if (scratch) {
      auto r = run(cmd);
      if (!r) built = make_error("make failed: " + r.error().message);
      else make_output = r->output;
    } else if (auto r = run_checked(cmd); !r) {
      built = make_error("make failed: " + r.error().message);
    }
  }
  // Restore before anything else can go wrong.
  Status restored = edits.empty() ? Status{} : recover_tree(k);
  ScratchMade made;
  if (built && !g_interrupted) {
    for (auto &o : targets) {
      if (scratch && !fs::exists(k.tree / o)) continue;
      fs::create_directories((out_dir / o).parent_path(), ec);
      fs::rename(k.tree / o, out_dir / o, ec);
      if (ec) fs::copy_file(k.tree / o, out_dir / o, fs::copy_options::overwrite_existing, ec);
      if (ec) built = make_error("cannot move " + o + " out of the tree: " + ec.message());
      else made.made.push_back(o);
    }
  }
  for (auto &o : targets) {
    fs::remove(k.tree / o, ec);
    // Kbuild records how it made a target in dir/.name.cmd (and .name.d while it runs).
    fs::path p(o), dir = k.tree / p.parent_path();
    if (scratch)
      for (const char *ext : {".cmd", ".d"}) fs::remove(dir / ("." + p.filename().string() + ext), ec);
  }
  if (!restored) return restored.error().context("restoring the kernel tree");
  if (g_interrupted) return make_error("interrupted (kernel tree restored)");
  if (!built) return built.error();
  // One line: the first error make or the compiler reported.
  for (size_t b = 0, e; b < make_output.size() && made.first_error.empty(); b = e + 1) {
    e = make_output.find('\n', b);
    if (e == std::string::npos) e = make_output.size();
    std::string l = make_output.substr(b, e - b);
    if (l.find("rror") != std::string::npos) made.first_error = l;
  }
  return made;
}

}  // namespace

Status build_variant(const PreparedKernel &k, const std::vector<SourceEdit> &edits,
                     const std::vector<std::string> &objects, const fs::path &out_dir) {
  auto made = make_in_edited_tree(k, edits, objects, out_dir, false);
  if (!made) return made.error();
  return {};
}

Result<ScratchMade> make_scratch_variant(const PreparedKernel &k, const std::vector<SourceEdit> &edits,
                                         const std::vector<std::string> &targets, const fs::path &out_dir) {
  return make_in_edited_tree(k, edits, targets, out_dir, true);
}

Result<fs::path> original_objects(const PreparedKernel &k, const std::vector<std::string> &objects) {
  fs::path dir = profile_cache_dir(k.profile) / "objects" / k.build_id;
  std::vector<std::string> missing;
  for (auto &o : objects)
    if (!fs::exists(dir / o)) missing.push_back(o);
  if (!missing.empty()) KX_TRY(build_variant(k, {}, missing, dir));
  return dir;
}

}  // namespace kx
