# Sourced by the bash scripts that drive kx inside the lab guest (bench/,
# eval/, tests/lab/lib/): $KX is the kx to run.

# tx_id: the transaction id in kx set / kx load output on stdin.
tx_id() { sed -n 's/^transaction \([0-9]*\):.*/\1/p'; }

# span_hits: critical-span hits, dual spans' captures included, over every
# active transaction.
span_hits() {
  "$KX" status --json | python3 -c '
import json, sys
print(sum(s["hits"] + s.get("captures", 0)
          for t in json.load(sys.stdin)["transactions"] for c in t["consts"] for s in c["spans"]))'
}

# with_value CONST VALUE CMD...: runs CMD with CONST set live to VALUE, then
# resets it.
with_value() {
  local c=$1 v=$2 out
  shift 2
  out=$("$KX" set "$c=$v" --settle 5)
  "$@"
  "$KX" reset "$(tx_id <<< "$out")" > /dev/null
}

# tx_transition FIELD...: the first active transaction's transition, one
# line of the FIELDs asked for: phase, switch_ms (load to switch),
# monitor_ms (registering the safe-span monitors), scan_ms (the stop_machine
# scan), wait_ms (the rest: waiting for tasks to leave the spans), updates
# (monitor hits: refcount updates), seeded (tasks the scan found inside).
tx_transition() {
  "$KX" status --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["transactions"][0]["transition"]
ms = lambda ns: ns / 1e6
fields = {
    "phase": t["phase"], "switch_ms": ms(t["transition_ns"]), "monitor_ms": ms(t["monitor_ns"]),
    "scan_ms": ms(t["scan_ns"]), "wait_ms": ms(t["transition_ns"] - t["monitor_ns"] - t["scan_ns"]),
    "updates": t["entries"] + t["exits"], "seeded": t["seeded"],
}
print(*(fields[f] for f in sys.argv[1:]))' "$@"
}
