# A span that reads memory, tuned live (issue 14): BLK_PLUG_FLUSH_SIZE
# (128 KiB) flushes a plug once its last request holds that many bytes; the
# compare reads the request's length from memory, and the update reads it
# again at the probe. With fio's 128 KiB requests on null_blk every plug
# flush is 1 request deep by default; with the threshold at twice that, the
# plug fills up to BLK_MAX_REQUEST_COUNT (32); after `kx reset`, 1 again.
# --probes-only: the point is the update that reads memory, not the static
# path, which would rewrite the compare's immediate instead.
source "$(dirname "$0")/lib/common.sh"

ROOT=$(cd "$HERE/../.." && pwd)
"$KX" kernel build-module "$ROOT/kmod" >/dev/null  # where kx set finds x-sie.ko
"$KX" build --if-stale block/blk.h:263:0 >/dev/null  # (128 * 1024): the 128
# Twice the compiled value, in the const's own unit (the spec's literal).
value=$("$KX" show BLK_PLUG_FLUSH_SIZE --json | python3 -c 'import json, sys; print(2 * json.load(sys.stdin)["value"])')

# 128 KiB requests; max_sectors=1024 (512 KiB) keeps each one request (the
# default splits at 255 sectors). A plug flushes before it takes a request
# once the last one holds BLK_PLUG_FLUSH_SIZE bytes or more
# (blk_add_rq_to_plug: cmpl $0x1ffff,0x2c(%r12), a span that reads the
# request's length).
"$KX" lab run --results "$WORK/results" -- \
  bash "$HERE/lib/blk_plug_guest.sh" "$KX" "BLK_PLUG_FLUSH_SIZE=$value --probes-only" 128k max_sectors=1024
R=$WORK/results
cat "$R/set.out"
plug_phases before during after
expect_eq "$(max_depth before)" 1 "deepest plug flush of 128 KiB requests by default"
expect_eq "$(max_depth during)" 32 "deepest plug flush with BLK_PLUG_FLUSH_SIZE at 256 KiB"
expect_eq "$(max_depth after)" 1 "deepest plug flush after kx reset"
grep -q "^transaction [0-9]*: BLK_PLUG_FLUSH_SIZE=$value\$" "$R/set.out" || fail "kx set printed no transaction"
grep -q 'detached' "$R/reset.out" || fail "kx reset said nothing"
[[ ! -s "$R/kprobes" ]] || fail "kprobes left after kx reset: $(cat "$R/kprobes")"
# The update ran, and no read of the request faulted.
python3 - "$R/status.json" <<'PY' || fail "kx status: $(cat "$R/status.json")"
import json, sys
st = json.load(open(sys.argv[1]))
(tx,) = st["transactions"]
(c,) = tx["consts"]
assert c["name"] == "BLK_PLUG_FLUSH_SIZE", c
for s in c["spans"]:
    assert s["hits"] > 0 and s["faults"] == 0, s
    print(f'{s["label"]}: {s["hits"]} hits, {s["faults"]} faults')
PY
no_lab_leftovers
echo "PASS runtime_blk_plug_size"
