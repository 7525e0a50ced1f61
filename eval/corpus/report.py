#!/usr/bin/env python3
"""Summarises eval/corpus/results/*.json (from run.sh) against the paper's §6
numbers: coverage, critical spans per const (Fig. 14), span sizes (Fig. 15),
relations, untunable reasons and offline time, and how many rows are fresh
(made by this kx's analysis version) or stale. Writes REPORT.md beside it.
  report.py [RESULTS_DIR [OUT_DIR]]    ($KX: the kx to ask, build/kx)"""
import collections
import subprocess
import glob
import json
import os
import re
import statistics
import sys

here = os.path.dirname(os.path.abspath(__file__))
results = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "results")
out_dir = sys.argv[2] if len(sys.argv) > 2 else here
rows = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(results, "*.json")))]
corpus_size = 240
VMLINUX = "/usr/lib/debug/boot/vmlinux-6.1.0-56-cloud-amd64"


def current_analysis():
    """This kx's analysis version, or None where kx cannot say."""
    kx = os.environ.get("KX", os.path.join(here, "..", "..", "build", "kx"))
    try:
        return subprocess.run([kx, "version", "--analysis"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


analysis = current_analysis()
fresh = [r for r in rows if analysis and r.get("analysis") == analysis]
stale_versions = collections.Counter(r.get("analysis") or "unversioned" for r in rows
                                     if not (analysis and r.get("analysis") == analysis))


def reason_class(r):
    reason = r.get("reason", "")
    for pattern, name in [
        (r"changes memory layout", "changes memory layout"),
        (r"compiler generates different code", "strength-reduced (no instruction carries it)"),
        (r"could not be located in the shipped code", "use not found in the shipped code"),
        (r"no seed", "folded away (no seed)"),
        (r"no object linked into vmlinux", "not in vmlinux"),
        (r"memory it reads", "span reads memory (update cannot)"),
        (r"branch target", "update point is a branch target"),
        (r"not-synthesized|failed|timeout", "update not synthesized/proved"),
    ]:
        if re.search(pattern, reason):
            return name
    return reason[:60] or "?"


status = collections.Counter(r["status"] for r in rows)
tunable = [r for r in rows if r["status"] == "tunable"]
cs_per_const = [len(r.get("critical_spans", [])) for r in tunable]
cs_sizes, ss_sizes, kinds, proofs = [], [], collections.Counter(), collections.Counter()
renamed = nonlinear = seeds = 0
for r in tunable:
    for u in r.get("uses", []):
        seeds += 1
        renamed += bool(u.get("renamed"))
        nonlinear += "nonlinear" in u
    for cs in r.get("critical_spans", []):
        kinds[cs["kind"]] += 1
        proofs[cs["proof"]] += 1
        # Instructions in the span: offsets give bytes; count uses inside instead.
        cs_sizes.append(1 + sum(1 for u in r["uses"] if cs["start"] < u["offset"] <= cs["end"] and u["function"] == cs["function"]))
    for ss in r.get("safe_spans", []):
        ss_sizes.append(ss["size_insns"])
times = [r["timing"]["total"] for r in rows if "timing" in r]
ss_times = [r["timing"].get("safe_spans", 0) for r in tunable if "timing" in r]

# Safe spans against their critical spans and functions, in bytes (the
# ranges the runtime's stack inspection uses; function sizes from the
# debug vmlinux's symbol table).
fn_bytes = {}
try:
    nm = subprocess.run(["nm", "-S", "--defined-only", VMLINUX], capture_output=True, text=True, check=True).stdout
    for line in nm.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tT":
            fn_bytes.setdefault(f[3], int(f[1], 16))
except (OSError, subprocess.CalledProcessError):
    pass
ss_bytes, ss_fn_share, without_ss, unmonitorable, ss_count = [], [], [], [], 0
for r in tunable:
    sss = r.get("safe_spans", [])
    ss_count += len(sss)
    if not sss:
        without_ss.append(r["id"])
    for ss in sss:
        top = [g for g in ss["ranges"] if g["function"] == ss["function"]]
        b = sum(int(g["end"], 16) - int(g["start"], 16) for g in top)
        ss_bytes.append(b)
        if fn_bytes.get(ss["function"]):
            ss_fn_share.append(round(100 * b / fn_bytes[ss["function"]]))
        if not (1 <= len(ss["exits"]) <= 15 and 1 <= len(ss["ranges"]) <= 64 and
                all(p["probeable"] for p in ss["probes"])):
            unmonitorable.append(r["id"])
fn_of_ss = [fn_bytes[ss["function"]] for r in tunable for ss in r.get("safe_spans", []) if ss["function"] in fn_bytes]


def dist(xs):
    if not xs:
        return "-"
    return f"median {statistics.median(xs):g}, mean {statistics.mean(xs):.1f}, max {max(xs)} (n={len(xs)})"


out = []
out.append("# Corpus analysis report\n")
out.append(f"Analysed {len(rows)} of the {corpus_size} corpus rows (`eval/corpus/run.sh`).\n")
if analysis:
    versions = ", ".join(f"`{v}` × {n}" for v, n in stale_versions.most_common())
    out.append(f"Fresh: {len(fresh)} of {len(rows)} rows come from this kx's analysis (`{analysis}`); "
               f"stale: {len(rows) - len(fresh)}" + (f" ({versions}): re-run `eval/corpus/run.sh` to redo them"
                                                      if stale_versions else "") + ".\n")
else:
    out.append(f"Fresh rows unknown: no kx to ask for its analysis version (build kx, or set $KX); "
               f"analysis versions in the rows: {dict(stale_versions)}.\n")
out.append("| status | consts |\n|---|---|")
for s in ("tunable", "untunable", "error"):
    out.append(f"| {s} | {status.get(s, 0)} |")
out.append("")
out.append(f"- Critical spans per tunable const (paper Fig. 14: 367 CSes for 140 consts, 48% single): {dist(cs_per_const)};"
           f" single-CS consts: {sum(1 for c in cs_per_const if c == 1)}")
out.append(f"- Critical-span kinds: {dict(kinds)}; proofs: {dict(proofs)} (every update proven with Z3)")
out.append(f"- Safe spans: {ss_count} for {sum(len(r.get('critical_spans', [])) for r in tunable)} critical spans "
           f"(paper: 300 SSes from 367 CSes); tunable consts without one: {len(without_ss)} {without_ss or ''}")
out.append(f"- Safe-span size in instructions (callees included): {dist(ss_sizes)} (paper: median 10)")
out.append(f"- Safe-span bytes in its own function: {dist(ss_bytes)}; share of that function: {dist(ss_fn_share)} %;"
           f" the functions: {dist(fn_of_ss)} bytes")
out.append(f"- Seeds per critical span: {dist(cs_sizes)}")
out.append(f"- Safe spans the runtime cannot monitor (no exit, >15 exits, >64 ranges, unprobeable point): "
           f"{len(unmonitorable)} {sorted(set(unmonitorable)) or ''}")
out.append(f"- Analysis time added by safe spans per const, seconds: {dist([round(t, 2) for t in ss_times])}")
out.append(f"- Seeds: {seeds}; aligned across register renaming: {renamed}; non-linear T=f(V): {nonlinear}")
out.append(f"- Offline time per const, seconds: {dist([round(t, 1) for t in times])} (paper: ~18 min; goal ≤ 60 s median)")
families = collections.Counter(r.get("test_family", "shaped") for r in tunable)
retried = sum(1 for r in rows if r.get("families_tried"))
out.append(f"- Test-value family of the tunable consts: {dict(families)}; consts analysed with more than one family: "
           f"{retried}")
sets_t = [r["id"] for r in tunable if any(cs.get("tunes_t") for cs in r.get("critical_spans", []))]
by_expr = sum(1 for r in tunable for cs in r.get("critical_spans", [])
              if any("matched by its symbolic state expression" in n for n in cs.get("notes", [])))
out.append(f"- Tunable consts some span of which sets T (a non-linear relation, its range one of T): {len(sets_t)}; "
           f"critical spans matched by their symbolic expression (the shipped code has no instruction carrying T): "
           f"{by_expr}")
out.append("")
out.append("## Why consts are not tunable\n")
out.append("| reason | consts |\n|---|---|")
for reason, n in collections.Counter(reason_class(r) for r in rows if r["status"] != "tunable").most_common():
    out.append(f"| {reason} | {n} |")
out.append("")
out.append("## Per const\n")
out.append("| id | spec | status | analysis | uses | CS | SS | time (s) | reason |\n|---|---|---|---|---|---|---|---|---|")
for r in rows:
    age = "fresh" if analysis and r.get("analysis") == analysis else "stale"
    out.append(f"| {r['id']} | `{r['spec']}` | {r['status']} | {age} | {len(r.get('uses', []))} | "
               f"{len(r.get('critical_spans', []))} | {len(r.get('safe_spans', []))} | "
               f"{r.get('timing', {}).get('total', 0):.1f} | {r.get('reason', '')[:90].replace('|', '/')} |")
text = "\n".join(out) + "\n"
open(os.path.join(out_dir, "REPORT.md"), "w").write(text)
print(text.split("## Per const")[0])

# Figures 14 and 15 as PNGs beside the report (Debian's python3-matplotlib:
# run with /usr/bin/python3; skipped where matplotlib is missing).
if not tunable:
    print("no tunable rows: no plots")
    raise SystemExit(0)
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib missing: no plots (run with /usr/bin/python3)")
    raise SystemExit(0)
ss_per_const = [len(r.get("safe_spans", [])) for r in tunable]
fig, ax = plt.subplots(figsize=(6, 4))
top = max(cs_per_const + ss_per_const)
bins = [b - 0.5 for b in range(0, top + 2)]
ax.hist([cs_per_const, ss_per_const], bins=bins, label=["critical spans", "safe spans"])
ax.set_xlabel("spans per tunable const"); ax.set_ylabel("consts"); ax.legend()
ax.set_title(f"Spans per const, {len(tunable)} tunable consts (paper Fig. 14)")
fig.tight_layout(); fig.savefig(os.path.join(out_dir, "fig14_spans_per_const.png"), dpi=100)


def cdf(a, xs, label):
    xs = sorted(xs)
    a.plot(xs, [(i + 1) / len(xs) for i in range(len(xs))], label=label)


fig, ax = plt.subplots(1, 2, figsize=(10, 4))
cdf(ax[0], cs_sizes, "critical span (seeds)"); cdf(ax[0], ss_sizes, "safe span (callees included)")
ax[0].set_xlabel("instructions"); ax[0].set_title("span sizes, instructions")
cdf(ax[1], ss_bytes, "safe span in its function"); cdf(ax[1], fn_of_ss, "that function")
ax[1].set_xlabel("bytes"); ax[1].set_title("safe spans vs their functions, bytes")
for a in ax:
    a.set_xscale("log"); a.set_ylabel("CDF"); a.legend()
fig.suptitle("Critical spans, safe spans and functions (paper Fig. 15)")
fig.tight_layout(); fig.savefig(os.path.join(out_dir, "fig15_sizes.png"), dpi=100)
print(f"wrote {out_dir}/fig14_spans_per_const.png and fig15_sizes.png")
