# In the lab guest (2 NUMA nodes, one vCPU each): numa_hot at each
# NR_MAX_BATCHED_MIGRATION value set live (the compiled 512 too, so every
# point pays the same probe cost), REPS rounds over the values (a round at a
# time, so drift spreads over all of them). One line per run to
# $KX_RESULTS/runs:
#   value accesses p50 p99 p999 max pages_migrated calls tlb_shootdowns
#   cs_hits batches
# (batches: migrate_pages_batch() calls, counted by a trace kprobe, so the
# pages per batch show the value is obeyed).
set -eu
KX=$1 BIN=$2 MIB=$3 SECS=$4 REPS=$5 R=$KX_RESULTS
shift 5
source "$(dirname "$0")/../../scripts/lib/guest_kx.sh"
[ "$(ls -d /sys/devices/system/node/node* | wc -l)" = 2 ] || { echo "the guest has no 2 NUMA nodes" >&2; exit 1; }
tlb() { awk '/TLB:/ {s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; print s}' /proc/interrupts; }
# Automatic NUMA balancing would migrate pages back one at a time on the
# toucher's hinting faults (single-page migrate_pages calls) and compete with
# the migrator: off, so every migration is the migrator's move_pages.
echo 0 > /proc/sys/kernel/numa_balancing
T=/sys/kernel/tracing
echo 'p:kx_numa_batch migrate_pages_batch' >> $T/kprobe_events
echo 1 > $T/events/kprobes/kx_numa_batch/enable
batches() { awk '$1 == "kx_numa_batch" {print $2}' $T/kprobe_profile; }
run() {  # value
  local t0 b0 res
  t0=$(tlb) b0=$(batches)
  res=$("$BIN" "$MIB" "$SECS")
  echo "$1 $res $(( $(tlb) - t0 )) $(span_hits) $(( $(batches) - b0 ))" >> "$R/runs"
}
for _ in $(seq "$REPS"); do for v in "$@"; do
  with_value NR_MAX_BATCHED_MIGRATION "$v" run "$v"
done; done
echo 0 > $T/events/kprobes/kx_numa_batch/enable
echo '-:kx_numa_batch' >> $T/kprobe_events
