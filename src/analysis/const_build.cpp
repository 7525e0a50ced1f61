#include "analysis/const_build.h"

#include "util/hex.h"

#include <chrono>
#include <functional>
#include <cstdio>
#include <memory>
#include <set>
#include <sstream>

#include "binary/cu_index.h"
#include "binary/vmlinux_symbols.h"
#include "seeds/function_diff.h"
#include "kernel/affected_objects.h"
#include "kernel/module_units.h"
#include "kernel/object_selection.h"
#include "kernel/rebuild.h"
#include "spec/c_tokens.h"
#include "synth/op_template.h"
#include "util/analysis_version.h"
#include "util/files.h"
#include "util/progress.h"

namespace kx {
namespace fs = std::filesystem;

const char *status_name(ConstStatus s) {
  switch (s) {
    case ConstStatus::Tunable: return "tunable";
    case ConstStatus::Untunable: return "untunable";
    case ConstStatus::Error: return "error";
  }
  return "error";
}

Result<ConstSite> resolve_const(const fs::path &tree, const std::string &arg) {
  if (arg.find(':') != std::string::npos) {
    KX_ASSIGN(spec, parse_const_spec(arg));
    return locate_spec(tree, spec);
  }
  return locate_macro(tree, arg);
}

namespace {

class PhaseTimer {
 public:
  explicit PhaseTimer(ConstReport &r) : r_(r), t_(std::chrono::steady_clock::now()) {}
  void lap(const std::string &phase) {
    auto now = std::chrono::steady_clock::now();
    r_.timing.push_back({phase, std::chrono::duration<double>(now - t_).count()});
    t_ = now;
  }

 private:
  ConstReport &r_;
  std::chrono::steady_clock::time_point t_;
};

std::string const_id(const ConstSite &s) {
  if (!s.name.empty()) return s.name;
  std::string stem = fs::path(s.file).stem().string();
  return stem + "_" + std::to_string(s.line) + "_" + std::to_string(s.token);
}

Result<std::string> render(const ConstSite &s, int64_t value) {
  if (s.token < 0) return std::to_string(value);  // the whole body
  return render_int_literal(s.token_text, static_cast<uint64_t>(value));
}

// Where a critical span's spec comes from, to compare it with a build at another value.
struct SpanSpec {
  std::string object;
  const std::map<std::string, DecodedFunction> *functions;  // of the build the spec is taken from
  std::string function;
  size_t first = 0, last = 0;
  bool by_expression = false;  // a region matched by its state expression: compared by it, not by shape
};

// The values the constant's token can take with its C type unchanged. A
// whole definition is replaced by a decimal number, an int while it fits.
Result<LiteralRange> literal_range(const ConstSite &s, std::optional<int64_t> v0) {
  if (s.token >= 0) {
    KX_ASSIGN(lit, literal_type_range(s.token_text));
    lit.type = "the literal " + s.token_text + " stays " + (lit.type[0] == 'i' ? "an " : "a ") + lit.type;
    return lit;
  }
  if (!v0 || (*v0 >= -INT32_MAX && *v0 <= INT32_MAX))
    return LiteralRange{-INT32_MAX, INT32_MAX, "the definition, written as a decimal number, stays an int"};
  return LiteralRange{-INT64_MAX, INT64_MAX, "the definition, written as a decimal number, stays a long"};
}

// The values every span is proven for.
std::pair<int64_t, int64_t> common_range(const std::vector<CriticalSpan> &spans) {
  int64_t lo = INT64_MIN, hi = INT64_MAX;
  for (auto &cs : spans) lo = std::max(lo, cs.v_min), hi = std::min(hi, cs.v_max);
  return {lo, hi};
}

template <typename T>
std::string join(const std::vector<T> &v, const std::string &sep, size_t max = 5) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size() && i < max; ++i) s << (i ? sep : "") << v[i];
  if (v.size() > max) s << sep << "… (" << v.size() - max << " more)";
  return s.str();
}

// Functions whose differences no seed explains — compiled differently for
// other values, with uses the original lacks, or with a relation that is not
// linear (a division's magic multiplier) — matched by operation templates
// instead (synth/op_template.h). A function is taken only when templates
// explain every region where it differs: its structural verdict, unmapped
// uses and seeds then give way to the templates' spans, appended to the
// region spans (`spans`, `objects`, `specs`, `fns` as build_const keeps them).
Status add_template_spans(ConstReport &r, std::vector<ObjectSeeds> &found, int64_t v0, const fs::path &orig_dir,
                          const fs::path &work, std::map<std::string, ElfFile> &objs, const VmlinuxSymbols &vmlinux,
                          DebugInfo &dbg, std::vector<CriticalSpan> &spans, std::vector<std::string> &objects,
                          std::vector<SpanSpec> &specs,
                          std::vector<std::unique_ptr<std::map<std::string, DecodedFunction>>> &fns,
                          const std::function<bool(const std::string &)> &in_module) {
  for (size_t i = 0; i < found.size(); ++i) {
    const std::string &obj = r.objects[i];
    // Template spans are placed at vmlinux addresses only, for now: a
    // module's uses keep their verdict.
    if (in_module(obj)) continue;
    std::set<std::string> names;  // as the builds name them
    for (auto &s : found[i].structural) names.insert(s);
    for (auto &rg : found[i].regions) names.insert(rg.function);
    for (auto &u : r.uses)
      if (u.seed.object == obj && !u.seed.relation.linear) names.insert(u.seed.function);
    if (names.empty()) continue;
    if (!objs.count(obj)) {
      KX_ASSIGN(e, ElfFile::open(orig_dir / obj));
      objs.emplace(obj, std::move(e));
    }
    KX_ASSIGN(orig_fns, decode_functions(objs.at(obj)));
    auto orig = std::make_unique<std::map<std::string, DecodedFunction>>(std::move(orig_fns));
    std::vector<std::pair<int64_t, std::map<std::string, DecodedFunction>>> builds;
    for (int64_t v : r.test_values) {
      KX_ASSIGN(e, ElfFile::open(work / std::to_string(v) / obj));
      KX_ASSIGN(fv, decode_functions(e));
      builds.push_back({v, std::move(fv)});
    }
    std::vector<std::vector<std::pair<std::string, std::string>>> pairs;
    for (auto &[v, fv] : builds) pairs.push_back(match_functions(*orig, fv));
    bool took = false;
    for (auto &[fn, of] : *orig) {
      // The function, if some build names it among `names`, and its partners.
      std::vector<TestBuild> tests;
      std::set<std::string> aliases = {fn};
      for (size_t b = 0; b < builds.size(); ++b)
        for (auto &[a, t] : pairs[b])
          if (a == fn) {
            tests.push_back({builds[b].first, &builds[b].second.at(t)});
            aliases.insert(t);
          }
      if (tests.size() != builds.size() ||
          std::none_of(aliases.begin(), aliases.end(), [&](auto &n) { return names.count(n) || names.count(obj + ":" + n); }))
        continue;
      std::string why;
      auto found_spans = find_template_spans(of, tests, v0, why);
      auto about = [&](const std::string &m) {
        return std::any_of(aliases.begin(), aliases.end(), [&](auto &n) {
          return m == obj + ":" + n || m.rfind(obj + ":" + n + "+", 0) == 0;
        });
      };
      // Only proven spans replace what the seeds gave (a T tuned directly
      // stays better than an unproven template).
      if (std::any_of(found_spans.begin(), found_spans.end(),
                      [](auto &cs) { return cs.proof != ProofResult::Proved; })) {
        why = found_spans.front().function + ": the template's update is " + proof_name(found_spans.front().proof) +
              (found_spans.front().detail.empty() ? "" : ": " + found_spans.front().detail);
        found_spans.clear();
      }
      if (found_spans.empty()) {
        // Unmapped uses in a seed region are matched by symbolic expression
        // next, which names them exactly: leave those to it.
        bool seed_region = std::any_of(found[i].regions.begin(), found[i].regions.end(),
                                       [&](const SeedRegion &rg) { return aliases.count(rg.function); });
        for (auto *list : {&r.structural, &r.unmapped})
          for (auto &m : *list)
            if (about(m) && !(list == &r.unmapped && seed_region)) m += " (by operation template: " + why + ")";
        continue;
      }
      took = true;
      std::erase_if(r.structural, about);
      std::erase_if(r.unmapped, about);
      std::erase_if(r.uses, [&](const ConstUse &u) { return u.seed.object == obj && aliases.count(u.seed.function); });
      std::erase_if(found[i].regions, [&](const SeedRegion &rg) { return aliases.count(rg.function); });
      const ElfFile &o = objs.at(obj);
      KX_ASSIGN(base, vmlinux.address_of(o, *o.find_symbols(fn).at(0)));
      r.function_address[obj + ":" + fn] = base;
      for (auto &cs : found_spans) {
        Seed sd;
        sd.object = obj;
        sd.function = fn;
        sd.offset = cs.start;
        sd.insn = of.insns[cs.first].text + " … " + of.insns[cs.last].text;
        sd.relation.nonlinear = "operation template: " + cs.expression;
        sd.by_expression = true;
        ConstUse use{sd, base + sd.offset, {}};
        if (auto loc = dbg.locate(use.address)) use.source = *loc;
        r.uses.push_back(use);
        spans.push_back(cs);
        objects.push_back(obj);
        specs.push_back({obj, orig.get(), fn, cs.first, cs.last});
      }
    }
    if (took) fns.push_back(std::move(orig));
  }
  return {};
}

}  // namespace

namespace {

// The whole analysis with test values of one family.
Result<ConstReport> analyse_const(const PreparedKernel &k, const std::string &arg, const BuildOptions &opts,
                                  TestFamily family) {
  ConstReport r;
  r.test_family = family;
  PhaseTimer timer(r);
  r.release = k.profile.release;
  r.build_id = k.build_id;
  {
    // An edit left by a killed kx is undone before anyone reads the tree.
    KX_ASSIGN(writing, TreeLock::take(k, true));
    KX_TRY(recover_tree(k));
  }
  std::optional<TreeLock> reading;
  {
    KX_ASSIGN(l, TreeLock::take(k, false));
    reading.emplace(std::move(l));
  }
  KX_ASSIGN(site, resolve_const(k.tree, arg));
  r.site = site;
  r.id = const_id(site);
  std::optional<int64_t> v0;
  if (site.value) v0 = static_cast<int64_t>(*site.value);
  timer.lap("locate");

  KX_ASSIGN(cus, read_compile_units(k.profile.debug_vmlinux, k.tree));
  // And the loadable modules' units: a const used by vmlinux and by modules
  // is analysed in all of them at once.
  KX_ASSIGN(module_cus, module_compile_units(k));
  ModuleMaps modules(module_images_by_object(module_cus), k.tree);
  cus.insert(cus.end(), module_cus.begin(), module_cus.end());
  AffectedObjects affected = find_affected_objects(k.tree, cus, site.file, site.name);
  reading.reset();  // the rebuilds below take the tree exclusively
  r.objects = affected.objects;
  r.macros = affected.macros;
  r.objects_seeing = r.objects.size();
  timer.lap("objects");
  // Most units that see a header constant never expand it into code; only
  // those that can are rebuilt (kernel/object_selection.h).
  if (r.objects.size() > kSelectAbove) {
    KX_ASSIGN(sel, select_expanding_objects(k, {site.file, site.offset, site.length, ""}, r.objects));
    r.objects = sel.kept;
    timer.lap("select");
  }
  if (r.objects.size() > opts.max_objects) {
    r.status = ConstStatus::Error;
    r.reason = std::to_string(r.objects_seeing) + " objects can see it, " + std::to_string(r.objects.size()) +
               " expand it (more than --max-objects " + std::to_string(opts.max_objects) +
               "); raise the bound to analyse it";
    return r;
  }
  if (r.objects.empty() && r.objects_seeing) {
    r.status = ConstStatus::Untunable;
    r.reason = "none of the " + std::to_string(r.objects_seeing) + " objects that can see it expands it into code";
    return r;
  }
  if (r.objects.empty()) {
    r.status = ConstStatus::Untunable;
    r.reason = "no object of vmlinux or of a module uses it (" + site.file +
               " is not seen by any unit of vmlinux or of the debug modules that mentions it)";
    return r;
  }

  fs::path work = profile_cache_dir(k.profile) / "builds" / r.id;
  Error last_failure{"no candidate test value"};
  // Builds the objects at `v` into work/v; false when that value does not
  // compile (a clamp whose bounds cross, a literal too wide for its use).
  auto build_value = [&](int64_t v) -> Result<bool> {
    KX_ASSIGN(text, render(site, v));
    fs::path dir = work / std::to_string(v);
    // A variant built before from the same tree, edit and objects is reused.
    std::string key = k.build_id + "\n" + site.spec + "\n" + text;
    for (auto &o : r.objects) key += "\n" + o;
    auto stamp = read_file(dir / ".variant");
    if (stamp && *stamp == key &&
        std::all_of(r.objects.begin(), r.objects.end(), [&](auto &o) { return fs::exists(dir / o); }))
      return true;
    // So is the knowledge that it does not compile.
    auto failed = read_file(dir / ".failed");
    if (failed && failed->rfind(key + "\n", 0) == 0) {
      last_failure = make_error(failed->substr(key.size() + 1));
      return false;
    }
    Progress prog("rebuilding " + std::to_string(r.objects.size()) + " object(s) at " + site.token_text + " = " +
                  std::to_string(v));
    std::error_code ec;
    fs::remove(dir / ".variant", ec);
    auto st = build_variant(k, {{site.file, site.offset, site.length, text}}, r.objects, dir);
    if (st) {
      KX_TRY(write_file_atomic(dir / ".variant", key));
      prog.done();
      return true;
    }
    if (st.error().message.rfind("interrupted", 0) == 0) return st.error();
    last_failure = st.error();
    KX_TRY(write_file_atomic(dir / ".failed", key + "\n" + st.error().message));
    auto msg = st.error().message;
    auto e = msg.find("error:");
    note("value " + std::to_string(v) + " does not compile" +
         (e == std::string::npos ? "" : ": " + msg.substr(e, msg.find('\n', e) - e)));
    return false;
  };
  std::vector<int64_t> candidates = choose_test_values(v0, family);
  size_t next = 0;
  // Builds the next candidate test value that compiles; false when none is left.
  auto build_next = [&]() -> Result<bool> {
    while (next < candidates.size()) {
      int64_t v = candidates[next++];
      KX_ASSIGN(built, build_value(v));
      if (built) {
        r.test_values.push_back(v);
        return true;
      }
    }
    return false;
  };
  {
    KX_ASSIGN(orig_dir, original_objects(k, r.objects));
    // A module object's seeds are mapped through its debug .ko, so the
    // tree must rebuild it to the module's code, as it does vmlinux's.
    KX_ASSIGN(fidelity, check_module_objects(orig_dir, r.objects, module_images_by_object(module_cus)));
    for (auto &f : fidelity) r.module_fidelity.push_back(f.describe());
    if (auto bad = std::find_if(fidelity.begin(), fidelity.end(), [](auto &f) { return !f.ok(); });
        bad != fidelity.end()) {
      r.status = ConstStatus::Error;
      r.reason = "the tree does not rebuild the module's code: " + bad->describe();
      return r;
    }
    while (r.test_values.size() < 3) {
      KX_ASSIGN(more, build_next());
      if (!more) break;
    }
    if (r.test_values.size() < 2)
      return make_error("fewer than two test values compile: " + last_failure.message);
    timer.lap("rebuild");

    // Diff; when some use agrees in fewer than three builds, add a value (up to five).
    std::vector<ObjectSeeds> found;
    for (;;) {
      found.clear();
      bool more_wanted = false;
      for (auto &obj : r.objects) {
        std::vector<Variant> variants;
        for (int64_t v : r.test_values) variants.push_back({v, work / std::to_string(v) / obj});
        KX_ASSIGN(f, find_object_seeds(obj, orig_dir / obj, variants, v0));
        more_wanted = more_wanted || f.wants_more_values;
        found.push_back(std::move(f));
      }
      if (!more_wanted || r.test_values.size() >= 5) break;
      KX_ASSIGN(more, build_next());
      if (!more) break;
    }
    for (size_t i = 0; i < found.size(); ++i) {
      const std::string &obj = r.objects[i];
      for (auto &s : found[i].seeds) r.uses.push_back({s, 0, {}});
      for (auto &s : found[i].structural) r.structural.push_back(obj + ":" + s);
      for (auto &s : found[i].unmapped) r.unmapped.push_back(obj + ":" + s);
      for (auto &s : found[i].layout) r.layout.push_back(obj + ": " + s);
    }
    timer.lap("diff");
    // A whole-definition spec (`#define X HPAGE_PMD_NR`) has no value in the
    // source; the shipped instructions carry it: every confirmed linear use
    // must invert to the same V, or it stays unknown.
    if (!v0) {
      std::set<int64_t> seen;
      bool all = !r.uses.empty();
      for (auto &u : r.uses) {
        auto v = u.seed.relation.confirmed ? u.seed.relation.invert(u.seed.original_t) : std::nullopt;
        if (v) seen.insert(*v);
        all = all && v;
      }
      if (all && seen.size() == 1) {
        v0 = *seen.begin();
        r.site.value = static_cast<uint64_t>(*v0);
      }
    }

    // From the original object to the running kernel.
    KX_ASSIGN(vmlinux, VmlinuxSymbols::open(k.profile.debug_vmlinux));
    KX_ASSIGN(dbg, DebugInfo::open(k.profile.debug_vmlinux, k.tree));
    std::map<std::string, ElfFile> objs;
    // Puts use `u` of function `fn` (of its original object `obj`) where the
    // shipped kernel has it: a vmlinux address, or a module's section + offset.
    auto place_use = [&](ConstUse &u, const ElfFile &obj, const ElfSymbol &fn) -> Status {
      std::string key = u.seed.object + ":" + u.seed.function;
      if (modules.has(u.seed.object)) {
        KX_ASSIGN(at, modules.function_location(u.seed.object, obj, fn));
        r.function_module[key] = at;
        u.module = at;
        u.module->offset += u.seed.offset;
        if (auto loc = modules.locate(*u.module)) u.source = *loc;
        return {};
      }
      KX_ASSIGN(base, vmlinux.address_of(obj, fn));
      r.function_address[key] = base;
      u.address = base + u.seed.offset;
      if (auto loc = dbg.locate(u.address)) u.source = *loc;
      return {};
    };
    for (auto &u : r.uses) {
      if (!objs.count(u.seed.object)) {
        KX_ASSIGN(e, ElfFile::open(orig_dir / u.seed.object));
        objs.emplace(u.seed.object, std::move(e));
      }
      const ElfFile &obj = objs.at(u.seed.object);
      auto syms = obj.find_symbols(u.seed.function);
      if (syms.empty()) return make_error(u.seed.object + " has no symbol " + u.seed.function);
      KX_TRY(place_use(u, obj, *syms[0]));
    }
    timer.lap("map");

    // Seeds the original has no instruction for: match the regions around
    // them by symbolic expression (synth/critical_span.h, build_region_span).
    std::vector<CriticalSpan> region_spans;
    std::vector<std::string> region_objects;
    std::vector<SpanSpec> region_specs;
    std::vector<std::unique_ptr<std::map<std::string, DecodedFunction>>> region_fns;  // the specs' functions
    if (v0 && r.layout.empty())
      KX_TRY(add_template_spans(r, found, *v0, orig_dir, work, objs, vmlinux, dbg, region_spans, region_objects,
                                region_specs, region_fns, [&](const std::string &o) { return modules.has(o); }));
    if (v0 && r.layout.empty() && r.structural.empty())
      for (size_t i = 0; i < found.size(); ++i)
        for (auto &rg : found[i].regions) {
          const std::string &obj = r.objects[i];
          KX_ASSIGN(test_elf, ElfFile::open(work / std::to_string(rg.test_value) / obj));
          KX_ASSIGN(test_fns, decode_functions(test_elf));
          if (!objs.count(obj)) {
            KX_ASSIGN(e, ElfFile::open(orig_dir / obj));
            objs.emplace(obj, std::move(e));
          }
          KX_ASSIGN(orig_fns, decode_functions(objs.at(obj)));
          std::vector<SpanSeed> seeds;
          for (auto &[insn, op, rel] : rg.seeds) seeds.push_back({insn, op, rel});
          std::string why;
          auto cs = build_region_span(orig_fns.at(rg.function), rg.orig_first, rg.orig_last,
                                      test_fns.at(rg.test_function), rg.test_first, rg.test_last, seeds, *v0, why);
          if (!cs || cs->proof != ProofResult::Proved) {
            for (auto &m : r.unmapped)
              for (auto &u : rg.unmapped)
                if (m == obj + ":" + u) m += "; by symbolic expression: " + (cs ? cs->detail : why);
            continue;
          }
          std::erase_if(r.unmapped, [&](const std::string &m) {
            return std::any_of(rg.unmapped.begin(), rg.unmapped.end(), [&](auto &u) { return m.rfind(obj + ":" + u, 0) == 0; });
          });
          const ElfFile &o = objs.at(obj);
          const DecodedFunction &of = orig_fns.at(rg.function);
          Seed sd;
          sd.object = obj;
          sd.function = rg.function;
          sd.offset = of.insns[rg.orig_first].offset;
          sd.insn = of.insns[rg.orig_first].text + " … " + of.insns[rg.orig_last].text;
          sd.relation = std::get<2>(rg.seeds.front());
          sd.original_t = sd.relation.apply(*v0).value_or(0);
          sd.by_expression = true;
          ConstUse use{sd, 0, {}, std::nullopt};
          KX_TRY(place_use(use, o, *o.find_symbols(rg.function).at(0)));
          r.uses.push_back(use);
          region_spans.push_back(*cs);
          region_objects.push_back(obj);
          region_fns.push_back(std::make_unique<std::map<std::string, DecodedFunction>>(std::move(test_fns)));
          region_specs.push_back({obj, region_fns.back().get(), rg.test_function, cs->spec_region->first,
                                  cs->spec_region->second, true});
        }

    // Critical spans, per function of the original objects (paper §3.4).
    if (!opts.seeds_only && r.layout.empty() && r.structural.empty() && r.unmapped.empty()) {
      std::map<std::string, std::map<std::string, std::vector<SpanSeed>>> by_fn;  // object -> function -> seeds
      std::map<std::string, std::map<std::string, DecodedFunction>> decoded;
      for (auto &u : r.uses) {
        if (u.seed.by_expression) continue;  // its span is built above
        if (!decoded.count(u.seed.object)) {
          KX_ASSIGN(fns, decode_functions(objs.at(u.seed.object)));
          decoded[u.seed.object] = std::move(fns);
        }
        const DecodedFunction &fn = decoded[u.seed.object].at(u.seed.function);
        for (size_t i = 0; i < fn.insns.size(); ++i)
          if (fn.insns[i].offset == u.seed.offset)
            by_fn[u.seed.object][u.seed.function].push_back({i, u.seed.operand, u.seed.relation});
      }
      std::vector<SpanStart> starts;
      // Safe spans are sliced over the linked vmlinux: a span in a module
      // has none yet (see below).
      std::set<std::string> sliceless_modules;
      auto add_start = [&](const std::string &obj, const CriticalSpan &cs) {
        auto m = r.function_module.find(obj + ":" + cs.function);
        if (m != r.function_module.end()) {
          sliceless_modules.insert(m->second.module);
          return;
        }
        starts.push_back({r.function_address.at(obj + ":" + cs.function), cs.first, cs.last, cs.defines});
      };
      std::vector<SpanSpec> specs;  // of r.spans, in order
      for (size_t k = 0; k < region_spans.size(); ++k) {
        auto &cs = region_spans[k];
        add_start(region_objects[k], cs);
        r.spans.push_back(cs);
        specs.push_back(region_specs[k]);
      }
      for (auto &[obj, fns] : by_fn) {
        // The test builds of this object, for the cross-build check.
        std::vector<std::pair<int64_t, std::map<std::string, DecodedFunction>>> variants;
        for (int64_t v : r.test_values) {
          KX_ASSIGN(e, ElfFile::open(work / std::to_string(v) / obj));
          KX_ASSIGN(fv, decode_functions(e));
          variants.push_back({v, std::move(fv)});
        }
        for (auto &[fn, seeds] : fns) {
          std::vector<TestBuild> tests;
          for (auto &[v, fv] : variants)
            for (auto &[a, b] : match_functions(decoded[obj], fv))
              if (a == fn) tests.push_back({v, &fv.at(b)});
          for (auto &cs : build_critical_spans(decoded[obj].at(fn), seeds, tests)) {
            add_start(obj, cs);
            r.spans.push_back(cs);
            specs.push_back({obj, &decoded[obj], fn, cs.first, cs.last});
          }
        }
      }
      timer.lap("spans");
      KX_ASSIGN(lit, literal_range(site, v0));
      // A value known to compile to every span: V0, or else (a whole
      // definition no use inverts) a test value every span agreed with.
      std::optional<int64_t> anchor = v0;
      for (int64_t tv : r.test_values)
        if (!anchor && std::all_of(r.spans.begin(), r.spans.end(), [&](auto &cs) {
              return std::any_of(cs.cross_builds.begin(), cs.cross_builds.end(),
                                 [&](auto &c) { return c.first == tv && c.second == "same"; });
            }))
          anchor = tv;
      std::map<std::pair<int64_t, std::string>, std::map<std::string, DecodedFunction>> built;
      // Cross builds cost a rebuild of every object per value tried: none
      // for a const one unproven span already leaves untunable.
      const bool all_proved =
          std::all_of(r.spans.begin(), r.spans.end(), [](auto &cs) { return cs.proof == ProofResult::Proved; });
      if (!all_proved)
        for (auto &cs : r.spans)
          if (cs.proof == ProofResult::Proved)
            cs.range_basis.push_back("not confirmed by cross builds: another span of the const is not proven");
      for (size_t si = 0; si < r.spans.size() && all_proved; ++si) {
        CriticalSpan &cs = r.spans[si];
        const SpanSpec &spec = specs[si];
        if (cs.proof != ProofResult::Proved) continue;
        ValueRange range{cs.v_min, cs.v_max, cs.range_basis};
        if (cs.tunes_t) {
          // T itself is set: there is no V to build at, and the literal's type bounds V, not T.
          range.basis.push_back("non-linear: the range is of T and is not confirmed by cross builds");
        } else if (!anchor) {
          range = {1, 0, {"no value is known to compile to the span, so no cross build can confirm a range"}};
        } else {
          range.intersect(lit.lo, lit.hi, lit.type);
          // The build at `v` has the span's shape with T = f(v)?
          auto same_at = [&](int64_t v) -> Result<bool> {
            KX_ASSIGN(ok, build_value(v));
            if (!ok) return false;
            auto key = std::make_pair(v, spec.object);
            if (!built.count(key)) {
              KX_ASSIGN(e, ElfFile::open(work / std::to_string(v) / spec.object));
              KX_ASSIGN(fns, decode_functions(e));
              built[key] = std::move(fns);
            }
            const auto &fns = built[key];
            for (auto &[a, b] : match_functions(*spec.functions, fns))
              if (a == spec.function) {
                if (!cs.op_templates.empty()) return build_computes_templates(spec.functions->at(a), cs, fns.at(b), v);
                return (spec.by_expression ? same_region_expression : same_expression)(
                           spec.functions->at(a), spec.first, spec.last, cs.seeds, fns.at(b), v, 10000) == "same";
              }
            return false;
          };
          KX_ASSIGN(confirmed, confirm_range(range, *anchor, same_at));
          range = confirmed;
        }
        cs.v_min = range.lo;
        cs.v_max = range.hi;
        cs.range_basis = range.basis;
      }
      timer.lap("ranges");
      // Safe spans, on the linked kernel (paper §3.5).
      KernelCode code(vmlinux.elf());
      r.safe_spans = build_safe_spans(code, starts);
      for (auto &m : sliceless_modules)
        r.notes.push_back("no safe spans for the critical spans in module " + m +
                          ": the slicer runs on the linked vmlinux, and a module is linked only when it loads");
      timer.lap("safe_spans");
    }
  }

  if (!r.layout.empty()) {
    r.status = ConstStatus::Untunable;
    r.reason = "changes memory layout: " + join(r.layout, "; ", 3);
  } else if (!r.structural.empty()) {
    r.status = ConstStatus::Untunable;
    r.reason = "the compiler generates different code for other values (strength reduction or folding), so no "
               "instruction carries it in: " + join(r.structural, ", ", 4);
  } else if (!r.unmapped.empty()) {
    r.status = ConstStatus::Untunable;
    r.reason = "uses found in the test builds could not be located in the shipped code: " + join(r.unmapped, "; ", 3);
  } else if (r.uses.empty()) {
    r.status = ConstStatus::Untunable;
    r.reason = "no seed: every use was folded away (the objects are identical at " + site.token_text + " and " +
               join(r.test_values, ", ") + ")";
  } else if (auto bad = std::find_if(r.spans.begin(), r.spans.end(),
                                     [](auto &cs) { return cs.proof != ProofResult::Proved; });
             bad != r.spans.end()) {
    r.status = ConstStatus::Untunable;
    r.reason = "critical span " + bad->function + "+" + hex(bad->start) + " is " + proof_name(bad->proof) +
               (bad->detail.empty() ? "" : ": " + bad->detail);
  } else if (auto none = std::find_if(r.spans.begin(), r.spans.end(), [](auto &cs) { return cs.v_min > cs.v_max; });
             none != r.spans.end()) {
    r.status = ConstStatus::Untunable;
    r.reason = "critical span " + none->function + "+" + hex(none->start) + " has no value it is proven for: " +
               (none->range_basis.empty() ? "empty range" : none->range_basis.back());
  } else if (auto [lo, hi] = common_range(r.spans); lo > hi) {
    r.status = ConstStatus::Untunable;
    r.reason = "its critical spans' value ranges have no value in common";
  } else if (auto mod = std::find_if(r.uses.begin(), r.uses.end(), [](auto &u) { return u.module.has_value(); });
             mod != r.uses.end()) {
    // Proven as far as the analysis goes, but a transition needs safe
    // spans and x-sie.ko needs module addresses: neither exists for modules yet.
    r.status = ConstStatus::Untunable;
    r.reason = "its uses in module " + mod->module->module +
               " are analysed, but not tunable yet: modules have no safe spans (the slicer runs on the linked "
               "vmlinux) and the runtime cannot patch a module";
  } else {
    r.status = ConstStatus::Tunable;
  }
  return r;
}

// Some span sets T itself: the relation is not linear (x * 64 compiled as a
// shift by log2 V), so only the values whose T the relation hits are
// meaningful, and the range is not one of V.
bool sets_t(const ConstReport &r) {
  return std::any_of(r.spans.begin(), r.spans.end(), [](auto &cs) { return cs.tunes_t; });
}

// Another family of test values may locate what this one could not: uses
// the shipped code computes with other instructions (a multiply by 3 is a
// lea, by 15 a shift and a subtract), code the test values strength-reduce
// or fold (a shift count past the width), a span whose test build the
// compiler shaped differently; or state in V what this one states in T
// (plain values compile x * V to an imul, T = V). A layout change or a
// proof the update language cannot express stays whatever the values.
bool worth_another_family(const ConstReport &r) {
  if (!r.site.value) return false;
  // Only a multiply compiled as a shift (T = log2 V) has an imul to find; a
  // divide would be a multiply by a magic number at plain values.
  if (r.status == ConstStatus::Tunable)
    return sets_t(r) && std::any_of(r.uses.begin(), r.uses.end(), [](auto &u) {
             return !u.seed.relation.linear && (u.seed.insn.rfind("shl", 0) == 0 || u.seed.insn.rfind("sal", 0) == 0);
           });
  if (r.status != ConstStatus::Untunable || !r.layout.empty()) return false;
  return !r.structural.empty() || !r.unmapped.empty() ||
         std::any_of(r.spans.begin(), r.spans.end(), [](auto &cs) { return cs.proof == ProofResult::Failed; });
}

// What a family's analysis came to, for the report of the one kept.
std::string family_outcome(const ConstReport &r) {
  std::string what = r.status == ConstStatus::Tunable ? "tunable, but some span sets T (the relation is not linear)"
                                                      : r.reason;
  return std::string(test_family_name(r.test_family)) + " (" + join(r.test_values, ", ") + "): " + what;
}

}  // namespace

Result<ConstReport> build_const(const PreparedKernel &k, const std::string &arg, const BuildOptions &opts) {
  KX_ASSIGN(first, analyse_const(k, arg, opts, TestFamily::Shaped));
  std::vector<std::pair<std::string, double>> timing = first.timing;
  std::vector<std::string> tried;
  for (TestFamily family : {TestFamily::Plain, TestFamily::Near}) {
    if (!worth_another_family(first)) break;
    auto values = choose_test_values(static_cast<int64_t>(*first.site.value), family);
    if (values.empty()) continue;
    auto again = analyse_const(k, arg, opts, family);
    if (!again && again.error().message.rfind("interrupted", 0) == 0) return again.error();
    // Every attempt's time counts: the report says what the analysis cost.
    if (again) timing.insert(timing.end(), again->timing.begin(), again->timing.end());
    // Kept: tunable where the first was not, or tunable in V where the
    // first set T.
    if (again && again->status == ConstStatus::Tunable &&
        (first.status != ConstStatus::Tunable || !sets_t(*again))) {
      again->timing = timing;
      again->families_tried = tried;
      again->families_tried.insert(again->families_tried.begin(), family_outcome(first));
      return again;
    }
    tried.push_back(again ? family_outcome(*again)
                          : std::string(test_family_name(family)) + " (" + join(values, ", ") + "): " +
                                again.error().message);
  }
  // No other family did better: the first family's report says why, the
  // others are listed.
  first.timing = timing;
  first.families_tried = tried;
  return first;
}

namespace {

nlohmann::json module_json(const ModuleLocation &m) {
  return {{"name", m.module}, {"build_id", m.build_id}, {"section", m.section}, {"offset", hex(m.offset)}};
}

}  // namespace

nlohmann::json to_json(const ConstReport &r) {
  nlohmann::json j;
  j["id"] = r.id;
  j["spec"] = r.site.spec;
  j["name"] = r.site.name;
  j["value"] = r.site.value ? nlohmann::json(*r.site.value) : nlohmann::json(nullptr);
  j["kind"] = site_kind_name(r.site.kind);
  j["definition"] = r.site.definition;
  j["kernel"] = {{"release", r.release}, {"build_id", r.build_id}};
  j["analysis"] = analysis_version();
  j["objects"] = r.objects;
  j["objects_seeing"] = r.objects_seeing;
  j["test_values"] = r.test_values;
  j["test_family"] = test_family_name(r.test_family);
  j["families_tried"] = r.families_tried;
  j["uses"] = nlohmann::json::array();
  for (auto &u : r.uses) {
    nlohmann::json use = {{"object", u.seed.object},
                          {"function", u.seed.function},
                          {"offset", u.seed.offset},
                          {"address", u.module ? module_place(*u.module) : hex(u.address)},
                          {"insn", u.seed.insn},
                          {"operand", u.seed.operand},
                          {"t", u.seed.original_t},
                          {"renamed", u.seed.renamed},
                          {"matched", u.seed.by_expression ? "expression" : "operand"},
                          {"source", u.source.file + ":" + std::to_string(u.source.line)}};
    nlohmann::json chain = nlohmann::json::array();
    for (auto &f : u.source.frames)
      chain.push_back({{"function", f.function}, {"source", f.file + ":" + std::to_string(f.line)}});
    use["inline_chain"] = chain;
    if (u.module) use["module"] = module_json(*u.module);
    if (u.seed.relation.linear)
      use["relation"] = {{"a", u.seed.relation.a}, {"b", u.seed.relation.b}, {"confirmed", u.seed.relation.confirmed}};
    else
      use["nonlinear"] = u.seed.relation.describe();
    j["uses"].push_back(use);
  }
  j["critical_spans"] = nlohmann::json::array();
  for (auto &cs : r.spans) {
    uint64_t base = 0;
    for (auto &[key, addr] : r.function_address)
      if (key.substr(key.find(':') + 1) == cs.function) base = addr;
    const ModuleLocation *in_module = nullptr;
    for (auto &[key, at] : r.function_module)
      if (key.substr(key.find(':') + 1) == cs.function) in_module = &at;
    nlohmann::json span = {{"function", cs.function},
                           {"start", cs.start},
                           {"end", cs.end},
                           {"address", hex(base + cs.start)},
                           {"probe_address", hex(base + cs.probe)},
                           {"kind", synth_kind_name(cs.kind)},
                           {"defines", cs.defines},
                           {"expression", cs.expression},
                           {"update", cs.update},
                           {"proof", proof_name(cs.proof)},
                           {"value_range", {cs.v_min, cs.v_max}},
                           {"value_range_basis", cs.range_basis},
                           {"tunes_t", cs.tunes_t}};
    if (cs.capture) span["capture_address"] = hex(base + *cs.capture);
    if (in_module) {
      // Module-relative: the section offset of the span, its probe and capture.
      auto at = [&](uint64_t off) {
        ModuleLocation m = *in_module;
        m.offset += off;
        return m;
      };
      span["address"] = module_place(at(cs.start));
      span["probe_address"] = module_place(at(cs.probe));
      if (cs.capture) span["capture_address"] = module_place(at(*cs.capture));
      span["module"] = module_json(at(cs.start));
    }
    nlohmann::json cross = nlohmann::json::object();
    for (auto &[v, verdict] : cs.cross_builds) cross[std::to_string(v)] = verdict;
    span["cross_builds"] = cross;
    if (!cs.detail.empty()) span["detail"] = cs.detail;
    if (!cs.notes.empty()) span["notes"] = cs.notes;
    j["critical_spans"].push_back(span);
  }
  j["safe_spans"] = nlohmann::json::array();
  for (auto &ss : r.safe_spans) {
    nlohmann::json exits = nlohmann::json::array(), ranges = nlohmann::json::array(), probes = nlohmann::json::array();
    for (auto e : ss.exits) exits.push_back(hex(e));
    for (auto &rg : ss.ranges) ranges.push_back({{"function", rg.function}, {"start", hex(rg.start)}, {"end", hex(rg.end)}});
    for (auto &p : ss.probes) {
      nlohmann::json pj = {{"address", hex(p.address)}, {"kind", p.kind}, {"probeable", p.probeable}};
      if (!p.probeable) pj["why_not"] = p.why_not;
      if (p.fallback) pj["fallback"] = hex(*p.fallback);
      probes.push_back(pj);
    }
    nlohmann::json sj = {{"function", ss.function}, {"entry", hex(ss.entry)}, {"exits", exits},
                         {"callees", ss.callees},   {"callers", ss.callers}, {"size_insns", ss.size_insns},
                         {"merged_from", ss.merged_from}, {"ranges", ranges}, {"probes", probes},
                         {"conservative", ss.conservative}};
    if (ss.conservative) sj["conservative_reason"] = ss.conservative_reason;
    if (!ss.escapes.empty()) sj["escapes"] = ss.escapes;
    j["safe_spans"].push_back(sj);
  }
  j["status"] = status_name(r.status);
  j["reason"] = r.reason;
  if (!r.structural.empty()) j["structural"] = r.structural;
  if (!r.unmapped.empty()) j["unmapped"] = r.unmapped;
  if (!r.layout.empty()) j["layout"] = r.layout;
  if (!r.module_fidelity.empty()) j["module_fidelity"] = r.module_fidelity;
  if (!r.notes.empty()) j["notes"] = r.notes;
  nlohmann::json t = nlohmann::json::object();
  double total = 0;
  for (auto &[phase, s] : r.timing) {
    t[phase] = t.value(phase, 0.0) + s;  // a phase of every family tried
    total += s;
  }
  t["total"] = total;
  j["timing"] = t;
  return j;
}

}  // namespace kx
