# In the lab guest: fio on null_blk (io_uring, BATCH requests per submit)
# without kernelx, with BLK_MAX_REQUEST_COUNT=32 (its default: the same
# behaviour, only the indirection's cost) on optimized probes, and the same
# with kprobe optimization off (every probe int3), both with --probes-only,
# and on the static path (the insertion span's immediate rewritten in place,
# the dual span on its optimized probes). REPS rounds, alternating.
# Per-op work (the paper's Fig. 16 varies it): with WORK = "0" fio reads
# 4 KiB blocks and does nothing else; a WORK of N KiB writes N KiB blocks
# filled with fresh random data each time (refill_buffers), CPU work that
# grows with N. One "mode batch iops hits work" line per run to
# $KX_RESULTS/runs.
set -eu
KX=$1 REPS=$2 WORK=$3 R=$KX_RESULTS
shift 3
source "$(dirname "$0")/../../tests/lab/lib/blk_depths.sh"
source "$(dirname "$0")/../../scripts/lib/guest_kx.sh"
iops() {  # batch work
  local op="--rw=randread --bs=4k" dir=read
  [ "$2" = 0 ] || op="--rw=randwrite --bs=${2}k --refill_buffers" dir=write
  # shellcheck disable=SC2086
  fio --eta=never --name=o --filename=/dev/nullb0 --ioengine=io_uring --iodepth=128 $op \
      --iodepth_batch_submit="$1" --iodepth_batch_complete_min="$1" --direct=1 \
      --time_based --runtime=3 --output-format=json |
    python3 -c 'import json,sys; print(int(json.load(sys.stdin)["jobs"][0][sys.argv[1]]["iops"]))' $dir
}
for i in $(seq "$REPS"); do
  for batch in "$@"; do for w in $WORK; do
    echo "base $batch $(iops "$batch" "$w") 0 $w" >> "$R/runs"
    for mode in static optimized int3; do
      echo $([ $mode = int3 ] && echo 0 || echo 1) > /proc/sys/debug/kprobes-optimization
      out=$("$KX" set BLK_MAX_REQUEST_COUNT=32 --settle 10 $([ $mode = static ] || echo --probes-only))
      id=$(tx_id <<< "$out")
      h0=$(span_hits)
      n=$(iops "$batch" "$w")
      echo "$mode $batch $n $(( $(span_hits) - h0 )) $w" >> "$R/runs"
      "$KX" status | grep -E 'insertion|dual' >> "$R/probes.$mode"
      "$KX" reset "$id" > /dev/null
    done
    echo 1 > /proc/sys/debug/kprobes-optimization
  done; done
done
