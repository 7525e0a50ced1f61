#!/usr/bin/env bash
# Global-consistency transition time against safe-span size and threads
# (paper Fig. 20): N shell loops drive drop_caches through SHRINK_BATCH's
# safe span, where the ss_depth test shrinker spends DEPTH call levels of
# LEVEL_US each; per (DEPTH, N), the wait for a moment with nobody inside
# and the refcount updates (monitor hits) until then.
#   bench/runtime/ss_depth.sh [REPS] [N...]   (default 3; 1 2 4 8 16)
#   DEPTHS="1 4 16" LEVEL_US=50 SLEEP=1 CAP_S=30 in the environment (SLEEP=0:
#   the levels spin, and the stop_machine scan never finds anyone inside;
#   CAP_S: how long to wait for a moment with nobody inside)
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
REPS=${1:-3}
shift || true
ns=("${@:-1 2 4 8 16}")
keep_raw ss_depth ss_depth plot
lab_ready SHRINK_BATCH
ko=$("$KX" kernel build-module bench/runtime/modules/ss_depth -o "$out/module")
# shellcheck disable=SC2068
"$KX" lab run --timeout 3000 --results "$out" -- \
  bash bench/runtime/ss_depth_guest.sh "$KX" "$ko" "$REPS" "${LEVEL_US:-50}" "${DEPTHS:-1 4 16}" "${SLEEP:-1}" "${CAP_S:-30}" ${ns[@]}
python3 - "$out/ss_depth" <<'PY'
import collections, statistics as st, sys
v = collections.defaultdict(list)
for line in open(sys.argv[1]):
    d, n, wait, updates, seeded, censored = line.split()
    v[(int(d), int(n))].append((float(wait), int(updates), int(seeded), int(censored)))
print("median over runs (TCG guest)")
print(f"{'depth':>5} {'threads':>7} {'wait ms':>9} {'refcount updates':>16} {'inside at scan':>14} {'capped':>6}")
for (d, n), runs in sorted(v.items()):
    print(f"{d:>5} {n:>7} {st.median(r[0] for r in runs):>9.2f} {st.median(r[1] for r in runs):>16.0f} "
          f"{st.median(r[2] for r in runs):>14.0f} {sum(r[3] for r in runs):>3}/{len(runs)}")
PY
