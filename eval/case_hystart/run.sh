#!/usr/bin/env bash
# Case study (paper Fig. 12): HyStart delay thresholds per flow. A short
# path (5 ms) and a long one (60 ms), both with a 20 Mbit/s bottleneck; the
# X-tune examples/policies/per_flow_hystart.bpf.c gives long-RTT flows
# (> 20 ms) thresholds eight times the defaults and leaves short flows
# alone. Compares the slow-start exit cwnd (HyStart delay detection) per
# path with the compiled thresholds and under the policy. Writes
# results.tsv and hystart_per_flow.png beside this script.
#   eval/case_hystart/run.sh [FLOWS]   (default 4 per path and phase)
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
FLOWS=${1:-4}
lab_ready HYSTART_DELAY_MIN HYSTART_DELAY_MAX
"$KX" lab run --timeout 900 --results "$out" -- bash eval/case_hystart/guest.sh "$KX" \
  "$PWD/examples/policies/per_flow_hystart.bpf.c" "$FLOWS"
/usr/bin/python3 - "$out/runs" eval/case_hystart <<'EOF'  # Debian's python3-matplotlib
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = [l.split() for l in open(sys.argv[1])]
dest = sys.argv[2]
mean = {}
with open(f"{dest}/results.tsv", "w") as f:
    f.write("phase\tpath\tdetections\tmean_cwnd_at_exit\n")
    for phase, path, n, c in rows:
        m = int(c) / int(n) if int(n) else float("nan")
        mean[(phase, path)] = m
        f.write(f"{phase}\t{path}\t{n}\t{m:.0f}\n")
        print(f"{phase:9} {path:5} path: {n} HyStart delay exits, mean cwnd at exit {m:.0f}")
fig, ax = plt.subplots(figsize=(6, 4))
for i, phase in enumerate(("default", "per-flow")):
    ax.bar([p + (i - 0.5) * 0.4 for p in (0, 1)], [mean[(phase, "short")], mean[(phase, "long")]], width=0.4,
           label="compiled thresholds" if phase == "default" else "per-flow X-tune")
ax.set_xticks([0, 1], ["short path (5 ms)", "long path (60 ms)"])
ax.set_ylabel("cwnd at HyStart exit (packets)")
ax.set_title("HyStart delay thresholds per flow (TCG guest)")
ax.legend()
fig.tight_layout()
fig.savefig(f"{dest}/hystart_per_flow.png", dpi=100)
print(f"wrote {dest}/results.tsv and {dest}/hystart_per_flow.png")
EOF
