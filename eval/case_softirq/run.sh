#!/usr/bin/env bash
# Case study (paper Fig. 11 left): MAX_SOFTIRQ_RESTART, how many rounds
# handle_softirqs runs before deferring to ksoftirqd, tuned live under a
# softirq-heavy network load (iperf3 over veth between namespaces) while
# cyclictest measures an RT thread's wake-up latency. Writes results.tsv and
# max_softirq_restart.png beside this script. TCG guest: compare within a run.
#   eval/case_softirq/run.sh [REPS] [VALUE...]   (default 3; 1 4 10 40)
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
REPS=${1:-3}
shift || true
values=("${@:-1 4 10 40}")
lab_ready MAX_SOFTIRQ_RESTART
# shellcheck disable=SC2068
"$KX" lab run --timeout 2400 --results "$out" -- bash eval/case_softirq/guest.sh "$KX" "$REPS" ${values[@]}
/usr/bin/python3 eval/case_softirq/plot.py "$out/runs" eval/case_softirq  # Debian's python3-matplotlib
