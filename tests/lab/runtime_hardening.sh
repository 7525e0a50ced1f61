# x-sie.ko stays safe against what a user or a hostile caller can hand it
# (issue 12), in one guest boot:
#  - dead tasks (unreaped zombies, thread-group leaders that exited) on the
#    task list while transactions switch, global and per-thread: their stacks
#    are freed and must not be unwound;
#  - X-tune policies calling the kprobe context helpers (attach cookie,
#    function IP) run cleanly; programs a kprobe attachment would not accept
#    (kprobe.multi, sleepable, override_return, another program type, a slot
#    map of the wrong kind, an fd that is no BPF object) are refused;
#  - a failure injected at every fallible step of a load is refused cleanly;
#    one injected into a switch back (its monitors, or the static path's
#    probe) leaves the transaction active, and a retry switches back safely;
#  - random and mutated requests (kernel data, MMIO, module and init
#    addresses among them) are refused or run, never crash;
#  - without CAP_SYS_MODULE the device refuses; under lockdown no new
#    transaction loads, while an active one still unloads;
#  - afterwards no kprobe is left and the module is removable.
# Any WARN/BUG/oops fails the lab run itself.
source "$(dirname "$0")/lib/common.sh"

ROOT=$(cd "$HERE/../.." && pwd)
TORTURE=$(dirname "$KX")/tests/kx_xsie_torture
[[ -x $TORTURE ]] || fail "$TORTURE not built"
"$KX" kernel build-module "$ROOT/kmod" >/dev/null
"$KX" build --if-stale SHRINK_BATCH >/dev/null
"$KX" show SHRINK_BATCH --json > "$WORK/shrink.json"
"$KX" build --if-stale BLK_MAX_REQUEST_COUNT >/dev/null
"$KX" show BLK_MAX_REQUEST_COUNT --json > "$WORK/blk.json"
vmlinux=$("$KX" kernel show | python3 -c 'import json, sys; print(json.load(sys.stdin)["debug_vmlinux"])')
gcc -O2 -pthread -o "$WORK/dead_tasks" "$HERE/tools/dead_tasks.c"
"$KX" gen SHRINK_BATCH -o "$WORK/stub.bpf.c" >/dev/null
grep -q 'x_set(ctx, x_default());' "$WORK/stub.bpf.c" || fail "the stub has no x_set(ctx, x_default()) to edit"
sed 's/x_set(ctx, x_default());/if (bpf_get_attach_cookie(ctx) == 12345) x_set(ctx, 64);/' \
  "$WORK/stub.bpf.c" > "$WORK/cookie.bpf.c"
sed 's/x_set(ctx, x_default());/x_set(ctx, bpf_get_func_ip(ctx) ? 64 : 32);/' "$WORK/stub.bpf.c" > "$WORK/func_ip.bpf.c"

cat > "$WORK/guest.sh" <<'EOF'
set -u
KX=$1 W=$2 TORTURE=$3 VMLINUX=$4 R=$KX_RESULTS
source "$5/scripts/lib/guest_kx.sh"
step() {  # name, command...: its output and exit status
  local name=$1
  shift
  "$@" > "$R/$name.out" 2>&1
  echo $? > "$R/$name.rc"
}
drop() { echo 2 > /proc/sys/vm/drop_caches; }
torture() { "$TORTURE" "$1" --vmlinux "$VMLINUX" --report "$W/shrink.json" "${@:2}"; }

# Dead tasks on the task list while transactions switch both ways.
"$W/dead_tasks" 8 4 > "$R/dead.out" &
while ! grep -q ready "$R/dead.out"; do sleep 0.1; done
grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l > "$R/zombies"
: > "$R/cycles"
for i in 1 2 3; do
  for mode in global per-thread; do
    out=$("$KX" set SHRINK_BATCH=64 --transition "$mode" --settle 0 2>&1) || { echo "set: $out" >> "$R/cycles"; continue; }
    drop
    "$KX" reset "$(tx_id <<< "$out")" > /dev/null 2>&1 && echo "$mode ok" >> "$R/cycles" || echo "$mode reset failed" >> "$R/cycles"
  done
done

# X-tunes calling the kprobe context helpers.
for p in cookie func_ip; do
  step "${p}_load" "$KX" load "$W/$p.bpf.c"
  drop
  "$KX" status --json > "$R/$p.status"
  step "${p}_unload" "$KX" unload "$W/$p.bpf.c"
done

torture hostile --trigger "echo 2 > /proc/sys/vm/drop_caches" > "$R/hostile.out" 2>&1
torture faults > "$R/faults.out" 2>&1
torture fuzz --iterations 300 --seed 12 --hold "$W/blk.json" > "$R/fuzz.out" 2>&1

step nocap setpriv --bounding-set=-sys_module "$KX" status

# Lockdown cannot be lifted: last. An active transaction still unloads.
"$KX" set SHRINK_BATCH=64 > "$R/before_lockdown.out" 2>&1
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
echo integrity > /sys/kernel/security/lockdown
step locked_set "$KX" set SHRINK_BATCH=32
step locked_reset "$KX" reset "$(tx_id < "$R/before_lockdown.out")"

kill %1
cat /sys/kernel/debug/kprobes/list > "$R/kprobes"
cat /sys/module/x_sie/refcnt > "$R/refcnt"
step rmmod rmmod x_sie
EOF
"$KX" lab run --timeout 580 --results "$WORK/results" -- \
  bash "$WORK/guest.sh" "$KX" "$WORK" "$TORTURE" "$vmlinux" "$ROOT"
R=$WORK/results
show() { echo "--- $1 (exit $(cat "$R/$1.rc"))"; cat "$R/$1.out"; }
line() { grep "^$1: " "$R/$2.out" || fail "$2: no line for $1"; }

echo "--- dead tasks: $(cat "$R/zombies") in state Z; cycles:"
cat "$R/cycles"
(($(cat "$R/zombies") >= 12)) || fail "expected at least 12 dead tasks (8 zombies, 4 exited leaders)"
expect_eq "$(grep -c ' ok$' "$R/cycles")" 6 "set/reset cycles with dead tasks present"

for p in cookie func_ip; do
  show "${p}_load"
  expect_eq "$(cat "$R/${p}_load.rc")" 0 "$p: kx load"
  runs=$(python3 -c 'import json, sys; print(sum(t["policy_runs"] for t in json.load(open(sys.argv[1]))["transactions"]))' \
    "$R/$p.status")
  ((runs > 0)) || fail "$p: the policy never ran"
  expect_eq "$(cat "$R/${p}_unload.rc")" 0 "$p: kx unload"
done

echo "--- hostile"
cat "$R/hostile.out"
line kprobe_multi hostile | grep -q "refused by x-sie.ko.*not kprobe.multi" || fail "kprobe.multi fd accepted"
line socket_filter hostile | grep -q "refused by x-sie.ko.*is not a kprobe BPF program" || fail "socket filter accepted"
line not_bpf hostile | grep -q "refused by x-sie.ko.*is not a kprobe BPF program" || fail "a non-BPF fd accepted"
line hash_slot hostile | grep -q "refused by x-sie.ko.*per-CPU array" || fail "a hash map slot accepted"
for c in sleepable override_return; do
  line $c hostile | grep -q "refused by" || fail "$c: neither the kernel nor x-sie.ko refused it"
done
for c in attach_cookie func_ip; do
  line $c hostile | grep -Eq "loaded as transaction [0-9]+, ran [1-9][0-9]* times .*unloaded: ok" ||
    fail "$c: did not run cleanly"
done

echo "--- faults"
cat "$R/faults.out"
(($(grep -c '^load, step [0-9]* fails: refused' "$R/faults.out") >= 5)) || fail "fewer than 5 injected load failures refused"
if grep '^load, step' "$R/faults.out" | grep -v 'refused' | grep -v 'unloaded: ok'; then
  fail "a load that survived an injected failure did not unload"
fi
grep -q '^unload, monitor registration fails: refused (registering the safe-span .* monitor at 0x[0-9a-f]* failed: -12), transaction active$' \
  "$R/faults.out" || fail "a failed switch back did not leave the transaction active"
grep -q '^unload retried: ok$' "$R/faults.out" || fail "the retried switch back failed"
grep -q '^unload, static restore fails: refused (.*re-registering its update probe before restoring its immediate failed: -12), transaction active$' \
  "$R/faults.out" || fail "a failed static restore did not leave the transaction active"
grep -q '^static unload retried: ok$' "$R/faults.out" || fail "the retried static switch back failed"

echo "--- fuzz"
cat "$R/fuzz.out"
grep -q '^fuzz: 300 requests' "$R/fuzz.out" || fail "the fuzzer did not finish"
grep -q 'random ioctl succeeded' "$R/fuzz.out" && fail "a random ioctl number was accepted"
grep -q '^fuzz outcome: status Bad address' "$R/fuzz.out" || fail "no status met a bad buffer"

show nocap
[[ $(cat "$R/nocap.rc") != 0 ]] || fail "kx status worked without CAP_SYS_MODULE"
grep -q "Operation not permitted" "$R/nocap.out" || fail "nocap: no EPERM"
show locked_set
[[ $(cat "$R/locked_set.rc") != 0 ]] || fail "a transaction loaded under lockdown"
grep -q "locked down" "$R/locked_set.out" || fail "locked_set: no lockdown reason"
show locked_reset
expect_eq "$(cat "$R/locked_reset.rc")" 0 "unloading under lockdown"

expect_eq "$(wc -l < "$R/kprobes")" 0 "kprobes left"
expect_eq "$(cat "$R/refcnt")" 0 "x_sie module references left"
expect_eq "$(cat "$R/rmmod.rc")" 0 "rmmod x_sie"
no_lab_leftovers
echo "PASS runtime_hardening"
