// kx doctor [--json]: what this host supports and where kx runs the runtime.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "host/doctor.h"
#include "kernel/profile.h"

namespace kx::cli {

void add_doctor_command(CLI::App &app, Globals &g, Action &action) {
  auto *doctor = app.add_subcommand("doctor", "report what this host supports (kprobes, modules, BPF, BTF, KVM)");
  auto json = std::make_shared<bool>(false);
  doctor->add_flag("--json", *json, "machine-readable output");
  doctor->callback([&g, &action, json] {
    action = [&g, json]() -> Result<int> {
      HostReport rep = inspect_host();
      auto prof = resolve_profile(g.profile);
      std::string kvm = prof ? probe_kvm(prof->image.string()) : "no profile to probe with";
      rep.features.push_back({"kvm", kvm.empty(), kvm.empty() ? "QEMU -accel kvm starts" : kvm});
      std::string where = rep.native ? "natively on this host"
                                     : "in the lab VM (kx lab run), booting " + g.profile + " under QEMU/TCG";
      if (*json) {
        nlohmann::json j = {{"kernel", rep.kernel}, {"native", rep.native}, {"runtime", where}};
        for (auto &f : rep.features) j["features"][f.name] = {{"available", f.available}, {"detail", f.detail}};
        std::cout << j.dump(2) << "\n";
        return 0;
      }
      std::cout << "host kernel  " << rep.kernel << "\n";
      for (auto &f : rep.features)
        printf("%-12s %-4s %s\n", f.name.c_str(), f.available ? "yes" : "no", f.detail.c_str());
      std::cout << "kx runs the runtime " << where << "\n";
      if (!kvm.empty()) std::cout << "the lab uses TCG (-cpu max): KVM is unusable here\n";
      return 0;
    };
  });
}

}  // namespace kx::cli
