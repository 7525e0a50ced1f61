# Runs inside the lab guest (kx lab run -- bash blk_plug_guest.sh KX): the
# depth of the block layer's plug flushes (block:block_unplug nr_rq) under
# fio's 128-request batches on null_blk, before `kx set
# BLK_MAX_REQUEST_COUNT=8`, during, and after `kx reset`. Writes "count
# depth" histograms (before, during, after) and kx's outputs to $KX_RESULTS.
# Shared by the lab test and the README's main job (scripts/demo.sh).
set -eu
KX=$1 R=$KX_RESULTS
source "$(dirname "$0")/../../../scripts/lib/guest_kx.sh"
source "$(dirname "$0")/blk_depths.sh"
depths before
"$KX" set BLK_MAX_REQUEST_COUNT=8 > "$R/set.out"
id=$(tx_id < "$R/set.out")
depths during
"$KX" status --json > "$R/status.json"
"$KX" reset "$id" > "$R/reset.out"
depths after
cat /sys/kernel/debug/kprobes/list > "$R/kprobes"
