// kx lab run [--timeout S] [--smp N] [--mem M] [--numa N] [--results DIR] -- CMD [ARGS]
#include <unistd.h>

#include <filesystem>

#include "cli/commands.h"
#include "lab/vm.h"

namespace kx::cli {

void add_lab_commands(CLI::App &app, Globals &g, Action &action) {
  auto *lab = app.add_subcommand("lab", "the QEMU lab VM that runs the profile's kernel");
  lab->require_subcommand(1);
  auto *run = lab->add_subcommand("run", "boot the kernel, run CMD as root in the guest, exit with its status");
  auto o = std::make_shared<LabOptions>();
  auto results = std::make_shared<std::string>();
  run->add_option("--timeout", o->timeout_s, "seconds before the guest is stopped (exit 124)")->capture_default_str();
  run->add_option("--smp", o->smp, "virtual CPUs")->capture_default_str();
  run->add_option("--mem", o->mem, "guest memory (QEMU size, e.g. 2G)")->capture_default_str();
  run->add_option("--numa", o->numa_nodes, "guest NUMA nodes (memory split evenly, a socket of --smp/N vCPUs each)")
      ->capture_default_str();
  run->add_option("--results", *results,
                  "host directory the guest can write, mounted at the same path (default $KX_HOME/lab/results)");
  run->add_option("--kernel-arg", o->kernel_args, "extra kernel command-line argument (repeatable)");
  run->add_flag("--keep", o->keep_console, "keep the run directory (console log, QEMU log) afterwards");
  run->add_option("command", o->command, "the command and its arguments (after --)")->required();
  run->callback([&g, &action, o, results] {
    action = [&g, o, results]() -> Result<int> {
      KX_ASSIGN(p, resolve_profile(g.profile));
      o->results = results->empty() ? kx_home() / "lab" / "results" : std::filesystem::path(*results);
      o->results = std::filesystem::absolute(o->results);
      o->cwd = std::filesystem::current_path();
      return lab_run(p, *o);
    };
  });
}

}  // namespace kx::cli
