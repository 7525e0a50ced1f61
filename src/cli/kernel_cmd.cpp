// kx kernel prepare | show
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "kernel/module_build.h"
#include "kernel/tree_cache.h"

namespace kx::cli {

void add_kernel_commands(CLI::App &app, Globals &g, Action &action) {
  auto *kernel = app.add_subcommand("kernel", "kernel profiles: prepare the tree analysis rebuilds objects in");
  kernel->require_subcommand(1);

  auto *prepare = kernel->add_subcommand("prepare", "install, extract, configure and verify the profile's kernel tree");
  auto no_install = std::make_shared<bool>(false);
  prepare->add_flag("--no-install", *no_install, "fail instead of installing missing packages");
  prepare->callback([&g, &action, no_install] {
    action = [&g, no_install]() -> Result<int> {
      KX_ASSIGN(p, resolve_profile(g.profile));
      PrepareOptions o;
      o.install_missing = !*no_install;
      KX_ASSIGN(k, prepare_kernel(p, o));
      std::cout << "kernel " << p.name << " (" << p.release << ", build-id " << k.build_id
                << ") ready in " << k.tree.string() << "\n";
      return 0;
    };
  });

  auto *module = kernel->add_subcommand("build-module", "build an out-of-tree module against the profile, with BTF");
  auto src = std::make_shared<std::string>(), out = std::make_shared<std::string>();
  module->add_option("dir", *src, "module source directory (Kbuild or Makefile)")->required();
  module->add_option("-o,--output", *out, "build directory (default under $KX_HOME/modules)");
  module->callback([&g, &action, src, out] {
    action = [&g, src, out]() -> Result<int> {
      KX_ASSIGN(p, resolve_profile(g.profile));
      KX_ASSIGN(k, load_prepared(p));
      auto dir = out->empty() ? module_build_dir(p, *src) : std::filesystem::absolute(*out);
      KX_ASSIGN(kos, build_module(k, *src, dir));
      for (auto &ko : kos) std::cout << ko.string() << "\n";
      return 0;
    };
  });

  auto *show = kernel->add_subcommand("show", "print the profile and its cache state as JSON");
  show->callback([&g, &action] {
    action = [&g]() -> Result<int> {
      KX_ASSIGN(p, resolve_profile(g.profile));
      nlohmann::json j = {{"profile", p.name},
                          {"release", p.release},
                          {"image", p.image.string()},
                          {"debug_vmlinux", p.debug_vmlinux.string()},
                          {"headers", p.headers.string()},
                          {"config", p.config.string()},
                          {"packages", p.packages},
                          {"missing_packages", missing_packages(p)},
                          {"cache", profile_cache_dir(p).string()}};
      auto k = load_prepared(p);
      j["prepared"] = bool(k);
      if (k) j["build_id"] = k->build_id;
      std::cout << j.dump(2) << "\n";
      return 0;
    };
  });
}

}  // namespace kx::cli
