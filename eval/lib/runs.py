"""The runs of a case study: one line per run, whitespace-separated numbers,
the const's value first. Every run goes to a TSV; the figures use the
median of each column per value (TCG noise needs several rounds)."""
import collections
import statistics


def number(x):
    return str(int(x)) if x.is_integer() else f"{x:g}"


def medians(runs_path, cols, tsv_path):
    by_value = collections.defaultdict(list)
    for line in open(runs_path):
        if line.strip():
            r = dict(zip(cols, map(float, line.split())))
            by_value[r[cols[0]]].append(r)
    with open(tsv_path, "w") as f:
        f.write("\t".join(cols) + "\n")
        for v in sorted(by_value):
            for r in by_value[v]:
                f.write("\t".join(number(r[c]) for c in cols) + "\n")
    print(f"median of {min(len(r) for r in by_value.values())}+ runs per value")
    return [{c: statistics.median(r[c] for r in by_value[v]) for c in cols} for v in sorted(by_value)]
