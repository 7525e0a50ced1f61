#!/usr/bin/env bash
# Soak (issue 6): CYCLES load/unload rounds under fio in the lab guest (kx
# set/reset and X-tune load/unload, global and per-thread transitions) with
# no WARN/BUG/oops (the lab run fails on any), no kprobe left, the module
# removable at the end. Slow under TCG (~1-2 s a cycle): a soak, not a test.
#   bench/runtime/soak.sh [CYCLES]   (default 1000)
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
CYCLES=${1:-1000}
lab_ready BLK_MAX_REQUEST_COUNT
"$KX" lab run --timeout $((CYCLES * 10 + 300)) --results "$out" -- bash bench/runtime/soak_guest.sh "$KX" "$CYCLES"
read -r n secs < "$out/done"
echo "$n cycles in $secs s ($(python3 -c "print(f'{$secs / $n:.2f}')") s each) under fio: no WARN/BUG/oops"
[[ ! -s "$out/kprobes" ]] || { echo "FAIL: kprobes left: $(cat "$out/kprobes")"; exit 1; }
[[ -s "$out/rmmod" ]] || { echo "FAIL: x-sie.ko could not be removed"; exit 1; }
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["transactions"] == []' "$out/status" ||
  { echo "FAIL: transactions left"; exit 1; }
echo "no kprobe, no transaction left; x-sie.ko removed"
