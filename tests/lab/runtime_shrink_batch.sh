# SHRINK_BATCH on a live kernel and the transitions of paper §3.6 with a task
# really inside the safe span: a test shrinker sees do_shrink_slab's batches
# (nr_to_scan) of 128 by default, 64 after kx set, 128 after kx reset; a
# scan sleeping inside the span holds a global switch (stop_machine-seeded
# refcount) until it leaves, while under per-thread transitions other tasks
# switch at once; the switch back on kx reset waits for it the same way.
source "$(dirname "$0")/lib/common.sh"

ROOT=$(cd "$HERE/../.." && pwd)
"$KX" kernel build-module "$ROOT/kmod" >/dev/null
ko=$("$KX" kernel build-module "$HERE/modules/slow_shrinker" -o "$WORK/slow")
"$KX" build --if-stale SHRINK_BATCH >/dev/null

"$KX" lab run --timeout 300 --results "$WORK/results" -- bash "$HERE/lib/shrink_guest.sh" "$KX" "$ko"
R=$WORK/results
cat "$R/global.out"
for f in default global_during global_after reset thread_during thread_reset; do echo "$f: nr_to_scan $(cat "$R/$f")"; done
expect_eq "$(cat "$R/default")" 128 "batch by default"
expect_eq "$(cat "$R/global_during")" 128 "batch while a task inside the span holds the global switch"
expect_eq "$(cat "$R/global_after")" 64 "batch once the global switch completed"
expect_eq "$(cat "$R/reset")" 128 "batch after kx reset"
expect_eq "$(cat "$R/thread_during")" 48 "batch of a task that switched per-thread while the sleeper holds the transaction"
expect_eq "$(cat "$R/thread.reset.rc")" 0 "kx reset while a task is inside: $(cat "$R/thread.reset")"
expect_eq "$(cat "$R/thread_reset")" 128 "batch after the per-thread transaction's reset"
expect_eq "$(cat "$R/per_shrinker")" 32 "batch under the per-shrinker policy: $(cat "$R/per_shrinker.out")"
python3 - "$R/per_shrinker.status" <<'EOF' || fail "per-shrinker policy status"
import json, sys
(tx,) = json.load(open(sys.argv[1]))["transactions"]
(s,) = tx["consts"][0]["spans"]
# Other shrinkers ran the policy too and kept the compiled batch.
assert s["policy_runs"] > s["hits"] > 0 and s["policy_unset"] > 0, s
print(f'per-shrinker: {s["hits"]} scans at 32, {s["policy_unset"]} left at the compiled batch')
EOF
[[ ! -s "$R/kprobes" ]] || fail "kprobes left: $(cat "$R/kprobes")"

python3 - "$R" <<'EOF' || fail "transition states"
import json, sys
R = sys.argv[1]
def tx(name):
    (t,) = json.load(open(f"{R}/{name}"))["transactions"]
    return t["transition"]
d, a = tx("global.during"), tx("global.after")
assert d["mode"] == "global" and d["phase"] == "switching", d
assert d["seeded"] >= 1 and d["inside"] >= 1 and d["monitors"] >= 2, d
assert a["phase"] == "active" and a["inside"] == 0 and a["monitors"] == 0, a
assert a["transition_ns"] > 0.5e9, a  # held by the 8 s sleeper (unheld: tens of ms)
print(f'global: scan of {d["scanned"]} tasks in {d["scan_ns"]/1e6:.2f} ms found {d["seeded"]} inside; '
      f'switched after {a["transition_ns"]/1e6:.0f} ms, {a["entries"]} entries / {a["exits"]} exits seen')
d, a = tx("thread.during"), tx("thread.after")
assert d["mode"] == "per-thread" and d["phase"] == "switching", d
assert a["switched"] >= 1, a  # the batch taken while the sleeper held the transaction
assert a["phase"] == "active" and a["monitors"] == 0, a
print(f'per-thread: {a["switched"]} task(s) switched at the entry while {d["inside"]} held the rest; '
      f'complete after {a["transition_ns"]/1e6:.0f} ms')
EOF
no_lab_leftovers
echo "PASS runtime_shrink_batch"
