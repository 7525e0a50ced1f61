# x-sie.ko refuses what it cannot apply safely, and a refusal leaves nothing
# behind (no kprobe registered, no transaction, the module removable):
#  - a report of another analysis version (user space, before loading);
#  - a report analysed for another kernel build (user space, before loading);
#  - a probe site whose live bytes differ from the debug vmlinux: the entry
#    of blk_start_plug_nr_ios, whose `call __fentry__` ftrace turned into a
#    NOP at boot, in a transaction whose other spans are fine;
#  - a site where a kprobe is already present (int3 in the live bytes);
#  - a span the kernel refuses to probe (a kprobe-blacklisted function) after
#    the transaction's other probes were registered: all are unregistered;
#  - a const already in an active transaction; rmmod while one is active.
source "$(dirname "$0")/lib/common.sh"

ROOT=$(cd "$HERE/../.." && pwd)
"$KX" kernel build-module "$ROOT/kmod" >/dev/null
"$KX" build --if-stale BLK_MAX_REQUEST_COUNT >/dev/null
"$KX" show BLK_MAX_REQUEST_COUNT --json > "$WORK/blk.json"
vmlinux=$("$KX" kernel show | python3 -c 'import json, sys; print(json.load(sys.stdin)["debug_vmlinux"])')
syms=$(nm "$vmlinux")
sym() { awk -v s="$1" '$3 == s && !done {print $1; done = 1}' <<<"$syms"; }
entry=$(sym blk_start_plug_nr_ios)
int3_handler=$(sym kprobe_int3_handler)
[[ -n $entry && -n $int3_handler ]] || fail "symbols not found in $vmlinux"
# The shipped bytes at the entry are a call to __fentry__ (the kernel NOPs it).
[[ $(objdump -d --start-address=0x$entry --stop-address=$((0x$entry + 5)) "$vmlinux") == *'call'*'__fentry__'* ]] ||
  fail "blk_start_plug_nr_ios does not start with call __fentry__"
# A plain instruction inside kprobe_int3_handler (NOKPROBE_SYMBOL): its first push.
code=$(objdump -d --start-address=0x$int3_handler --stop-address=$((0x$int3_handler + 64)) "$vmlinux")
blacklisted=$(awk '$0 ~ /\tpush / && !done {sub(":", "", $1); print $1; done = 1}' <<<"$code")
[[ -n $blacklisted ]] || fail "no push in kprobe_int3_handler"

# Reports crafted from the real one: another build-id; an extra const whose
# span sits at a rewritten site; one whose span sits in a blacklisted function.
python3 - "$WORK" "$entry" "$blacklisted" <<'EOF'
import copy, json, sys
work, entry, blacklisted = sys.argv[1], sys.argv[2], sys.argv[3]
blk = json.load(open(f"{work}/blk.json"))
wrong = copy.deepcopy(blk)
wrong["kernel"]["build_id"] = "0" * 40
json.dump(wrong, open(f"{work}/wrong_build.json", "w"))
stale = copy.deepcopy(blk)
stale["analysis"] = "0.1+000000000000"
json.dump(stale, open(f"{work}/stale.json", "w"))
def variant(name, function, address):
    r = copy.deepcopy(blk)
    r["id"], r["spec"] = name, name
    span = next(s for s in r["critical_spans"] if s["kind"] == "insertion")
    span.update(function=function, address="0x" + address, probe_address="0x" + address)
    r["critical_spans"] = [span]
    return r
json.dump([variant("KX_TEST_REWRITTEN", "blk_start_plug_nr_ios", entry),
           variant("KX_TEST_BLACKLISTED", "kprobe_int3_handler", blacklisted)], open(f"{work}/crafted.json", "w"))
EOF

cat > "$WORK/guest.sh" <<'EOF'
set -u
KX=$1 W=$2 R=$KX_RESULTS T=/sys/kernel/tracing
probes() { cat /sys/kernel/debug/kprobes/list | wc -l; }
addr() { grep " $1\$" /proc/kallsyms | cut -d' ' -f1 | head -1; }
step() {  # name, command...: output, exit status, kprobes left, module loaded, transactions
  local name=$1; shift
  "$@" > "$R/$name.out" 2>&1
  echo $? > "$R/$name.rc"
  probes > "$R/$name.kprobes"
  if [ -e /sys/module/x_sie ]; then echo yes; else echo no; fi > "$R/$name.module"
  "$KX" status --json > "$R/$name.status"
}
step stale "$KX" set --report "$W/stale.json" BLK_MAX_REQUEST_COUNT=8
step wrong_build "$KX" set --report "$W/wrong_build.json" BLK_MAX_REQUEST_COUNT=8
step rewritten "$KX" set --report "$W/crafted.json" BLK_MAX_REQUEST_COUNT=8 KX_TEST_REWRITTEN=8
addr blk_start_plug_nr_ios > "$R/entry_runtime"
step blacklisted "$KX" set --report "$W/crafted.json" BLK_MAX_REQUEST_COUNT=8 KX_TEST_BLACKLISTED=8
addr kprobe_int3_handler > "$R/int3_handler_runtime"
# A kprobe of someone else at the dual span's update site (it stays int3:
# `cmp` before `jae` is not optimizable).
echo 'p:kxtest blk_add_rq_to_plug+0x36' >> $T/kprobe_events && echo 1 > $T/events/kprobes/kxtest/enable
step occupied "$KX" set BLK_MAX_REQUEST_COUNT=8
addr blk_add_rq_to_plug > "$R/plug_runtime"
echo 0 > $T/events/kprobes/kxtest/enable && echo '-:kxtest' >> $T/kprobe_events
step first "$KX" set BLK_MAX_REQUEST_COUNT=8
step again "$KX" set BLK_MAX_REQUEST_COUNT=16
step rmmod_busy rmmod x_sie
id=$(sed -n 's/^transaction \([0-9]*\):.*/\1/p' "$R/first.out")
step reset "$KX" reset "$id"
step rmmod rmmod x_sie
EOF
"$KX" lab run --results "$WORK/results" -- sh "$WORK/guest.sh" "$KX" "$WORK"
R=$WORK/results
show() { echo "--- $1 (exit $(cat "$R/$1.rc"), $(cat "$R/$1.kprobes") kprobes, module loaded: $(cat "$R/$1.module"))"; cat "$R/$1.out"; }
transactions() { python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["transactions"]))' "$R/$1.status"; }
refused() {  # name, expected message, kprobes left
  show "$1"
  [[ $(cat "$R/$1.rc") != 0 ]] || fail "$1: accepted"
  grep -qF -- "$2" "$R/$1.out" || fail "$1: the error does not say '$2'"
  expect_eq "$(cat "$R/$1.kprobes")" "$3" "$1: kprobes registered afterwards"
  expect_eq "$(transactions "$1")" 0 "$1: active transactions afterwards"
}
hex() { printf '0x%x' "0x$1"; }

refused stale "BLK_MAX_REQUEST_COUNT was analysed by kx 0.1+000000000000, not this kx" 0
expect_eq "$(cat "$R/stale.module")" no "module loaded for a stale report"
refused wrong_build "was analysed for kernel build-id 0000000000000000000000000000000000000000" 0
expect_eq "$(cat "$R/wrong_build.module")" no "module loaded for a refused report"
refused rewritten "live bytes at $(hex "$(cat "$R/entry_runtime")") (probe blk_start_plug_nr_ios+0x0) are 0f1f440000, expected e8" 0
int3_off=$(printf '0x%x' $((0x$blacklisted - 0x$int3_handler)))
refused blacklisted "registering the kprobe at $(hex "$(printf '%x' $((0x$(cat "$R/int3_handler_runtime") + int3_off)))") (kprobe_int3_handler+$int3_off) failed: -22" 0
refused occupied "live bytes at $(hex "$(printf '%x' $((0x$(cat "$R/plug_runtime") + 0x36)))") (probe blk_add_rq_to_plug+0x36) are cc" 1
grep -qF "int3, a kprobe or breakpoint is already there" "$R/occupied.out" || fail "occupied: no hint"

show first
expect_eq "$(cat "$R/first.rc")" 0 "a valid kx set"
expect_eq "$(cat "$R/first.kprobes")" 3 "kprobes of BLK_MAX_REQUEST_COUNT (two updates, one capture)"
show again
[[ $(cat "$R/again.rc") != 0 ]] || fail "a const in two active transactions"
grep -q "BLK_MAX_REQUEST_COUNT is already in active transaction [0-9]" "$R/again.out" || fail "again: no reason"
expect_eq "$(transactions again)" 1 "transactions after the refused second set"
show rmmod_busy
[[ $(cat "$R/rmmod_busy.rc") != 0 ]] || fail "rmmod succeeded while a transaction was active"
expect_eq "$(cat "$R/rmmod_busy.module")" yes "module after a refused rmmod"
show reset
expect_eq "$(cat "$R/reset.rc")" 0 "kx reset"
expect_eq "$(cat "$R/reset.kprobes")" 0 "kprobes after kx reset"
show rmmod
expect_eq "$(cat "$R/rmmod.rc")" 0 "rmmod after kx reset"
expect_eq "$(cat "$R/rmmod.module")" no "module after rmmod"
no_lab_leftovers
echo "PASS runtime_safety"
