#!/usr/bin/env bash
# Case study (paper Fig. 11 right): NR_MAX_BATCHED_MIGRATION, the most pages
# migrate_pages() hands to one migrate_pages_batch() pass. Debian's 6.1.0-56
# carries the 6.3 batching backport, so the paper's const exists here (the
# issue expected a stand-in). In a guest with two NUMA nodes, numa_hot.c
# touches a hot region from node 0 while another thread keeps migrating it
# between the nodes with move_pages(2); per value: access latency
# percentiles, pages migrated, TLB-shootdown IPIs and the const's hits.
# Writes results.tsv and nr_max_batched_migration.png beside this script.
#   eval/case_numa/run.sh [REPS] [VALUE...]   (default 3; 8 32 128 512 4096)
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
REPS=${1:-3}
shift || true
values=("${@:-8 32 128 512 4096}")
lab_ready NR_MAX_BATCHED_MIGRATION
gcc -O2 -Wall -pthread -o "$out/numa_hot" eval/case_numa/numa_hot.c
# shellcheck disable=SC2068
"$KX" lab run --numa 2 --mem 2G --timeout 1200 --results "$out" -- \
  bash eval/case_numa/guest.sh "$KX" "$out/numa_hot" 16 10 "$REPS" ${values[@]}
/usr/bin/python3 eval/case_numa/plot.py "$out/runs" eval/case_numa  # Debian's python3-matplotlib
