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
gcc -O2 -o "$out/calibrate" bench/runtime/tools/calibrate.c
read -r host_ns _ < <("$out/calibrate")
keep_raw scan.tsv scan
"$KX" lab run --timeout 1200 --mem 3G --results "$out" -- \
  bash bench/runtime/scan_guest.sh "$KX" "$REPS" "$out/sleepers" "$out/calibrate" $counts
read -r guest_ns _ < "$out/calibrate.out"
# TCG slows the guest by the ratio of one fixed pointer chase's times
# (tools/calibrate.c): the last column divides the scan by it, a rough
# figure for the same scan on the host's CPU.
echo "extra threads | tasks scanned | scan ms (median of $REPS) | us per task | ms / TCG slowdown"
python3 - "$out/scan.tsv" "$host_ns" "$guest_ns" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
scanned = {}
for line in open(sys.argv[1]):
    n, tasks, ns = line.split()
    runs[int(n)].append(int(ns) / 1e6)
    scanned[int(n)] = int(tasks)
slowdown = float(sys.argv[3]) / float(sys.argv[2])
for n in sorted(runs):
    ms = statistics.median(runs[n])
    print(f"{n:13} | {scanned[n]:13} | {ms:24.2f} | {1000 * ms / scanned[n]:11.2f} | {ms / slowdown:.3f}")
print(f"TCG slowdown (calibrate: guest {sys.argv[3]} ns / host {sys.argv[2]} ns per step): x{slowdown:.1f}")
PY
