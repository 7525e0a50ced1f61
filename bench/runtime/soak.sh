#!/usr/bin/env bash
# Soak: CYCLES load/unload rounds in the lab guest (kx set/reset of two
# consts and X-tune load/unload, global and per-thread transitions) under
# fio, iperf3, drop_caches and a fork storm that keeps zombies and exited
# thread-group leaders on the task list (soak_guest.sh), with no
# WARN/BUG/oops (the lab run fails on any), no kprobe left, the module
# removable at the end. Slow under TCG (seconds a cycle): a soak, not a test.
#   bench/runtime/soak.sh [CYCLES]   (default 1000)
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
CYCLES=${1:-1000}
lab_ready BLK_MAX_REQUEST_COUNT SHRINK_BATCH
gcc -O2 -pthread -o "$out/dead_tasks" tests/lab/tools/dead_tasks.c
# The policy, compiled once here (kx compile): each cycle's kx load then
# verifies and attaches, with no clang in the slow guest.
"$KX" gen BLK_MAX_REQUEST_COUNT -o "$out/p.bpf.c" > /dev/null
sed -i 's/x_set(ctx, x_default());/x_set(ctx, 8 + (bpf_get_prandom_u32() \& 7));/' "$out/p.bpf.c"
"$KX" compile "$out/p.bpf.c" -o "$out/p.bpf.o" > /dev/null
"$KX" lab run --timeout $((CYCLES * 60 + 300)) --results "$out" -- \
  bash bench/runtime/soak_guest.sh "$KX" "$CYCLES" "$out/dead_tasks" "$out/p.bpf.o" ||
  { echo "FAIL: the lab run failed; progress (every 10 cycles):"; cat "$out/progress" 2>/dev/null; exit 1; }
read -r n secs < "$out/done"
echo "$n cycles in $secs s ($(python3 -c "print(f'{$secs / $n:.2f}')") s each) under fio, iperf3, drop_caches and a fork/zombie storm: no WARN/BUG/oops"
[[ ! -s "$out/kprobes" ]] || { echo "FAIL: kprobes left: $(cat "$out/kprobes")"; exit 1; }
[[ -s "$out/rmmod" ]] || { echo "FAIL: x-sie.ko could not be removed"; exit 1; }
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["transactions"] == []' "$out/status" ||
  { echo "FAIL: transactions left"; exit 1; }
echo "no kprobe, no transaction left; x-sie.ko removed"
