#!/usr/bin/env bash
# Concurrency stress for x-sie.ko (issue 12), in one lab guest for SECONDS:
# kx set/reset (global, per-thread, short timeouts, --force), X-tune
# load/unload, kx status and rmmod all race each other, while kprobe
# optimization is toggled, CPU 1 goes off- and online, and a third-party
# kprobe (a trace event and a BPF program, tools/neighbour*) comes and goes
# at x-sie.ko's own probe sites; fio, iperf3, drop_caches and a fork/zombie
# storm keep the spans busy (stress_guest.sh). Any WARN/BUG/oops fails the
# lab run itself. Prints each actor's outcomes: every refusal must be one of
# the clean one-line errors, and at the end no kprobe, no transaction is
# left and the module is removable.
#   bench/reliability/stress.sh [SECONDS]   (default 600)
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
SECONDS_=${1:-600}
lab_ready BLK_MAX_REQUEST_COUNT SHRINK_BATCH
gcc -O2 -pthread -o "$out/dead_tasks" tests/lab/tools/dead_tasks.c
clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c bench/reliability/tools/neighbour.bpf.c -o "$out/neighbour.bpf.o"
gcc -O2 -o "$out/neighbour" bench/reliability/tools/neighbour.c -lbpf
# FUNC OFFSET of each const's first critical span's probe: where a
# third-party kprobe sits right on top of x-sie.ko's.
sites=$(for c in BLK_MAX_REQUEST_COUNT SHRINK_BATCH; do
  "$KX" show "$c" --json | python3 -c '
import json, sys
s = json.load(sys.stdin)["critical_spans"][0]
base = int(s["address"], 16) - s["start"]
print(s["function"], hex(int(s["probe_address"], 16) - base))'
done | tr '\n' ' ')
"$KX" lab run --smp 2 --timeout $((SECONDS_ + 600)) --results "$out" -- \
  bash bench/reliability/stress_guest.sh "$KX" "$SECONDS_" "$out" $sites
cat "$out/summary"
fail=0
[[ ! -s "$out/kprobes" ]] || { echo "FAIL: kprobes left: $(cat "$out/kprobes")"; fail=1; }
[[ -s "$out/rmmod" ]] || { echo "FAIL: x-sie.ko could not be removed"; fail=1; }
[[ ! -s "$out/unexpected" ]] || { echo "FAIL: unexpected errors:"; sort "$out/unexpected" | uniq -c; fail=1; }
((fail == 0)) && echo "no oops, no unexpected error, no kprobe or transaction left; x-sie.ko removed"
exit $fail
