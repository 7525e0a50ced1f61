# kx set changes what the running kernel does, not just where a probe fires:
# BLK_MAX_REQUEST_COUNT bounds how many requests the block layer keeps in a
# plug before it flushes them (block:block_unplug's nr_rq). With null_blk
# behind mq-deadline and fio submitting 128-request batches, flushes are 32
# deep by default, 8 deep after `kx set BLK_MAX_REQUEST_COUNT=8`, and 32
# again after `kx reset` (design.md §3 measured the same by hand).
source "$(dirname "$0")/lib/common.sh"

ROOT=$(cd "$HERE/../.." && pwd)
"$KX" kernel build-module "$ROOT/kmod" >/dev/null  # where kx set finds x-sie.ko
# The const's analysis is in the scope table (kx build on a cached const is
# quick); otherwise kx set would analyse it inside the slow guest.
"$KX" build --if-stale BLK_MAX_REQUEST_COUNT >/dev/null

"$KX" lab run --results "$WORK/results" -- bash "$HERE/lib/blk_plug_guest.sh" "$KX"
R=$WORK/results
cat "$R/set.out"
plug_phases before during after
expect_eq "$(max_depth before)" 32 "deepest plug flush by default"
expect_eq "$(max_depth during)" 8 "deepest plug flush with BLK_MAX_REQUEST_COUNT=8"
expect_eq "$(max_depth after)" 32 "deepest plug flush after kx reset"
grep -q '^transaction [0-9]*: BLK_MAX_REQUEST_COUNT=8$' "$R/set.out" || fail "kx set printed no transaction"
grep -q 'blk_start_plug_nr_ios+0x22' "$R/set.out" || fail "kx set did not list the blk_start_plug_nr_ios span"
grep -q 'blk_add_rq_to_plug+0x36' "$R/set.out" || fail "kx set did not list the blk_add_rq_to_plug span"
grep -q 'detached' "$R/reset.out" || fail "kx reset said nothing"
[[ ! -s "$R/kprobes" ]] || fail "kprobes left after kx reset: $(cat "$R/kprobes")"
# Both spans ran their updates (or went static); every dual-span update found its capture.
python3 - "$R/status.json" <<'EOF' || fail "kx status: $(cat "$R/status.json")"
import json, sys
st = json.load(open(sys.argv[1]))
(tx,) = st["transactions"]
(c,) = tx["consts"]
assert c["name"] == "BLK_MAX_REQUEST_COUNT" and c["value"] == 8, c
spans = {s["label"]: s for s in c["spans"]}
for label, s in spans.items():
    # A static span (its immediate rewritten in place) has no probe left to count hits.
    assert s["hits"] > 0 or s["probe"] == "static", (label, s)
    print(f'{label}: {s["probe"]}, {s["hits"]} hits' + (f', capture {s["capture"]}' if "capture" in s else ""))
dual = spans["blk_add_rq_to_plug+0x36"]
assert dual["skipped"] == 0 and dual["captures"] >= dual["hits"], dual
EOF
no_lab_leftovers
echo "PASS runtime_blk_plug"
