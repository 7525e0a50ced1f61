# Runs inside the lab guest (kx lab run -- bash blk_plug_size_guest.sh KX
# VALUE): the depth of the block layer's plug flushes under fio's
# 128-request batches of 128 KiB requests, before `kx set
# BLK_PLUG_FLUSH_SIZE=VALUE`, during, and after `kx reset`. A plug flushes
# before it takes a request once the last one holds BLK_PLUG_FLUSH_SIZE bytes
# or more (blk_add_rq_to_plug: cmpl $0x1ffff,0x2c(%r12), a span that reads
# the request's length). Writes "count depth" histograms and kx's outputs to
# $KX_RESULTS.
set -eu
KX=$1 VALUE=$2 R=$KX_RESULTS
source "$(dirname "$0")/../../../scripts/lib/guest_kx.sh"
FIO_BS=128k
NULLB_ARGS=max_sectors=1024  # 512 KiB: a 128 KiB read stays one request (the default splits at 255 sectors)
source "$(dirname "$0")/blk_depths.sh"
depths before
"$KX" set "BLK_PLUG_FLUSH_SIZE=$VALUE" > "$R/set.out"
id=$(tx_id < "$R/set.out")
depths during
"$KX" status --json > "$R/status.json"
"$KX" reset "$id" > "$R/reset.out"
depths after
cat /sys/kernel/debug/kprobes/list > "$R/kprobes"
