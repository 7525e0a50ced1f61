#!/usr/bin/env bash
# Policy-update time broken down (paper Fig. 17): kx load of an X-tune for
# one safe span (SHRINK_BATCH) and for fifteen (BLK_MAX_REQUEST_COUNT,
# BUSY_POLL_BUDGET, WATCHDOG_INTERVAL, INIT_BW: 2+7+3+3), in the lab guest.
# Steps: compile (clang), verify+load (libbpf: the verifier), plan (scope
# table -> transaction), attach (the module's ioctl: live-byte checks,
# kprobes, monitors, the stop_machine scan), then the kprobe optimizer and
# the transition. TCG inflates absolute times; compare rows within a run.
#   bench/runtime/policy_update.sh [REPS]   (default 3)
source "$(dirname "$0")/../../scripts/lib/lab_job.sh"
REPS=${1:-3}
keep_raw loads policy_update plot
sets=("SHRINK_BATCH" "BLK_MAX_REQUEST_COUNT BUSY_POLL_BUDGET WATCHDOG_INTERVAL INIT_BW")
# shellcheck disable=SC2068  # the sets' consts, one word each
lab_ready ${sets[@]}
"$KX" lab run --timeout 900 --results "$out" -- bash bench/runtime/policy_update_guest.sh "$KX" "$REPS" "${sets[@]}"
python3 - "$out/loads" <<'EOF'
import re, sys, statistics as st
rows, cur, ss = {}, None, 0
for line in open(sys.argv[1]):
    if line.startswith("set"):
        cur = line.split(" ", 1)[1].strip(); rows.setdefault(cur, [])
    elif line.startswith("time:"):
        t = dict((k.strip(), float(v)) for k, v in re.findall(r"([a-z+ ]+?) ([0-9.]+) ms", line))
        t["switch"] = float(re.search(r"switched ([0-9.]+) ms", line).group(1)) if "switched" in line else float("nan")
        m = re.search(r"optimized after ([0-9.]+) ms", line)
        t["optimize"] = float(m.group(1)) if m else float("nan")
        t["ss"] = ss
        rows[cur].append(t)
    elif "safe spans" in line and cur:
        ss = int(re.search(r"(\d+) safe spans", line).group(1))  # the transition line comes first
    elif line.startswith("unload_ms") and rows[cur]:
        rows[cur][-1]["unload"] = float(line.split()[1])
cols = ["compile", "verify+load", "plan", "attach", "kprobes", "monitors", "scan", "switch", "optimize", "unload"]
print("median ms over runs (TCG guest)")
print(f"{'consts':58} {'SS':>3} " + " ".join(f"{c:>11}" for c in cols))
for k, v in rows.items():
    med = {c: st.median([r.get(c, float('nan')) for r in v]) for c in cols}
    ss = v[0].get("ss", 0) if v else 0
    print(f"{k:58} {ss:>3} " + " ".join(f"{med[c]:>11.1f}" for c in cols))
EOF
