# X-tune policies and safe transitions on a live kernel (paper §3.6): an
# eBPF policy picks BLK_MAX_REQUEST_COUNT and the block layer follows it;
# the module refuses values outside the proofs and the verifier refuses bad
# programs, leaving nothing attached; consts switch as one transaction once
# no task is inside their safe spans (stop_machine-seeded refcount); the
# dry run predicted the kind the kernel made of each kprobe.
source "$(dirname "$0")/lib/common.sh"

ROOT=$(cd "$HERE/../.." && pwd)
"$KX" kernel build-module "$ROOT/kmod" >/dev/null
for c in BLK_MAX_REQUEST_COUNT SHRINK_BATCH; do
  "$KX" build --if-stale $c >/dev/null
done

"$KX" lab run --timeout 500 --results "$WORK/results" -- bash "$HERE/lib/policy_guest.sh" "$KX"
R=$WORK/results
rc() { cat "$R/$1.rc"; }
plug_phases before policy after_policy rejected pair
cat "$R/load.out"

expect_eq "$(rc gen)" 0 "kx gen: $(cat "$R/gen.out")"
grep -q 'X_TUNE("BLK_MAX_REQUEST_COUNT")' "$R/plug.bpf.c" || fail "kx gen wrote no X_TUNE"
expect_eq "$(rc load)" 0 "kx load: $(cat "$R/load.out")"
expect_eq "$(max_depth before)" 32 "deepest flush by default"
expect_eq "$(max_depth policy)" 4 "deepest flush under the policy x_set(ctx, 4)"
expect_eq "$(rc unload)" 0 "kx unload under load: $(cat "$R/unload.out")"
expect_eq "$(max_depth after_policy)" 32 "deepest flush after kx unload"

expect_eq "$(rc load_huge)" 0 "kx load of the 2^40 policy: $(cat "$R/load_huge.out")"
expect_eq "$(max_depth rejected)" 32 "deepest flush when the policy asks for 2^40 (refused)"
expect_eq "$(rc unload_huge)" 0 "kx unload of the 2^40 policy"

[[ $(rc load_bad) != 0 ]] || fail "a policy the verifier rejects was loaded"
grep -q "the kernel refused the policy" "$R/load_bad.out" || fail "no verifier message: $(cat "$R/load_bad.out")"
grep -qi "invalid mem access\|R[0-9] invalid\|permission denied" "$R/load_bad.out" ||
  fail "the verifier's reason is not shown: $(cat "$R/load_bad.out")"
[[ ! -s "$R/bad.kprobes" ]] || fail "kprobes left after the refused load: $(cat "$R/bad.kprobes")"

expect_eq "$(rc pair)" 0 "kx set of two consts: $(cat "$R/pair.out")"
expect_eq "$(max_depth pair)" 16 "deepest flush with BLK_MAX_REQUEST_COUNT=16 beside SHRINK_BATCH=64"
expect_eq "$(rc pair_reset)" 0 "kx reset of the pair"
# kx set --dry-run's predicted kind of each kprobe against what the kernel made.
expect_eq "$(rc pair_dry)" 0 "kx set --dry-run --json of the pair: $(cat "$R/pair_dry.out")"
python3 "$HERE/lib/probe_kinds.py" "$R/pair_dry.out" "$R/pair.kprobes" > "$R/kinds" || fail "probe kinds: $(cat "$R/kinds")"
cat "$R/kinds"
[[ ! -s "$R/final.kprobes" ]] || fail "kprobes left at the end: $(cat "$R/final.kprobes")"

python3 - "$R" <<'EOF' || fail "kx status"
import json, sys
R = sys.argv[1]
def one_tx(name):
    st = json.load(open(f"{R}/{name}.status"))
    (tx,) = st["transactions"]
    return tx
# Per-thread transition under the policy: complete, seeded by one scan,
# monitors removed once done; the policy ran at every span.
tx = one_tx("policy")
t = tx["transition"]
assert t["mode"] == "per-thread" and t["phase"] == "active", t
assert t["scanned"] > 20 and t["transition_ns"] > 0 and t["monitors"] == 0, t
(c,) = tx["consts"]
for s in c["spans"]:
    assert s["policy_runs"] > 0 and s["policy_rejected"] == 0, s
print(f'policy: per-thread transition in {t["transition_ns"]/1e6:.2f} ms, scan of {t["scanned"]} tasks '
      f'in {t["scan_ns"]/1e6:.2f} ms, {t["seeded"]} inside, {t["switched"]} per-thread switches')
# Values outside the proofs are refused at every run.
(c,) = one_tx("rejected")["consts"]
assert all(s["policy_rejected"] > 0 and s["hits"] == 0 for s in c["spans"]), c
# The verifier's refusal left no transaction.
assert json.load(open(f"{R}/bad.status"))["transactions"] == [], "transaction after a refused load"
# Two consts, one global transaction.
tx = one_tx("pair")
t = tx["transition"]
assert t["mode"] == "global" and t["phase"] == "active" and t["safe_spans"] >= 3, t
assert sorted(c["name"] for c in tx["consts"]) == ["BLK_MAX_REQUEST_COUNT", "SHRINK_BATCH"], tx
print(f'pair: global transition in {t["transition_ns"]/1e6:.2f} ms over {t["safe_spans"]} safe spans')
EOF
no_lab_leftovers
echo "PASS runtime_policy"
