// kx: the kernelx command line. Verbs only; each lives in its own file.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "kernel/profile.h"

int main(int argc, char **argv) {
  CLI::App app{"kernelx: turn compile-time perf-consts of a running kernel into safe, programmable knobs"};
  app.name("kx");
  app.require_subcommand(1);
  kx::cli::Globals g;
  g.profile = kx::default_profile_name();
  app.add_option("--profile", g.profile, "kernel profile (debian-<ver>-<abi>-<flavour> or tree:<path>)")
      ->capture_default_str();
  kx::cli::Action action;
  kx::cli::add_build_command(app, g, action);
  kx::cli::add_scope_commands(app, g, action);
  kx::cli::add_runtime_commands(app, g, action);
  kx::cli::add_policy_commands(app, g, action);
  kx::cli::add_deploy_commands(app, g, action);
  kx::cli::add_kernel_commands(app, g, action);
  kx::cli::add_lab_commands(app, g, action);
  kx::cli::add_doctor_command(app, g, action);
  // Name an unknown verb instead of CLI11's "A subcommand is required".
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--profile") { ++i; continue; }
    if (a.rfind("-", 0) == 0) continue;
    std::string verbs;
    bool known = false;
    for (auto *sub : app.get_subcommands({})) {
      verbs += (verbs.empty() ? "" : ", ") + sub->get_name();
      known = known || sub->get_name() == a;
    }
    if (!known) {
      fprintf(stderr, "kx: error: unknown command '%s' (commands: %s)\n", a.c_str(), verbs.c_str());
      return 2;
    }
    break;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    fprintf(stderr, "kx: error: %s\n", e.what());
    return 2;
  }
  if (!action) {
    fprintf(stderr, "kx: error: no command given (see kx --help)\n");
    return 2;
  }
  kx::Result<int> r = 0;
  try {
    r = action();
  } catch (const std::exception &e) {  // a library threw (Z3, JSON): still one clear line
    fprintf(stderr, "kx: error: internal error: %s\n", e.what());
    return 1;
  }
  if (!r) {
    fprintf(stderr, "kx: error: %s\n", r.error().message.c_str());
    return 1;
  }
  return *r;
}
