# In the lab guest: global and per-thread transitions of BLK_MAX_REQUEST_COUNT
# while N fio jobs (threads) submit through its safe spans, N in $@, REPS
# each; "mode N scan_ms wait_ms seeded" lines to $KX_RESULTS/threads.
set -eu
KX=$1 REPS=$2 R=$KX_RESULTS
shift 2
source "$(dirname "$0")/../../tests/lab/lib/blk_depths.sh"
source "$(dirname "$0")/../../scripts/lib/guest_kx.sh"
for n in "$@"; do
  fio --eta=never --name=t --filename=/dev/nullb0 --ioengine=io_uring --iodepth=32 --iodepth_batch_submit=32 \
      --rw=randread --bs=4k --direct=1 --numjobs="$n" --thread --time_based --runtime=600 --output=/dev/null & fio=$!
  sleep 2
  for i in $(seq "$REPS"); do
    for mode in global per-thread; do
      out=$("$KX" set BLK_MAX_REQUEST_COUNT=8 --transition $mode --settle 10)
      echo "$mode $n $(tx_transition scan_ms wait_ms seeded)" >> "$R/threads"
      "$KX" reset "$(tx_id <<< "$out")" > /dev/null
    done
  done
  kill $fio; wait $fio || true
done
