# The static path (kmod/x_sie_static.c): kx set of a plain value rewrites
# the immediate of a one-instruction span in place once every task runs it,
# and removes that span's probe; kx reset writes the compiled bytes back
# first. BLK_MAX_REQUEST_COUNT's `mov $0x20,%edx` (ba 20 00 00 00) becomes
# `mov $0x8,%edx` (ba 08 00 00 00) in the live text (/proc/kcore), the plug
# depth is still 8 (the dual span stays on its probes), and a kprobe that
# holds a copy of the instruction keeps the span on its probe, or holds
# the reset back until it is gone.
source "$(dirname "$0")/lib/common.sh"

ROOT=$(cd "$HERE/../.." && pwd)
"$KX" kernel build-module "$ROOT/kmod" >/dev/null
"$KX" build --if-stale BLK_MAX_REQUEST_COUNT >/dev/null

"$KX" lab run --timeout 400 --results "$WORK/results" -- bash "$HERE/lib/static_guest.sh" "$KX"
R=$WORK/results
cat "$R/set.out" "$R/static.state" "$R/dmesg"
expect_eq "$(cat "$R/bytes.before")" ba20000000 "compiled bytes at blk_start_plug_nr_ios+0x1d"
expect_eq "$(cat "$R/bytes.static")" ba08000000 "live bytes with the static path"
grep -q 'blk_start_plug_nr_ios+0x22=static' "$R/static.state" || fail "the mov span is not static: $(cat "$R/static.state")"
grep -q 'blk_add_rq_to_plug+0x36=static' "$R/static.state" && fail "the dual span cannot be static"
grep -q 'blk_start_plug_nr_ios' "$R/kprobes.static" && fail "a probe is left on the static span: $(cat "$R/kprobes.static")"
grep -q 'blk_add_rq_to_plug+0x36' "$R/kprobes.static" || fail "the dual span lost its probe: $(cat "$R/kprobes.static")"
plug_phases static
expect_eq "$(max_depth static)" 8 "deepest plug flush on the static path"

cat "$R/refused.out"
[[ "$(cat "$R/refused.rc")" != 0 ]] || fail "kx reset went ahead with a kprobe on the patched instruction"
grep -q 'runs a copy of the patched instruction: remove it first' "$R/refused.out" || fail "no reason given"
expect_eq "$(grep -c '^kx: error:' "$R/refused.out")" 1 "one error line"
expect_eq "$(cat "$R/reset.rc")" 0 "kx reset once the kprobe is gone: $(cat "$R/reset.out")"
expect_eq "$(cat "$R/bytes.after")" ba20000000 "compiled bytes back after kx reset"

cat "$R/near.state" "$R/probes.state"
grep -q '=static' "$R/near.state" && fail "static with a kprobe on the instruction: $(cat "$R/near.state")"
expect_eq "$(cat "$R/bytes.near")" ba20000000 "bytes untouched with a kprobe on the instruction"
grep -q '=static' "$R/probes.state" && fail "static with --probes-only: $(cat "$R/probes.state")"
[[ ! -s "$R/kprobes" ]] || fail "kprobes left: $(cat "$R/kprobes")"
no_lab_leftovers
echo "PASS runtime_static_path"
