"""How the proven value ranges of the fresh rows (this analysis version)
compare with the same rows' results at an earlier commit (issue 13: how
many ranges shrank, and by how much). Critical spans are matched by
function and probe address.
  /usr/bin/python3 eval/corpus/range_shrink.py [RESULTS_DIR [BASE_REV]]
(default: eval/corpus/results against HEAD, i.e. before the fresh rows are
committed)."""
import json, glob, os, subprocess, sys, collections
new_dir = sys.argv[1] if len(sys.argv) > 1 else "eval/corpus/results"
base = sys.argv[2] if len(sys.argv) > 2 else "HEAD"
analysis = subprocess.run([os.environ.get("KX", "build/kx"), "version", "--analysis"], capture_output=True, text=True,
                          check=True).stdout.split()[-1]
stats = collections.Counter(); widths = []
neg_old = neg_new = spans_new = 0
for p in sorted(glob.glob(f"{new_dir}/*.json")):
    new = json.load(open(p))
    if new.get("analysis") != analysis: continue
    stats["fresh rows"] += 1
    try:
        old = json.loads(subprocess.run(["git", "show", f"{base}:eval/corpus/results/{os.path.basename(p)}"], capture_output=True, text=True, check=True).stdout)
    except Exception:
        continue
    olds = {(s.get("function"), s.get("probe_address")): s for s in old.get("critical_spans", [])}
    for s in new.get("critical_spans", []):
        if "value_range" not in s: continue
        spans_new += 1
        lo, hi = s["value_range"]
        o = olds.get((s.get("function"), s.get("probe_address")))
        if not o or "value_range" not in o: stats["spans without an old range"] += 1; continue
        olo, ohi = o["value_range"]
        if (olo, ohi) == (0, 0): stats["newly proven (no range before)"] += 1; continue
        neg_old += olo < 0
        neg_new += lo < 0
        stats["compared"] += 1
        if (lo, hi) == (olo, ohi): stats["same"] += 1
        elif lo >= olo and hi <= ohi: stats["shrank"] += 1; widths.append((ohi - olo + 1) / max(hi - lo + 1, 1))
        else: stats["other (moved or widened)"] += 1
    stats["tunable fresh"] += new.get("status") == "tunable"
    stats["non-linear spans (range of T)"] += sum(1 for s in new.get("critical_spans", []) if s.get("tunes_t"))
print(dict(stats))
print(f"spans with a range: {spans_new}; of those compared with an earlier range, accepting negative values: before {neg_old}, now {neg_new}")
if widths:
    widths.sort()
    print(f"shrink factor (old width / new width): median {widths[len(widths)//2]:.3g}, min {widths[0]:.3g}, max {widths[-1]:.3g}")
