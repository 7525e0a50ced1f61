#!/usr/bin/env bash
# Case study (paper Fig. 1): BLK_MAX_REQUEST_COUNT, the plug's request limit,
# tuned live on a fast device and on a slow, disk-like one (null_blk with 2 ms
# completions). Sequential 4 KiB writes: the plug merges adjacent bios until
# it flushes, so the limit decides how many bios become one request; the
# effect on throughput depends on the device. Writes results.tsv and
# blk_max_request_count.png beside this script. TCG guest: compare within a run.
#   eval/case_blk/run.sh [VALUE...]   (default 4 8 16 32 64 128)
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
values=("${@:-4 8 16 32 64 128}")
lab_ready BLK_MAX_REQUEST_COUNT
# shellcheck disable=SC2068
"$KX" lab run --timeout 900 --results "$out" -- bash eval/case_blk/guest.sh "$KX" ${values[@]}
/usr/bin/python3 - "$out/runs" eval/case_blk <<'EOF'  # Debian's python3-matplotlib
import sys, collections
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = [l.split() for l in open(sys.argv[1])]
dest = sys.argv[2]
with open(f"{dest}/results.tsv", "w") as f:
    f.write("device\tvalue\tiops\tmerges\trequests\tbios_per_request\n")
    for d, v, iops, m, n in rows:
        bpr = (int(m) + int(n)) / max(int(n), 1)
        f.write(f"{d}\t{v}\t{iops}\t{m}\t{n}\t{bpr:.2f}\n")
        print(f"{d:5} BLK_MAX_REQUEST_COUNT={v:>4}: {int(iops):>7} IOPS, {bpr:6.2f} bios per request")
fig, ax = plt.subplots(1, 2, figsize=(10, 4))
for d in ("fast", "slow"):
    pts = sorted((int(v), int(i), (int(m) + int(n)) / max(int(n), 1)) for dd, v, i, m, n in rows if dd == d)
    xs = [p[0] for p in pts]
    ax[0].plot(xs, [p[1] for p in pts], marker="o", label=f"{d} null_blk")
    ax[1].plot(xs, [p[2] for p in pts], marker="o", label=f"{d} null_blk")
for a, t in zip(ax, ("throughput (IOPS)", "bios merged per request")):
    a.set_xscale("log", base=2); a.set_xlabel("BLK_MAX_REQUEST_COUNT (live)"); a.set_title(t); a.legend()
    a.axvline(32, color="grey", ls=":")
fig.suptitle("BLK_MAX_REQUEST_COUNT tuned live, sequential 4 KiB writes (TCG guest)")
fig.tight_layout()
fig.savefig(f"{dest}/blk_max_request_count.png", dpi=100)
print(f"wrote {dest}/results.tsv and {dest}/blk_max_request_count.png")
EOF
