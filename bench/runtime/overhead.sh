#!/usr/bin/env bash
# Per-firing overhead of the indirection (paper Fig. 16 and §4): fio on
# null_blk with BLK_MAX_REQUEST_COUNT=32 (its own default, so the block
# layer behaves the same and only kernelx's cost shows) on optimized probes
# and on int3 probes (kprobe optimization switched off), and on the static
# path (the insertion span rewritten in place), against no kernelx,
# at several submit batch sizes (how many requests share a plug). Prints
# IOPS, slowdown and the cost per probe hit. TCG: compare within the run.
#   bench/runtime/overhead.sh [REPS] [BATCH...]   (default 3; 1 8 128)
#   WORK="0 16 64": per-op work, 0 = 4 KiB reads, N = N KiB writes of fresh
#   random data (fio refill_buffers)
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
REPS=${1:-3}
shift || true
batches=("${@:-1 8 128}")
keep_raw runs overhead plot
lab_ready BLK_MAX_REQUEST_COUNT
# shellcheck disable=SC2068
"$KX" lab run --timeout 1800 --results "$out" -- bash bench/runtime/overhead_guest.sh "$KX" "$REPS" "${WORK:-0}" ${batches[@]}
for mode in static optimized int3; do echo "probes, $mode:"; sort -u "$out/probes.$mode" | sed 's/^/  /'; done
python3 - "$out/runs" <<'EOF'
import sys, statistics as st, collections
v = collections.defaultdict(list)
for line in open(sys.argv[1]):
    mode, batch, iops, hits, work = (line.split() + ["0"])[:5]
    v[(mode, int(batch), int(work))].append((float(iops), int(hits)))
print("median over runs (TCG guest; 3 s of fio each; work: KiB of fresh data written per op, 0 = 4 KiB reads)")
print(f"{'batch':>5} {'work':>5} {'mode':>10} {'IOPS':>9} {'slowdown':>9} {'hits/IO':>8} {'ns/hit':>8}")
for batch, work in sorted({(b, w) for _, b, w in v}):
    base = st.median(i for i, _ in v[("base", batch, work)])
    for mode in ("base", "static", "optimized", "int3"):
        runs = v[(mode, batch, work)]
        iops = st.median(i for i, _ in runs)
        per_io = st.median(h / (i * 3) for i, h in runs) if mode != "base" else 0
        cost = (1 / iops - 1 / base) * 1e9 / per_io if per_io else 0
        print(f"{batch:>5} {work:>5} {mode:>10} {iops:>9.0f} {base / iops:>8.3f}x {per_io:>8.2f} {cost:>8.0f}")
EOF
