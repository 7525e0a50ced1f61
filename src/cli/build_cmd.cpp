// kx build SPEC... [--seeds-only] [--if-stale] [--json]
#include <iostream>

#include "analysis/const_build.h"
#include "cli/commands.h"
#include "scope/scope_table.h"
#include "spec/const_spec.h"

namespace kx::cli {

void add_build_command(CLI::App &app, Globals &g, Action &action) {
  auto *build = app.add_subcommand("build", "analyse perf-consts: seeds, T = f(V), uses in the running kernel");
  auto specs = std::make_shared<std::vector<std::string>>();
  auto json = std::make_shared<bool>(false), seeds_only = std::make_shared<bool>(false),
       if_stale = std::make_shared<bool>(false);
  build->add_option("spec", *specs, "FILE:LINE:TOKEN (see the corpus README) or a macro name")->required();
  build->add_flag("--json", *json, "machine-readable output");
  build->add_flag("--seeds-only", *seeds_only, "stop after finding and mapping the seeds");
  build->add_flag("--if-stale", *if_stale,
                  "analyse only consts the scope table lacks or holds from another analysis version (kx version)");
  auto max_objects = std::make_shared<size_t>(BuildOptions{}.max_objects);
  build->add_option("--max-objects", *max_objects, "refuse constants that more objects than this expand into code")
      ->capture_default_str();
  build->callback([&g, &action, specs, json, seeds_only, if_stale, max_objects] {
    action = [&g, specs, json, seeds_only, if_stale, max_objects]() -> Result<int> {
      KX_ASSIGN(p, resolve_profile(g.profile));
      KX_ASSIGN(k, load_prepared(p));
      nlohmann::json all = nlohmann::json::array();
      KX_ASSIGN(table, ScopeTable::open(ScopeTable::path_for(k.build_id)));
      for (auto &spec : *specs) {
        if (*if_stale) {
          auto parsed = parse_const_spec(spec);
          if (auto r = table.get(parsed ? parsed->str() : spec); r && report_is_current(*r)) {
            if (*json) all.push_back(*r);
            else std::cout << report_text(*r);
            continue;
          }
        }
        BuildOptions opts;
        opts.seeds_only = *seeds_only;
        opts.max_objects = *max_objects;
        auto r = build_const(k, spec, opts);
        if (!r) return r.error().context(spec);
        nlohmann::json j = to_json(*r);
        // Seeds-only results are partial: they never replace a full analysis.
        if (!*seeds_only) {
          KX_ASSIGN(id, table.put(j));
          j["id"] = id;
        }
        if (*json) all.push_back(j);
        else std::cout << report_text(j);
      }
      if (*json) std::cout << (all.size() == 1 ? all[0] : all).dump(2) << "\n";
      return 0;
    };
  });
}

}  // namespace kx::cli
