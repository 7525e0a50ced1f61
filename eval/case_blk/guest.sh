# In the lab guest: for a fast null_blk and a slow one (2 ms completions,
# a disk-like latency), sequential 4 KiB writes through io_uring at each
# BLK_MAX_REQUEST_COUNT value: IOPS and how many bios the plug merged into
# requests. One "device value iops merges ios" line per run to $KX_RESULTS/runs.
set -eu
KX=$1 R=$KX_RESULTS
shift
source "$(dirname "$0")/../../scripts/lib/guest_kx.sh"
run() {  # device value
  local dev=/sys/block/nullb0 m0 i0 m1 i1 iops
  read -r _ _ _ _ i0 m0 _ < $dev/stat
  iops=$(fio --eta=never --name=w --filename=/dev/nullb0 --ioengine=io_uring --iodepth=128 \
    --iodepth_batch_submit=128 --iodepth_batch_complete_min=32 --rw=write --bs=4k --direct=1 \
    --time_based --runtime=3 --output-format=json | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["jobs"][0]["write"]["iops"]))')
  read -r _ _ _ _ i1 m1 _ < $dev/stat
  echo "$1 $2 $iops $((m1 - m0)) $((i1 - i0))" >> "$R/runs"
}
for device in fast slow; do
  if [ $device = fast ]; then
    modprobe null_blk queue_mode=2 nr_devices=1 submit_queues=1 irqmode=0 gb=4
  else
    modprobe null_blk queue_mode=2 nr_devices=1 submit_queues=1 irqmode=2 completion_nsec=2000000 gb=4
  fi
  echo mq-deadline > /sys/block/nullb0/queue/scheduler
  for v in "$@"; do
    if [ "$v" = 32 ]; then run $device 32; continue; fi   # the compiled value: no kernelx at all
    with_value BLK_MAX_REQUEST_COUNT "$v" run $device "$v"
  done
  rmmod null_blk
done
