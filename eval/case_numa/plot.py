"""Table and plot for eval/case_numa: plot.py RUNS DEST."""
import os
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from runs import medians  # noqa: E402

runs, dest = sys.argv[1], sys.argv[2]
cols = "value accesses p50 p99 p999 max migrated calls tlb hits batches".split()
rows = medians(runs, cols, f"{dest}/results.tsv")
for r in rows:
    print(f"NR_MAX_BATCHED_MIGRATION={r['value']:>5.0f}: p50 {r['p50']:.0f} ns, p99 {r['p99']:.0f} ns, "
          f"p99.9 {r['p999']:.0f} ns, max {r['max'] / 1e6:.1f} ms; {r['migrated']:.0f} pages migrated, "
          f"{r['tlb']:.0f} TLB IPIs ({r['tlb'] / max(r['migrated'], 1):.2f}/page), {r['hits']:.0f} const hits, "
          f"{r['migrated'] / max(r['batches'], 1):.1f} pages per migrate_pages_batch()")
xs = [r["value"] for r in rows]
fig, ax = plt.subplots(1, 3, figsize=(13, 4))
for key, label in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")):
    ax[0].plot(xs, [r[key] / 1e3 for r in rows], marker="o", label=label)
ax[0].set_title("hot-page access latency (us)"); ax[0].set_yscale("log"); ax[0].legend()
ax[1].plot(xs, [r["tlb"] / max(r["migrated"], 1) for r in rows], marker="o")
ax[1].set_title("TLB-shootdown IPIs per migrated page"); ax[1].set_ylim(bottom=0)
ax[2].plot(xs, [r["migrated"] for r in rows], marker="o", label="pages migrated per run")
ax[2].plot(xs, [r["migrated"] / max(r["batches"], 1) for r in rows], marker="s", label="pages per batch")
ax[2].set_yscale("log"); ax[2].legend()
for a in ax:
    a.set_xscale("log", base=2); a.set_xlabel("NR_MAX_BATCHED_MIGRATION (live)"); a.axvline(512, color="grey", ls=":")
fig.suptitle("NR_MAX_BATCHED_MIGRATION tuned live, 2-node TCG guest (medians)")
fig.tight_layout()
fig.savefig(f"{dest}/nr_max_batched_migration.png", dpi=100)
print(f"wrote {dest}/results.tsv and {dest}/nr_max_batched_migration.png")
