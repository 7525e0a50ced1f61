# Runs inside the lab guest (kx lab run -- bash blk_plug_guest.sh KX
# ['CONST=VALUE [OPTION...]' [FIO_BS [NULLB_ARGS]]]): the depth of the block layer's plug
# flushes (block:block_unplug nr_rq) under fio's 128-request batches on
# null_blk, before `kx set CONST=VALUE` (BLK_MAX_REQUEST_COUNT=8 by
# default), during, and after `kx reset`. FIO_BS is each request's size
# (4k); NULLB_ARGS, more null_blk parameters (blk_depths.sh). Writes "count
# depth" histograms (before, during, after) and kx's outputs to $KX_RESULTS.
# Shared by the plug lab tests and the README's main job (scripts/demo.sh).
set -eu
KX=$1 SET=${2:-BLK_MAX_REQUEST_COUNT=8} R=$KX_RESULTS
FIO_BS=${3:-4k} NULLB_ARGS=${4:-}
source "$(dirname "$0")/../../../scripts/lib/guest_kx.sh"
source "$(dirname "$0")/blk_depths.sh"
depths before
"$KX" set $SET > "$R/set.out"  # SET may carry kx set options after the assignment
id=$(tx_id < "$R/set.out")
depths during
"$KX" status --json > "$R/status.json"
"$KX" reset "$id" > "$R/reset.out"
depths after
cat /sys/kernel/debug/kprobes/list > "$R/kprobes"
