# Sourced by the bench/ and eval/ scripts that run one job in the lab VM:
# the checkout becomes the working directory, $KX is its kx, and $out a
# scratch directory for the guest's results, removed on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
KX=$PWD/build/kx
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# lab_ready CONST...: each const analysed and x-sie.ko built on the host
# first, so the slow guest does neither.
lab_ready() {
  local c
  for c in "$@"; do "$KX" build --if-stale "$c" >/dev/null; done
  "$KX" kernel build-module kmod > /dev/null
}

# keep_raw FILE NAME [plot]: on exit, $out/FILE is kept as
# bench/runtime/results/NAME.raw and, with `plot`, bench/runtime/plot.py NAME
# redraws its figure from it.
keep_raw() {
  local redraw=""
  [[ ${3:-} == plot ]] && redraw="; /usr/bin/python3 bench/runtime/plot.py $2 || true"
  # shellcheck disable=SC2064  # FILE and NAME are fixed now; $out at exit
  trap "mkdir -p bench/runtime/results; cp \"\$out/$1\" bench/runtime/results/$2.raw 2>/dev/null; rm -rf \"\$out\"$redraw" EXIT
}
