"""Table and plot for eval/case_softirq: plot.py RUNS DEST."""
import os
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from runs import medians  # noqa: E402

runs, dest = sys.argv[1], sys.argv[2]
rows = medians(runs, ["value", "gbps", "cyclictest_avg_us", "cyclictest_max_us"], f"{dest}/results.tsv")
for r in rows:
    print(f"MAX_SOFTIRQ_RESTART={r['value']:>3.0f}: iperf3 {r['gbps']:6.3f} Gbit/s, "
          f"cyclictest avg {r['cyclictest_avg_us']:g} us, max {r['cyclictest_max_us']:g} us")
fig, ax = plt.subplots(1, 2, figsize=(10, 4))
xs = [r["value"] for r in rows]
ax[0].plot(xs, [r["gbps"] for r in rows], marker="o"); ax[0].set_title("iperf3 over veth (Gbit/s)")
ax[1].plot(xs, [r["cyclictest_avg_us"] for r in rows], marker="o", label="avg")
ax[1].plot(xs, [r["cyclictest_max_us"] for r in rows], marker="o", label="max")
ax[1].set_title("cyclictest wake-up latency (us)"); ax[1].set_yscale("log"); ax[1].legend()
for a in ax:
    a.set_xscale("log"); a.set_xlabel("MAX_SOFTIRQ_RESTART (live)"); a.axvline(10, color="grey", ls=":")
fig.suptitle("MAX_SOFTIRQ_RESTART tuned live under softirq load (TCG guest, medians)")
fig.tight_layout()
fig.savefig(f"{dest}/max_softirq_restart.png", dpi=100)
print(f"wrote {dest}/results.tsv and {dest}/max_softirq_restart.png")
