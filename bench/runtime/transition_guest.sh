# In the lab guest: transition times of kx set (global and per-thread, idle
# and under fio) and of a livepatch (the kernel's livepatch-sample) in the
# same guest, REPS times each, one "kind ms" line per run to $KX_RESULTS/times.
set -eu
KX=$1 LP=$2 REPS=$3 R=$KX_RESULTS
source "$(dirname "$0")/../../tests/lab/lib/blk_depths.sh"
source "$(dirname "$0")/../../scripts/lib/guest_kx.sh"
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
kx_switch() {  # label, kx set args...: the module's switch time and kx set's wall time
  local label=$1 t0 out id
  shift
  t0=$(date +%s%N)
  out=$("$KX" set BLK_MAX_REQUEST_COUNT=8 "$@" --settle 10)
  echo "$label.wall $(ms_since "$t0")" >> "$R/times"
  # The module's switch: registering the monitors, the stop_machine scan, then waiting for tasks.
  "$KX" status --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["transactions"][0]["transition"]
l = sys.argv[1]
print(l, t["transition_ns"] / 1e6)
print(l + ".monitors", t["monitor_ns"] / 1e6)
print(l + ".scan", t["scan_ns"] / 1e6)
print(l + ".wait", (t["transition_ns"] - t["monitor_ns"] - t["scan_ns"]) / 1e6)' "$label" >> "$R/times"
  id=$(tx_id <<< "$out")
  t0=$(date +%s%N)
  "$KX" reset "$id" > /dev/null
  echo "$label.reset $(ms_since "$t0")" >> "$R/times"
}
for i in $(seq "$REPS"); do
  kx_switch global.idle
  kx_switch per-thread.idle --transition per-thread
  fio_batches 30 > /dev/null & fio=$!
  sleep 1
  kx_switch global.fio
  kx_switch per-thread.fio --transition per-thread
  kill $fio; wait $fio || true

  t0=$(date +%s%N)
  insmod "$LP"
  while [ "$(cat /sys/kernel/livepatch/livepatch_sample/transition)" != 0 ]; do sleep 0.01; done
  echo "livepatch.patch $(ms_since "$t0")" >> "$R/times"
  t0=$(date +%s%N)
  echo 0 > /sys/kernel/livepatch/livepatch_sample/enabled
  while [ -e /sys/kernel/livepatch/livepatch_sample ] && [ "$(cat /sys/kernel/livepatch/livepatch_sample/transition 2>/dev/null)" = 1 ]; do sleep 0.01; done
  echo "livepatch.unpatch $(ms_since "$t0")" >> "$R/times"
  while ! rmmod livepatch_sample 2>/dev/null; do sleep 0.05; done
done
