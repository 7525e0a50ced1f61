#!/usr/bin/env bash
# The main job, from a fresh machine: set up, prepare the default kernel
# profile, and bring up the lab VM running that kernel with kprobes.
# (The end-to-end tune of a perf-const joins here as the pipeline lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
kx=build/kx
$kx kernel prepare
$kx doctor
echo
echo "== booting $($kx kernel show | sed -n 's/.*"release": "\(.*\)".*/\1/p') in the lab VM"
$kx lab run -- sh -c '
  echo "guest kernel:          $(uname -r)"
  echo "kprobes enabled:       $(cat /sys/kernel/debug/kprobes/enabled)"
  echo "kprobes-optimization:  $(cat /proc/sys/debug/kprobes-optimization)"
  cd /sys/kernel/tracing
  echo "p:kx_demo do_sys_openat2" > kprobe_events
  echo 1 > events/kprobes/kx_demo/enable
  cat /etc/os-release > /dev/null
  echo 0 > events/kprobes/kx_demo/enable
  echo "kprobe hits:           $(grep -c kx_demo trace)"
  echo > kprobe_events
  echo "lab up, kprobes available"'
