# In the lab guest: for each N, N sleeping threads exist while kx set
# SHRINK_BATCH=64 runs its stop_machine scan; "N tasks_scanned scan_ns" per
# run to $KX_RESULTS/scan.tsv; the calibration's ns per step to calibrate.out.
set -eu
KX=$1 REPS=$2 SLEEPERS=$3 CALIBRATE=$4
shift 4
R=$KX_RESULTS
source "$(dirname "$0")/../../scripts/lib/guest_kx.sh"
"$CALIBRATE" > "$R/calibrate.out"
for n in "$@"; do
  "$SLEEPERS" "$n" > "$R/sleepers.out" & pid=$!
  while ! grep -q ready "$R/sleepers.out"; do sleep 0.1; done
  for rep in $(seq "$REPS"); do
    out=$("$KX" set SHRINK_BATCH=64 --settle 0)
    "$KX" status --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["transactions"][0]["transition"]
print(sys.argv[1], t["scanned"], t["scan_ns"])' "$n" >> "$R/scan.tsv"
    "$KX" reset "$(tx_id <<< "$out")" > /dev/null
  done
  kill $pid; wait $pid || true
done
