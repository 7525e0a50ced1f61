"""Table and plot for eval/case_shrink: plot.py RUNS DEST."""
import collections
import statistics
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

runs, dest = sys.argv[1], sys.argv[2]
cols = "value seconds p99_us pswpin pswpout shrink_calls".split()
by_value = collections.defaultdict(list)
for line in open(runs):
    r = dict(zip(cols, map(float, line.split())))
    by_value[int(r["value"])].append(r)
with open(f"{dest}/results.tsv", "w") as f:  # every run
    f.write("\t".join(cols) + "\n")
    for v in sorted(by_value):
        for r in by_value[v]:
            f.write("\t".join(f"{r[c]:g}" for c in cols) + "\n")
rows = [{c: statistics.median(r[c] for r in by_value[v]) for c in cols} for v in sorted(by_value)]
print(f"median of {min(len(r) for r in by_value.values())}+ runs per value")
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
