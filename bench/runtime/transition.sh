#!/usr/bin/env bash
# Transition times (paper Fig. 18-19): kx set BLK_MAX_REQUEST_COUNT=8 with a
# global and a per-thread transition, on an idle guest and under fio, against
# the kernel's own livepatch-sample (samples/livepatch) in the same guest.
# MODE is x-sie.ko's switch time (from the start of the transition to the
# moment no task was inside a safe span), split into .monitors (registering
# the entry/exit kprobes), .scan (the stop_machine stack scan) and .wait
# (tasks leaving their spans); .wall is the whole kx set (planning, checks,
# waiting for the kprobe optimizer); livepatch's is insmod to transition 0.
#   bench/runtime/transition.sh [REPS]   (default 3)
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
REPS=${1:-3}
keep_raw times transition plot
lab_ready BLK_MAX_REQUEST_COUNT
src=$("$KX" kernel show | python3 -c 'import json,sys; d = json.load(sys.stdin); print(d.get("tree", d["cache"] + "/src"))')
mkdir -p "$out/lp"
cp "$src/samples/livepatch/livepatch-sample.c" "$out/lp/"
echo 'obj-m := livepatch-sample.o' > "$out/lp/Kbuild"
lp=$("$KX" kernel build-module "$out/lp" -o "$out/lpko")
"$KX" lab run --timeout 1200 --results "$out" -- bash bench/runtime/transition_guest.sh "$KX" "$lp" "$REPS"
python3 - "$out/times" <<'EOF'
import sys, statistics as st, collections
v = collections.defaultdict(list)
for line in open(sys.argv[1]):
    k, ms, *rest = line.split()
    v[k].append(float(ms))
print("median ms over runs (TCG guest)")
for k in sorted(v):
    print(f"{k:22} {st.median(v[k]):10.2f}   (runs: {', '.join(f'{x:.1f}' for x in v[k])})")
lp = st.median(v["livepatch.patch"])
for k in ("global.idle", "per-thread.idle", "global.fio", "per-thread.fio"):
    print(f"livepatch / {k:16} {lp / max(st.median(v[k]), 1e-3):8.0f}x")
EOF
