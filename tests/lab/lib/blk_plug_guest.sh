# Runs inside the lab guest (kx lab run -- bash blk_plug_guest.sh KX): the
# depth of the block layer's plug flushes (block:block_unplug nr_rq) under
# fio's 128-request batches on null_blk, before `kx set
# BLK_MAX_REQUEST_COUNT=8`, during, and after `kx reset`. Writes "count
# depth" histograms (before, during, after) and kx's outputs to $KX_RESULTS.
# Shared by the lab test and the README's main job (scripts/demo.sh).
set -eu
KX=$1 R=$KX_RESULTS T=/sys/kernel/tracing
modprobe null_blk queue_mode=2 nr_devices=1 submit_queues=1 irqmode=0 gb=1
echo mq-deadline > /sys/block/nullb0/queue/scheduler
echo 1 > $T/events/block/block_unplug/enable
# Plug flush depths of fio's own submissions, "count depth" per line.
depths() {
  echo > $T/trace
  fio --eta=never --name=plug --filename=/dev/nullb0 --ioengine=io_uring --iodepth=128 \
      --iodepth_batch_submit=128 --iodepth_batch_complete_min=128 --rw=randread --bs=4k --direct=1 \
      --time_based --runtime=2 --output=/dev/null
  grep -o 'block_unplug: \[fio\] [0-9]*' $T/trace | awk '{print $3}' | sort -n | uniq -c > "$R/$1"
}
depths before
"$KX" set BLK_MAX_REQUEST_COUNT=8 > "$R/set.out"
id=$(sed -n 's/^transaction \([0-9]*\):.*/\1/p' "$R/set.out")
depths during
"$KX" status --json > "$R/status.json"
"$KX" reset "$id" > "$R/reset.out"
depths after
cat /sys/kernel/debug/kprobes/list > "$R/kprobes"
