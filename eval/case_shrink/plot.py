"""Table and plot for eval/case_shrink: plot.py RUNS DEST."""
import os
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from runs import medians  # noqa: E402

runs, dest = sys.argv[1], sys.argv[2]
cols = "value seconds p99_us pswpin pswpout shrink_calls".split()
rows = medians(runs, cols, f"{dest}/results.tsv")
for r in rows:
    print(f"SHRINK_BATCH={r['value']:>4.0f}: {r['seconds']:.2f} s, p99 block {r['p99_us']:.0f} us, "
          f"swap-ins {r['pswpin']:.0f}, swap-outs {r['pswpout']:.0f}, do_shrink_slab runs {r['shrink_calls']:.0f}")
xs = [r["value"] for r in rows]
fig, ax = plt.subplots(1, 3, figsize=(13, 4))
ax[0].plot(xs, [r["seconds"] for r in rows], marker="o"); ax[0].set_title("workload time (s)")
ax[1].plot(xs, [r["pswpin"] for r in rows], marker="o", label="swap-ins")
ax[1].plot(xs, [r["pswpout"] for r in rows], marker="o", label="swap-outs")
ax[1].set_title("pages swapped (zram)"); ax[1].legend()
ax[2].plot(xs, [r["shrink_calls"] for r in rows], marker="o"); ax[2].set_title("do_shrink_slab runs")
for a in ax:
    a.set_xscale("log", base=2); a.set_xlabel("SHRINK_BATCH (live)"); a.axvline(128, color="grey", ls=":")
    a.set_ylim(bottom=0)
fig.suptitle("SHRINK_BATCH tuned live, reuse workload in a 128M memory cgroup (TCG guest, medians)")
fig.tight_layout()
fig.savefig(f"{dest}/shrink_batch.png", dpi=100)
print(f"wrote {dest}/results.tsv and {dest}/shrink_batch.png")
