#!/usr/bin/env bash
# The main job, from a fresh machine: set up, prepare the default kernel
# profile, analyse BLK_MAX_REQUEST_COUNT (seeds, proven updates, safe spans),
# then, in the lab VM running that very kernel, tune it live: the block
# layer's plug flushes go from 32 requests deep to 8 with `kx set`, and back
# with `kx reset` — no rebuild, no reboot.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
kx=$PWD/build/kx
$kx kernel prepare
$kx doctor
echo
echo "== kx build BLK_MAX_REQUEST_COUNT"
$kx build BLK_MAX_REQUEST_COUNT
$kx kernel build-module kmod >/dev/null  # x-sie.ko, the runtime
results=$(mktemp -d /tmp/kx-demo.XXXXXX)
trap 'rm -rf "$results"' EXIT
echo
echo "== in the lab VM ($($kx kernel show | sed -n 's/.*"release": "\(.*\)".*/\1/p')): fio on null_blk, plug flush depths"
$kx lab run --results "$results" -- bash tests/lab/lib/blk_plug_guest.sh "$kx"
cat "$results/set.out"
for phase in before during after; do
  printf '%-7s deepest flush %3s requests  (count depth: %s)\n' "$phase" \
    "$(awk '{print $2}' "$results/$phase" | sort -n | tail -1)" "$(tr '\n' ' ' < "$results/$phase")"
done
cat "$results/reset.out"
