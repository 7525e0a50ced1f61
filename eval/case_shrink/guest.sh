# In the lab guest: the reuse workload in a memory cgroup smaller than its
# mapping, swapping to zram (this kernel has no zswap: CONFIG_ZSWAP is off),
# at each SHRINK_BATCH value set live (the compiled 128 too), REPS rounds
# over the values. One line per run to $KX_RESULTS/runs:
#   value seconds p99_block_us pswpin pswpout shrink_calls
# (shrink_calls: hits of SHRINK_BATCH's critical span = do_shrink_slab runs
# with the default batch).
set -eu
KX=$1 BIN=$2 MAP_MIB=$3 LIMIT=$4 PASSES=$5 REPS=$6 R=$KX_RESULTS
shift 6
source "$(dirname "$0")/../../scripts/lib/guest_kx.sh"
modprobe zram
echo 1G > /sys/block/zram0/disksize
mkswap /dev/zram0 > /dev/null
swapon /dev/zram0
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup
echo +memory > /sys/fs/cgroup/cgroup.subtree_control
G=/sys/fs/cgroup/kx-reuse
mkdir -p $G
echo "$LIMIT" > $G/memory.max
vm() { awk -v k="$1" '$1 == k {print $2}' /proc/vmstat; }
run() {  # value
  local in0 out0 res
  in0=$(vm pswpin) out0=$(vm pswpout)
  res=$(sh -c 'echo $$ > '$G'/cgroup.procs; exec "$0" "$1" "$2"' "$BIN" "$MAP_MIB" "$PASSES")
  echo "$1 $res $(( $(vm pswpin) - in0 )) $(( $(vm pswpout) - out0 )) $(span_hits)" >> "$R/runs"
}
for _ in $(seq "$REPS"); do for v in "$@"; do
  with_value SHRINK_BATCH "$v" run "$v"
done; done
