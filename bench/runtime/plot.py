#!/usr/bin/env python3
"""Figures from the raw results the bench scripts keep in bench/runtime/results/:
  plot.py policy_update  -> fig17_policy_update.png (time per step, 1 vs 15 safe spans)
  plot.py transition     -> fig18_transition.png (kernelx switch vs livepatch)
  plot.py overhead       -> fig16_overhead.png (slowdown vs batch, static vs optimized vs int3)
  plot.py ss_depth       -> fig20_ss_depth.png (global switch vs threads and span depth)
Needs Debian's python3-matplotlib (scripts/setup.sh installs it)."""
import collections
import os
import re
import statistics as st
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def policy_update():
    rows, cur, ss = collections.defaultdict(list), None, 0
    for line in open(f"{here}/policy_update.raw"):
        if line.startswith("set"):
            cur = line.split(" ", 1)[1].strip()
        elif "safe spans" in line:
            ss = int(re.search(r"(\d+) safe spans", line).group(1))
        elif line.startswith("time:"):
            t = dict((k.strip(), float(v)) for k, v in re.findall(r"([a-z+ ]+?) ([0-9.]+) ms", line))
            t["ss"] = ss
            rows[cur].append(t)
    steps = ["compile", "verify+load", "plan", "kprobes", "monitors", "scan"]
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [f"{v[0]['ss']} SS" for v in rows.values()]
    bottom = [0] * len(rows)
    for s in steps:
        vals = [st.median(r.get(s, 0) for r in v) for v in rows.values()]
        ax.bar(labels, vals, bottom=bottom, label=s)
        bottom = [b + x for b, x in zip(bottom, vals)]
    ax.set_ylabel("ms (median, TCG guest)")
    ax.set_title("kx load: policy-update time by step (paper Fig. 17)")
    ax.legend()
    return fig, "fig17_policy_update.png"


def transition():
    v = collections.defaultdict(list)
    for line in open(f"{here}/transition.raw"):
        k, ms, *_ = line.split()
        v[k].append(float(ms))
    cases = ["global.idle", "per-thread.idle", "global.fio", "per-thread.fio"]
    fig, ax = plt.subplots(figsize=(8, 4))
    x = list(range(len(cases)))
    mon = [st.median(v[f"{c}.monitors"]) for c in cases]
    sw = [st.median(v[f"{c}.scan"]) + st.median(v[f"{c}.wait"]) for c in cases]
    lp = st.median(v["livepatch.patch"])
    ax.bar([i - 0.2 for i in x], sw, width=0.4, label="kernelx switch: stop_machine scan + waiting for tasks")
    ax.bar([i + 0.2 for i in x], mon, width=0.4, label="kernelx: registering the monitor kprobes")
    ax.bar([len(cases)], [lp], width=0.4, label="livepatch-sample: insmod to transition 0")
    ax.set_xticks(x + [len(cases)], cases + ["livepatch"], rotation=15)
    ax.set_yscale("log")
    ax.set_ylim(0.1, lp * 3)
    ax.set_ylabel("ms (median, log)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Transition time, same TCG guest (paper Fig. 18-19)")
    ax.legend(fontsize=8)
    return fig, "fig18_transition.png"


def overhead():
    v = collections.defaultdict(list)
    for line in open(f"{here}/overhead.raw"):
        mode, batch, iops, _, work = (line.split() + ["0"])[:5]
        v[(mode, int(batch), int(work))].append(float(iops))
    works = sorted({w for _, _, w in v})
    fig, ax = plt.subplots(figsize=(6, 4))
    for batch in sorted({b for _, b, _ in v if b > 1}):
        for mode, style in (("static", ":"), ("optimized", "-"), ("int3", "--")):
            ws = [w for w in works if (mode, batch, w) in v]
            ys = [st.median(v[("base", batch, w)]) / st.median(v[(mode, batch, w)]) for w in ws]
            ax.plot([works.index(w) for w in ws], ys, style, marker="o", label=f"{mode}, {batch} requests/submit")
    ax.axhline(1, color="grey", ls=":")
    ax.set_xticks(range(len(works)), ["4 KiB reads" if w == 0 else f"{w} KiB fresh writes" for w in works])
    ax.set_xlabel("per-op work")
    ax.set_ylabel("slowdown vs no kernelx")
    ax.set_title("BLK_MAX_REQUEST_COUNT indirection cost vs per-op work (Fig. 16)", fontsize=10)
    ax.legend(fontsize=8)
    return fig, "fig16_overhead.png"


def ss_depth():
    v = collections.defaultdict(list)
    for line in open(f"{here}/ss_depth.raw"):
        d, n, wait, updates, _, capped = line.split()
        v[(int(d), int(n))].append((float(wait), int(updates), int(capped)))
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for d in sorted({d for d, _ in v}):
        ns = sorted(n for dd, n in v if dd == d)
        for i, label in enumerate(("wait for nobody inside (ms)", "refcount updates until the switch")):
            ys = [st.median(r[i] for r in v[(d, n)]) for n in ns]
            line, = ax[i].plot(ns, ys, marker="o", label=f"depth {d}")
            capped = [(n, y) for n, y in zip(ns, ys) if any(r[2] for r in v[(d, n)])]
            if capped:  # a lower bound: some run found no quiet moment before the cap
                ax[i].scatter(*zip(*capped), s=150, facecolors="none", edgecolors=line.get_color())
            ax[i].set_title(label)
    for a in ax:
        a.set_xscale("log", base=2); a.set_yscale("log"); a.set_xlabel("threads in the safe span's path"); a.legend()
    fig.suptitle("Global-consistency transition vs threads and safe-span depth (Fig. 20, TCG guest)\n"
                 "circled: a run hit the cap (load stopped), a lower bound", fontsize=10)
    return fig, "fig20_ss_depth.png"


if __name__ == "__main__":
    fig, name = {"policy_update": policy_update, "transition": transition, "overhead": overhead,
                 "ss_depth": ss_depth}[sys.argv[1]]()
    fig.tight_layout()
    fig.savefig(f"{here}/{name}", dpi=100)
    print(f"wrote bench/runtime/results/{name}")
