// kx show SPEC|ID [--json] · kx list [--json]: the scope table of the profile's
// kernel, stale rows (another analysis version) marked. kx version.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "kernel/tree_cache.h"
#include "scope/scope_table.h"
#include "spec/const_spec.h"
#include "util/analysis_version.h"

namespace kx::cli {

namespace {

Result<ScopeTable> open_table(const Globals &g) {
  KX_ASSIGN(p, resolve_profile(g.profile));
  KX_ASSIGN(k, load_prepared(p));
  return ScopeTable::open(ScopeTable::path_for(k.build_id));
}

}  // namespace

void add_scope_commands(CLI::App &app, Globals &g, Action &action) {
  auto *show = app.add_subcommand("show", "show an analysed const from the scope table");
  auto key = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  show->add_option("const", *key, "its id, FILE:LINE:TOKEN spec or name")->required();
  show->add_flag("--json", *json, "machine-readable output");
  show->callback([&g, &action, key, json] {
    action = [&g, key, json]() -> Result<int> {
      KX_ASSIGN(table, open_table(g));
      std::string k = *key;
      if (auto spec = parse_const_spec(k)) k = spec->str();  // canonical form
      KX_ASSIGN(r, table.get(k));
      std::cout << (*json ? r.dump(2) + "\n" : report_text(r));
      return 0;
    };
  });

  auto *list = app.add_subcommand("list", "list the analysed consts of the profile's kernel");
  auto ljson = std::make_shared<bool>(false);
  list->add_flag("--json", *ljson, "machine-readable output");
  list->callback([&g, &action, ljson] {
    action = [&g, ljson]() -> Result<int> {
      KX_ASSIGN(table, open_table(g));
      KX_ASSIGN(all, table.list());
      if (*ljson) {
        nlohmann::json out = nlohmann::json::array();
        for (auto &r : all)
          out.push_back({{"id", r["id"]}, {"spec", r["spec"]}, {"value", r["value"]}, {"status", r["status"]},
                         {"uses", r.value("uses", nlohmann::json::array()).size()},
                         {"critical_spans", r.value("critical_spans", nlohmann::json::array()).size()},
                         {"analysis", report_analysis(r)}, {"stale", !report_is_current(r)}});
        std::cout << out.dump(2) << "\n";
        return 0;
      }
      printf("%-28s %-34s %8s  %-10s %4s %5s  %s\n", "ID", "SPEC", "VALUE", "STATUS", "USES", "SPANS", "ANALYSIS");
      size_t stale = 0;
      for (auto &r : all) {
        auto value = report_value(r);
        std::string v = value ? std::to_string(*value) : "-";
        bool current = report_is_current(r);
        stale += !current;
        printf("%-28s %-34s %8s  %-10s %4zu %5zu  %s\n", r["id"].get<std::string>().c_str(),
               r["spec"].get<std::string>().c_str(), v.c_str(), r["status"].get<std::string>().c_str(),
               r.value("uses", nlohmann::json::array()).size(),
               r.value("critical_spans", nlohmann::json::array()).size(), current ? "current" : "STALE");
      }
      if (stale)
        printf("%zu of %zu rows are STALE (analysed by another kx than %s): kx set and kx load refuse them until "
               "kx build runs again\n", stale, all.size(), analysis_version().c_str());
      return 0;
    };
  });

  auto *version = app.add_subcommand("version", "print kx's version and its analysis version");
  auto analysis_only = std::make_shared<bool>(false);
  version->add_flag("--analysis", *analysis_only,
                    "only the analysis version, as reports carry it (\"analysis\") and eval/corpus/run.sh compares it");
  version->callback([&action, analysis_only] {
    action = [analysis_only]() -> Result<int> {
      if (!*analysis_only) printf("kx %s\nanalysis ", KX_VERSION);
      printf("%s\n", analysis_version().c_str());
      return 0;
    };
  });
}

}  // namespace kx::cli
