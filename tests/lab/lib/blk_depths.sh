# Sourced inside the lab guest: null_blk behind mq-deadline, and `depths
# NAME` writing the depth histogram ("count depth" per line) of the block
# layer's plug flushes (block:block_unplug nr_rq) of fio's 128-request
# batches to $KX_RESULTS/NAME. BLK_MAX_REQUEST_COUNT bounds those depths.
# FIO_BS (default 4k) is the size of each request; NULLB_ARGS, more null_blk
# parameters.
T=/sys/kernel/tracing
modprobe null_blk queue_mode=2 nr_devices=1 submit_queues=1 irqmode=0 gb=1 ${NULLB_ARGS:-}
echo mq-deadline > /sys/block/nullb0/queue/scheduler
echo 1 > $T/events/block/block_unplug/enable
fio_batches() {  # seconds
  fio --eta=never --name=plug --filename=/dev/nullb0 --ioengine=io_uring --iodepth=128 \
      --iodepth_batch_submit=128 --iodepth_batch_complete_min=128 --rw=randread --bs="${FIO_BS:-4k}" --direct=1 \
      --time_based --runtime="$1" --output=/dev/null
}
depths() {
  echo > $T/trace
  fio_batches 2
  grep -o 'block_unplug: \[fio\] [0-9]*' $T/trace | awk '{print $3}' | sort -n | uniq -c > "$KX_RESULTS/$1"
}
