# In the lab guest: transition times of kx set (global and per-thread, idle
# and under fio) and of a livepatch (the kernel's livepatch-sample) in the
# same guest, REPS times each, one "kind ms" line per run to $KX_RESULTS/times.
set -eu
KX=$1 LP=$2 REPS=$3 R=$KX_RESULTS
source "$(dirname "$0")/../../tests/lab/lib/blk_depths.sh"
source "$(dirname "$0")/../../scripts/lib/guest_kx.sh"
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
kx_switch() {  # label, kx set args...: the module's switch time and kx set's wall time
  local label=$1 t0 out id sw mon scan wait
  shift
  t0=$(date +%s%N)
  out=$("$KX" set BLK_MAX_REQUEST_COUNT=8 "$@" --settle 10)
  echo "$label.wall $(ms_since "$t0")" >> "$R/times"
  # The module's switch: registering the monitors, the stop_machine scan, then waiting for tasks.
  read -r sw mon scan wait <<< "$(tx_transition switch_ms monitor_ms scan_ms wait_ms)"
  printf '%s %s\n%s.monitors %s\n%s.scan %s\n%s.wait %s\n' \
    "$label" "$sw" "$label" "$mon" "$label" "$scan" "$label" "$wait" >> "$R/times"
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
