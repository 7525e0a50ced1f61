// Each verb group registers its subcommands on the CLI11 app; the verb's
// action returns a Status (or an exit code for `lab run`) that main() turns
// into "kx: error: <message>" and a non-zero exit.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "util/result.h"

namespace kx::cli {

struct Globals {
  std::string profile;  // --profile, defaults to default_profile_name()
};

// Set by the chosen subcommand; main() runs it after parsing.
using Action = std::function<Result<int>()>;

void add_kernel_commands(CLI::App &app, Globals &g, Action &action);
void add_lab_commands(CLI::App &app, Globals &g, Action &action);
void add_doctor_command(CLI::App &app, Globals &g, Action &action);
void add_build_command(CLI::App &app, Globals &g, Action &action);
void add_scope_commands(CLI::App &app, Globals &g, Action &action);
void add_runtime_commands(CLI::App &app, Globals &g, Action &action);
void add_policy_commands(CLI::App &app, Globals &g, Action &action);
void add_deploy_commands(CLI::App &app, Globals &g, Action &action);

// Options kx set/load and kx reset/unload share.
void add_transition_option(CLI::App *cmd, std::shared_ptr<std::string> transition);
struct DryRun {
  bool on = false;    // --dry-run: plan and print, attach nothing
  bool json = false;  // --json: the plan as JSON
};
void add_dry_run_options(CLI::App *cmd, std::shared_ptr<DryRun> dry);
}  // namespace kx::cli

namespace kx {
struct UnloadOptions;
}
namespace kx::cli {
void add_unload_options(CLI::App *cmd, std::shared_ptr<UnloadOptions> opt);

}  // namespace kx::cli
