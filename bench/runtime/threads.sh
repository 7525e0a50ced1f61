#!/usr/bin/env bash
# Transition time against the number of threads running through the safe
# spans (paper Fig. 19b/20): N fio jobs (threads) on null_blk submit through
# BLK_MAX_REQUEST_COUNT's spans while it switches; per N and mode, the
# stop_machine scan, the wait for every thread to leave (global) or for the
# rest (per-thread), and how many the scan found inside.
#   bench/runtime/threads.sh [REPS] [N...]   (default 3; 1 8 32)
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
REPS=${1:-3}
shift || true
ns=("${@:-1 8 32}")
keep_raw threads threads
lab_ready BLK_MAX_REQUEST_COUNT
# shellcheck disable=SC2068
"$KX" lab run --timeout 1800 --results "$out" -- bash bench/runtime/threads_guest.sh "$KX" "$REPS" ${ns[@]}
python3 - "$out/threads" <<'EOF'
import sys, statistics as st, collections
v = collections.defaultdict(list)
for line in open(sys.argv[1]):
    mode, n, scan, wait, seeded = line.split()
    v[(mode, int(n))].append((float(scan), float(wait), int(seeded)))
print("median over runs (TCG guest)")
print(f"{'mode':>10} {'threads':>7} {'scan ms':>8} {'wait ms':>8} {'inside at scan':>14}")
for (mode, n), runs in sorted(v.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    print(f"{mode:>10} {n:>7} {st.median(r[0] for r in runs):>8.2f} {st.median(r[1] for r in runs):>8.2f} "
          f"{st.median(r[2] for r in runs):>14.0f}")
EOF
