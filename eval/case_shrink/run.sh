#!/usr/bin/env bash
# Case study (paper Fig. 11 middle): SHRINK_BATCH, how many objects a
# shrinker scans per call, under the paper's workload (sequential writes
# into a large anonymous mapping with periodic overwrites, in a memory
# cgroup smaller than the mapping). The paper tunes the zswap shrinker; this
# kernel has none (zswap is off in Debian's cloud kernel, and its shrinker
# arrived in 6.8), so the guest swaps to zram and the sweep shows what
# SHRINK_BATCH does to this workload here. Writes results.tsv and
# shrink_batch.png beside this script; NOTES.md reads them.
#   eval/case_shrink/run.sh [REPS] [VALUE...]   (default 3; 8 24 64 128 512)
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
REPS=${1:-3}
shift || true
values=("${@:-8 24 64 128 512}")
lab_ready SHRINK_BATCH
gcc -O2 -Wall -o "$out/reuse" eval/case_shrink/reuse.c
# shellcheck disable=SC2068
"$KX" lab run --mem 2G --timeout 2400 --results "$out" -- \
  bash eval/case_shrink/guest.sh "$KX" "$out/reuse" 256 128M 2 "$REPS" ${values[@]}
/usr/bin/python3 eval/case_shrink/plot.py "$out/runs" eval/case_shrink  # Debian's python3-matplotlib
