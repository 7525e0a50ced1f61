#!/usr/bin/env bash
# Case study (paper Fig. 11 left): MAX_SOFTIRQ_RESTART, how many rounds
# handle_softirqs runs before deferring to ksoftirqd, tuned live under a
# softirq-heavy network load (iperf3 over veth between namespaces) while
# cyclictest measures an RT thread's wake-up latency. Writes results.tsv and
# max_softirq_restart.png beside this script. TCG guest: compare within a run.
#   eval/case_softirq/run.sh [VALUE...]   (default 1 4 10 40)
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
values=("${@:-1 4 10 40}")
lab_ready MAX_SOFTIRQ_RESTART
# shellcheck disable=SC2068
"$KX" lab run --timeout 900 --results "$out" -- bash eval/case_softirq/guest.sh "$KX" ${values[@]}
/usr/bin/python3 - "$out/runs" eval/case_softirq <<'EOF'  # Debian's python3-matplotlib
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = sorted((int(v), float(g), float(a), float(m)) for v, g, a, m in (l.split() for l in open(sys.argv[1])))
dest = sys.argv[2]
with open(f"{dest}/results.tsv", "w") as f:
    f.write("value\tgbps\tcyclictest_avg_us\tcyclictest_max_us\n")
    for v, g, a, m in rows:
        f.write(f"{v}\t{g}\t{a:g}\t{m:g}\n")
        print(f"MAX_SOFTIRQ_RESTART={v:>3}: iperf3 {g:6.3f} Gbit/s, cyclictest avg {a:g} us, max {m:g} us")
fig, ax = plt.subplots(1, 2, figsize=(10, 4))
xs = [r[0] for r in rows]
ax[0].plot(xs, [r[1] for r in rows], marker="o"); ax[0].set_title("iperf3 over veth (Gbit/s)")
ax[1].plot(xs, [r[2] for r in rows], marker="o", label="avg"); ax[1].plot(xs, [r[3] for r in rows], marker="o", label="max")
ax[1].set_title("cyclictest wake-up latency (us)"); ax[1].set_yscale("log"); ax[1].legend()
for a in ax:
    a.set_xscale("log"); a.set_xlabel("MAX_SOFTIRQ_RESTART (live)"); a.axvline(10, color="grey", ls=":")
fig.suptitle("MAX_SOFTIRQ_RESTART tuned live under softirq load (TCG guest)")
fig.tight_layout()
fig.savefig(f"{dest}/max_softirq_restart.png", dpi=100)
print(f"wrote {dest}/results.tsv and {dest}/max_softirq_restart.png")
EOF
