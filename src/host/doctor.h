// What the host kernel offers kernelx, and where kx will therefore run the
// runtime: natively, or inside the lab VM.
#pragma once
#include <string>
#include <vector>

#include "util/result.h"

namespace kx {

struct HostFeature {
  std::string name;    // "kprobes", "optprobes", "modules", "bpf", "btf", "kvm", …
  bool available = false;
  std::string detail;  // how it was decided
};

struct HostReport {
  std::string kernel;  // uname -r
  std::vector<HostFeature> features;
  bool native = false;  // kprobes + modules + bpf + btf all available
};

HostReport inspect_host();

// Tries to start QEMU with KVM for a moment; "" when it works, else QEMU's
// complaint (e.g. the MSR assertion seen on nested hosts).
std::string probe_kvm(const std::string &kernel_image);

}  // namespace kx
