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
hits() { "$KX" status --json | python3 -c 'import json,sys; print(sum(s["hits"] for t in json.load(sys.stdin)["transactions"] for c in t["consts"] for s in c["spans"]))'; }
for _ in $(seq "$REPS"); do for v in "$@"; do
  out=$("$KX" set SHRINK_BATCH="$v" --settle 5)
  in0=$(vm pswpin) out0=$(vm pswpout)
  res=$(sh -c 'echo $$ > '$G'/cgroup.procs; exec "$0" "$1" "$2"' "$BIN" "$MAP_MIB" "$PASSES")
  echo "$v $res $(( $(vm pswpin) - in0 )) $(( $(vm pswpout) - out0 )) $(hits)" >> "$R/runs"
  "$KX" reset "$(echo "$out" | sed -n 's/^transaction \([0-9]*\):.*/\1/p')" > /dev/null
done; done
