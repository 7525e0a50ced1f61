#!/usr/bin/env bash
# The stop_machine scan's cost against the number of tasks (issue 12): with
# N extra sleeping threads in the guest, kx set SHRINK_BATCH (global) scans
# every task's stack once with every CPU stopped; the module reports the
# scan's time. REPS runs per N, medians printed.
#   bench/runtime/scan.sh [REPS] [N...]   (default 3; 0 500 1000 2000)
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
REPS=${1:-3}
shift || true
counts=${*:-0 500 1000 2000}
lab_ready SHRINK_BATCH
gcc -O2 -pthread -o "$out/sleepers" bench/runtime/tools/sleepers.c
keep_raw scan.tsv scan
"$KX" lab run --timeout 1200 --mem 3G --results "$out" -- \
  bash bench/runtime/scan_guest.sh "$KX" "$REPS" "$out/sleepers" $counts
echo "extra threads | tasks scanned | scan ms (median of $REPS)"
python3 - "$out/scan.tsv" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
scanned = {}
for line in open(sys.argv[1]):
    n, tasks, ns = line.split()
    runs[int(n)].append(int(ns) / 1e6)
    scanned[int(n)] = int(tasks)
for n in sorted(runs):
    print(f"{n:13} | {scanned[n]:13} | {statistics.median(runs[n]):.2f}")
PY
