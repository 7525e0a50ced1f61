# Runs inside the lab guest (kx lab run -- bash shrink_guest.sh KX KO): a
# test shrinker (tests/lab/modules/slow_shrinker) records the nr_to_scan
# do_shrink_slab hands it, which SHRINK_BATCH bounds; one of its scans can
# sleep, holding its task inside SHRINK_BATCH's safe span. Results (kx
# outputs, statuses, the batch sizes seen) go to $KX_RESULTS.
set -u
KX=$1 KO=$2 R=$KX_RESULTS P=/sys/module/slow_shrinker/parameters
source "$(dirname "$0")/../../../scripts/lib/guest_kx.sh"
insmod "$KO"
batch() {  # NAME: the largest nr_to_scan of one drop_caches pass
  echo 0 > $P/max_nr_to_scan
  echo 2 > /proc/sys/vm/drop_caches
  cat $P/max_nr_to_scan > "$R/$1"
}
sleeper() {  # a drop_caches pass whose scan sleeps 8 s inside the span (kx runs slowly here)
  echo 8000 > $P/sleep_ms
  (echo 2 > /proc/sys/vm/drop_caches) &
  while [ "$(cat $P/sleeping)" != 1 ]; do sleep 0.05; done
}

batch default

# Global: the switch waits for the sleeper to leave the span.
sleeper
"$KX" set SHRINK_BATCH=64 --settle 0 > "$R/global.out" 2>&1
"$KX" status --json > "$R/global.during"
batch global_during            # another task, while the sleeper holds the switch
wait
sleep 0.2
"$KX" status --json > "$R/global.after"
batch global_after
id=$(tx_id < "$R/global.out")
"$KX" reset "$id" > "$R/global.reset" 2>&1
batch reset

# Per-thread: a task reaching the span's entry switches at once, the
# sleeper does not; the transaction completes when it leaves.
sleeper
"$KX" set SHRINK_BATCH=48 --transition per-thread --settle 0 > "$R/thread.out" 2>&1
"$KX" status --json > "$R/thread.during"
batch thread_during
wait
sleep 0.2
"$KX" status --json > "$R/thread.after"
id=$(tx_id < "$R/thread.out")
# Unloading while a task is inside: the switch back waits for it too.
sleeper
"$KX" reset "$id" > "$R/thread.reset" 2>&1
echo $? > "$R/thread.reset.rc"
wait
batch thread_reset
# A per-object policy: this shrinker (seeks 7) in batches of 32, others as compiled.
"$KX" load "$(dirname "$0")/../../../examples/policies/per_shrinker.bpf.c" > "$R/per_shrinker.out" 2>&1
batch per_shrinker
"$KX" status --json > "$R/per_shrinker.status"
"$KX" unload "$(dirname "$0")/../../../examples/policies/per_shrinker.bpf.c" >> "$R/per_shrinker.out" 2>&1
cat /sys/kernel/debug/kprobes/list > "$R/kprobes"
