#!/usr/bin/env bash
# Online exploration in the lab: explore_plug.bpf.c sweeps
# BLK_MAX_REQUEST_COUNT over {4, 8, 16, 32, 64} under fio on null_blk,
# counts in BPF how many requests reach the plug per epoch, settles on the
# best, and the block layer then flushes at that depth. Prints each
# candidate's rate and the verdict; writes results.txt beside this script.
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
lab_ready BLK_MAX_REQUEST_COUNT
"$KX" lab run --timeout 600 --results "$out" -- bash eval/exploration/guest.sh "$KX" "$PWD/eval/exploration/explore_plug.bpf.c"
python3 - "$out" <<'EOF' | tee eval/exploration/results.txt
import json, sys
out = sys.argv[1]
v = json.load(open(f"{out}/explore.json"))[0]["formatted"]["value"]
cands = [4, 8, 16, 32, 64]
secs = 0.4 - 0.1  # counted part of each epoch
print("BLK_MAX_REQUEST_COUNT explored online (fio io_uring, 128-request batches, null_blk; TCG guest)")
for c, n in zip(cands, v["runs"]):
    print(f"  {c:>3}: {n / secs:>9.0f} plug requests/s" + ("   <- chosen" if c == v["best"] else ""))
assert v["idx"] >= len(cands), "the exploration did not finish"
depth = lambda f: max(int(l.split()[1]) for l in open(f"{out}/{f}"))
print(f"verdict: {v['best']}; deepest plug flush afterwards: {depth('chosen')} (after kx unload: {depth('after')})")
assert depth("chosen") == v["best"], "the block layer did not follow the chosen value"
EOF
