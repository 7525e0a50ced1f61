#!/usr/bin/env bash
# Install every Debian package kernelx needs, then configure and build it.
# Idempotent: a second run installs nothing and rebuilds only what changed.
#   scripts/setup.sh            packages + build
#   scripts/setup.sh --packages packages only
set -euo pipefail
cd "$(dirname "$0")/.."

# The default kernel profile (src/kernel/profiles.cpp) names the same ABI.
KX_KERNEL_ABI=${KX_KERNEL_ABI:-6.1.0-56-cloud-amd64}

packages=(
  # build
  build-essential gcc-12 g++ cmake ninja-build pkg-config git ccache
  # analysis: decoder, solver, emulator, ELF/DWARF, scope table, CLI, JSON, tests
  libzydis-dev libz3-dev libunicorn-dev libelf-dev libdw-dev elfutils
  libsqlite3-dev sqlite3 libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev
  # deployment: bundles (tar.gz, sha256)
  libarchive-dev
  # BPF policies
  libbpf-dev bpftool clang llvm
  # kernel profile: the target kernel, its headers, debug vmlinux and source,
  # plus what a kernel tree needs to prepare and rebuild objects
  "linux-image-${KX_KERNEL_ABI}" "linux-headers-${KX_KERNEL_ABI}"
  "linux-image-${KX_KERNEL_ABI}-dbg" linux-source-6.1
  flex bison bc libssl-dev dwarves xz-utils kmod cpio rsync python3 binutils
  # lab VM
  qemu-system-x86 busybox-static
  # workloads for case studies and lab tests
  fio iperf3 rt-tests iproute2 util-linux procps
  # figures
  python3-matplotlib
  # the Debian package (scripts/package.sh)
  debhelper dpkg-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} package(s): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#packages[@]} packages present"
fi

[[ "${1:-}" == "--packages" ]] && exit 0

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
