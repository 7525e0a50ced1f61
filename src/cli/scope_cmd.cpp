// kx show SPEC|ID [--json] · kx list [--json]: the scope table of the profile's kernel.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "kernel/tree_cache.h"
#include "scope/scope_table.h"
#include "spec/const_spec.h"

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
                         {"critical_spans", r.value("critical_spans", nlohmann::json::array()).size()}});
        std::cout << out.dump(2) << "\n";
        return 0;
      }
      printf("%-28s %-34s %8s  %-10s %4s %5s\n", "ID", "SPEC", "VALUE", "STATUS", "USES", "SPANS");
      for (auto &r : all) {
        auto value = report_value(r);
        std::string v = value ? std::to_string(*value) : "-";
        printf("%-28s %-34s %8s  %-10s %4zu %5zu\n", r["id"].get<std::string>().c_str(),
               r["spec"].get<std::string>().c_str(), v.c_str(), r["status"].get<std::string>().c_str(),
               r.value("uses", nlohmann::json::array()).size(),
               r.value("critical_spans", nlohmann::json::array()).size());
      }
      return 0;
    };
  });
}

}  // namespace kx::cli
