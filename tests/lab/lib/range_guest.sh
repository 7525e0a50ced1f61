# Runs inside the lab guest (kx lab run -- bash range_guest.sh KX BUSY_SPEC):
# kx set outside the proven ranges (refused), the kprobes left after it, then
# a value inside (taken, then reset).
set -u
KX=$1 BUSY=$2 R=$KX_RESULTS
source "$(dirname "$0")/../../../scripts/lib/guest_kx.sh"
"$KX" set "$BUSY=4294967296" > "$R/busy.out" 2>&1
echo $? > "$R/busy.rc"
"$KX" set HYSTART_MIN_SAMPLES=0 > "$R/hystart.out" 2>&1
echo $? > "$R/hystart.rc"
grep -v '^$' /sys/kernel/debug/kprobes/list > "$R/kprobes" 2>/dev/null
"$KX" set HYSTART_MIN_SAMPLES=16 > "$R/inside.out" 2>&1
echo $? > "$R/inside.rc"
"$KX" reset "$(tx_id < "$R/inside.out")" >> "$R/inside.out" 2>&1
