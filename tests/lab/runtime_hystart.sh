# CUBIC's HyStart thresholds tuned live (the paper's Fig. 12 constants):
# with a 40 ms path and a 20 Mbit/s bottleneck, slow start ends by HyStart
# delay detection by default; with HYSTART_DELAY_MIN = 12 ms and
# HYSTART_DELAY_MAX = 200 ms (one transaction of two consts) it ends no
# earlier; after kx reset, as by default. Observed on the kernel's own
# counters (TcpExtTCPHystartDelayDetect, ...DelayCwnd). The floor cannot go
# above its proven range, which ends below the compiled ceiling (16 ms), so
# the 200 ms that kept delay detection from firing at all is out of reach;
# one run exited a round later (mean cwnd 344 against 176), but slow start
# doubles per round and whether 12 ms falls inside a round's RTT rise
# depends on the path (eval/case_hystart/NOTES.md): only "no earlier" is
# asserted.
source "$(dirname "$0")/lib/common.sh"

ROOT=$(cd "$HERE/../.." && pwd)
"$KX" kernel build-module "$ROOT/kmod" >/dev/null
for c in HYSTART_DELAY_MIN HYSTART_DELAY_MAX; do "$KX" build --if-stale $c >/dev/null; done

"$KX" lab run --timeout 400 --results "$WORK/results" -- bash "$HERE/lib/hystart_guest.sh" "$KX" 4
R=$WORK/results
cat "$R/set.out"
# kx set --dry-run's predicted kind of each kprobe against what the kernel made.
python3 "$HERE/lib/probe_kinds.py" "$R/dry.out" "$R/set.kprobes" > "$R/kinds" || fail "probe kinds: $(cat "$R/kinds")"
cat "$R/kinds"
for p in default tuned reset; do
  read -r n cwnd < "$R/$p"
  echo "$p: $n delay detections over 4 flows$( ((n)) && echo ", mean cwnd at exit $((cwnd / n))")"
done
# The slow-start exit point: the cwnd at which delay detection ends it.
mean() { read -r n cwnd < "$R/$1"; echo $(( n ? cwnd / n : 0 )); }
read -r d _ < "$R/default"; read -r t _ < "$R/tuned"; read -r r _ < "$R/reset"
((d >= 1 && r >= 1)) || fail "HyStart delay detection should end slow start by default and after reset ($d, $r)"
(( t == 0 || 2 * $(mean tuned) >= $(mean default) )) ||
  fail "with a 12 ms floor slow start should end no earlier (cwnd at exit $(mean tuned) vs $(mean default))"
(( 2 * $(mean reset) >= $(mean default) && $(mean reset) <= 2 * $(mean default) )) ||
  fail "after kx reset the exit point should be the default's again ($(mean reset) vs $(mean default))"
python3 - "$R/status.json" <<'EOF' || fail "kx status"
import json, sys
(tx,) = json.load(open(sys.argv[1]))["transactions"]
names = sorted(c["name"] for c in tx["consts"])
assert names == ["HYSTART_DELAY_MAX", "HYSTART_DELAY_MIN"], names
assert all(s["hits"] > 0 or s["probe"] == "static" for c in tx["consts"] for s in c["spans"]), tx
print("spans hit:", {c["name"]: sum(s["hits"] for s in c["spans"]) for c in tx["consts"]})
EOF
read -r n _ < "$R/perflow"
echo "per-flow policy: $n delay detections over 4 flows$( ((n)) && echo ", mean cwnd at exit $(mean perflow)")"
python3 - "$R/perflow.json" <<'EOF' || fail "per-flow policy: $(cat "$R/perflow.out")"
import json, sys
(tx,) = json.load(open(sys.argv[1]))["transactions"]
for c in tx["consts"]:
    for s in c["spans"]:
        # 40 ms flows are long-RTT: the policy always asks for x3 / x8, within the proofs.
        assert s["policy_runs"] > 0 and s["hits"] > 0 and s["policy_rejected"] == 0, (c["name"], s)
EOF
no_lab_leftovers
echo "PASS runtime_hystart"
