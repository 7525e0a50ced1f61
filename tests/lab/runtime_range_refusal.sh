# A value outside the range a const's updates are proven for is refused by
# kx set in one line naming the const, the value and the range, before any
# probe exists (synth/value_range.h): topo_sd_busy_factor
# (kernel/sched/topology.c:1567, one immediate with imbalance_pct) at 2^32,
# which would rewrite imbalance_pct; HYSTART_MIN_SAMPLES at 0, where jbe
# would test x <= 255 for the source's x < 0. A value inside is taken.
source "$(dirname "$0")/lib/common.sh"

ROOT=$(cd "$HERE/../.." && pwd)
"$KX" kernel build-module "$ROOT/kmod" >/dev/null
BUSY=kernel/sched/topology.c:1567:0
for c in "$BUSY" HYSTART_MIN_SAMPLES; do "$KX" build --if-stale "$c" >/dev/null; done

"$KX" lab run --timeout 200 --results "$WORK/results" -- bash "$HERE/lib/range_guest.sh" "$KX" "$BUSY"
R=$WORK/results
for c in busy hystart; do
  cat "$R/$c.out"
  [[ "$(cat "$R/$c.rc")" != 0 ]] || fail "$c: kx set outside the proven range succeeded"
  expect_eq "$(grep -c '^kx: error:' "$R/$c.out")" 1 "$c: one error line"
done
grep -Eq '^kx: error: topology_1567_0 = 4294967296 is outside \[[0-9]+, [0-9]+\]' "$R/busy.out" ||
  fail "the refusal should name the const, the value and the range: $(cat "$R/busy.out")"
grep -Eq '^kx: error: HYSTART_MIN_SAMPLES = 0 is outside \[[1-9][0-9]*, [0-9]+\]' "$R/hystart.out" ||
  fail "the refusal should name the const, the value and the range: $(cat "$R/hystart.out")"
[[ ! -s "$R/kprobes" ]] || fail "probes attached by a refused kx set: $(cat "$R/kprobes")"
expect_eq "$(cat "$R/inside.rc")" 0 "kx set HYSTART_MIN_SAMPLES=16, inside the range: $(cat "$R/inside.out")"
no_lab_leftovers
echo "PASS runtime_range_refusal"
