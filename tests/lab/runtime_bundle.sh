# Analyse once, apply anywhere (docs/bundle.md): a bundle made here is applied
# in the lab guest with the compilers hidden from PATH and the kernel
# source, scope tables and this checkout unreachable. kx apply tunes
# BLK_MAX_REQUEST_COUNT from a config file (plug flushes under fio: 32 deep,
# 8 after kx apply, 16 once the config says 16 and is applied again, 32
# after kx reset BLK_MAX_REQUEST_COUNT, by name); re-applying the same
# config is a no-op, applying after a reset attaches again, removing the
# file detaches; a bundle with an edited member and a bundle for another
# kernel build are refused with nothing attached. Then a config naming a
# policy compiled here (kx compile) sets the plug depth in the guest (4,
# then 16 once the object is recompiled), a policy stamped for another
# kernel build is refused with nothing attached, and each kprobe's kind
# the dry run predicted is what /sys/kernel/debug/kprobes/list shows.
source "$(dirname "$0")/lib/common.sh"

ROOT=$(cd "$HERE/../.." && pwd)
"$KX" kernel build-module "$ROOT/kmod" >/dev/null  # the x-sie.ko kx bundle packs
"$KX" show BLK_MAX_REQUEST_COUNT >/dev/null 2>&1 || "$KX" build BLK_MAX_REQUEST_COUNT >/dev/null

W=$WORK/deploy
mkdir -p "$W/conf.d" "$W/bin"
"$KX" bundle BLK_MAX_REQUEST_COUNT -o "$W/good.kxb"
printf '# plugging\nBLK_MAX_REQUEST_COUNT = 8\ntransition = per-thread\n' > "$W/conf.d/blk.conf"
cp "$KX" "$W/bin/kx"  # run from outside the build tree

# Policies, compiled on this host only: x_set(4), x_set(16), and x_set(4)
# stamped (consistently) for another kernel build.
"$KX" gen BLK_MAX_REQUEST_COUNT -o "$W/plug.bpf.c" >/dev/null
for v in 4 16; do
  sed "s/x_set(ctx, x_default());/x_set(ctx, x_transition_done() ? $v : x_default());/" "$W/plug.bpf.c" > "$W/p$v.bpf.c"
  grep -q "? $v :" "$W/p$v.bpf.c" || fail "could not edit the kx gen stub"
  "$KX" compile "$W/p$v.bpf.c" -o "$W/p$v.bpf.o"
done
mkdir -p "$W/foreign.d"
llvm-objcopy --dump-section .kernelx.policy="$W/stamp.json" "$W/p4.bpf.o" "$W/unused.o"
sed -i 's/"build_id":"[0-9a-f]*"/"build_id":"0000000000000000000000000000000000000000"/' "$W/stamp.json"
llvm-objcopy --update-section .kernelx.policy="$W/stamp.json" "$W/p4.bpf.o" "$W/foreign.d/plug.bpf.o"
printf 'policy = plug.bpf.o\n' > "$W/foreign.d/plug.conf"
cp "$HERE/lib/blk_depths.sh" "$HERE/lib/bundle_guest.sh" "$W/"

# An edited member under the original manifest; and a consistent bundle
# (sums recomputed) claiming another kernel build.
mkdir "$W/x" && tar -xzf "$W/good.kxb" -C "$W/x"
members="manifest.json reports.json code.json x-sie.ko"
sed -i '0,/"value_range": \[/s//"value_range": [ 1, /' "$W/x/reports.json"
grep -q '"value_range": \[ 1, ' "$W/x/reports.json" || fail "could not edit reports.json"
tar -czf "$W/tampered.kxb" -C "$W/x" $members
python3 - "$W/x" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
other = "00" * 20
reports = json.load(open(f"{d}/reports.json"))
for r in reports:
    r["kernel"]["build_id"] = other
json.dump(reports, open(f"{d}/reports.json", "w"))
m = json.load(open(f"{d}/manifest.json"))
m["kernel"]["build_id"] = other
for e in m["members"]:
    data = open(f"{d}/{e['name']}", "rb").read()
    e["sha256"], e["size"] = hashlib.sha256(data).hexdigest(), len(data)
json.dump(m, open(f"{d}/manifest.json", "w"))
PY
tar -czf "$W/foreign.kxb" -C "$W/x" $members

"$KX" lab run --timeout 800 --results "$WORK/results" -- bash "$W/bundle_guest.sh" "$W" "$ROOT"
R=$WORK/results
rc() { cat "$R/$1.rc"; }
plug_phases before during changed after
cat "$R/apply.out"

[[ ! -s "$R/compilers" ]] || fail "compilers reachable in the guest: $(cat "$R/compilers")"
expect_eq "$(cat "$R/source")" "hidden" "kernel source, scope tables and checkout in the guest"
expect_eq "$(rc tampered)" 1 "kx apply of the edited bundle: $(cat "$R/tampered.out")"
grep -q 'member reports.json does not match its sha256' "$R/tampered.out" || fail "edited bundle: $(cat "$R/tampered.out")"
expect_eq "$(cat "$R/tampered.attached")" 0 "kprobes and x-sie.ko after the edited bundle"
expect_eq "$(rc foreign)" 1 "kx apply of another kernel's bundle: $(cat "$R/foreign.out")"
grep -q "is not the bundle's (0000000000000000000000000000000000000000): refused, nothing attached" "$R/foreign.out" ||
  fail "foreign bundle: $(cat "$R/foreign.out")"
expect_eq "$(cat "$R/foreign.attached")" 0 "kprobes and x-sie.ko after another kernel's bundle"
expect_eq "$(rc dry)" 0 "kx apply --dry-run: $(cat "$R/dry.out")"
grep -q 'nothing attached' "$R/dry.out" || fail "kx apply --dry-run: $(cat "$R/dry.out")"
grep -q 'addresses: the running kernel' "$R/dry.out" || fail "the dry run did not plan at live addresses"
expect_eq "$(cat "$R/dry.attached")" 0 "kprobes and x-sie.ko after kx apply --dry-run"
expect_eq "$(rc apply)" 0 "kx apply: $(cat "$R/apply.out")"
grep -q 'blk.conf: transaction [0-9]*: BLK_MAX_REQUEST_COUNT=8 (transition per-thread)' "$R/apply.out" ||
  fail "kx apply printed no transaction"
expect_eq "$(max_depth before)" 32 "deepest plug flush by default"
expect_eq "$(max_depth during)" 8 "deepest plug flush after kx apply (BLK_MAX_REQUEST_COUNT = 8)"
expect_eq "$(rc reapply)" 0 "kx apply again: $(cat "$R/reapply.out")"
grep -q 'blk.conf: unchanged (transaction' "$R/reapply.out" || fail "re-applying changed something: $(cat "$R/reapply.out")"
expect_eq "$(rc changed)" 0 "kx apply of the changed config: $(cat "$R/changed.out")"
grep -q 'blk.conf: transaction [0-9]* detached' "$R/changed.out" || fail "the old transaction stayed: $(cat "$R/changed.out")"
grep -q 'blk.conf: transaction [0-9]*: BLK_MAX_REQUEST_COUNT=16' "$R/changed.out" || fail "no new transaction: $(cat "$R/changed.out")"
expect_eq "$(max_depth changed)" 16 "deepest plug flush after the config changed to 16"
grep -q '^BLK_MAX_REQUEST_COUNT = 16  (transaction [0-9]*, [a-z]*)' "$R/status.out" ||
  fail "kx status does not list the const by name: $(cat "$R/status.out")"
expect_eq "$(rc reset)" 0 "kx reset BLK_MAX_REQUEST_COUNT: $(cat "$R/reset.out")"
expect_eq "$(max_depth after)" 32 "deepest plug flush after kx reset BLK_MAX_REQUEST_COUNT"
expect_eq "$(rc again)" 0 "kx apply after kx reset: $(cat "$R/again.out")"
grep -q 'blk.conf: transaction [0-9]*: BLK_MAX_REQUEST_COUNT=16' "$R/again.out" || fail "not applied again: $(cat "$R/again.out")"
expect_eq "$(rc removed)" 0 "kx apply without the config file: $(cat "$R/removed.out")"
grep -q 'blk.conf: removed, transaction [0-9]* detached' "$R/removed.out" || fail "removed config: $(cat "$R/removed.out")"
[[ ! -s "$R/kprobes" ]] || fail "kprobes left after the config was removed: $(cat "$R/kprobes")"

plug_phases policy policy_changed
cat "$R/policy.out"
expect_eq "$(rc foreign_policy)" 1 "kx apply of a policy for another kernel: $(cat "$R/foreign_policy.out")"
grep -q 'plug.bpf.o was compiled for kernel build-id 0000000000000000000000000000000000000000' "$R/foreign_policy.out" ||
  fail "foreign policy: $(cat "$R/foreign_policy.out")"
# x-sie.ko stays loaded from the consts' transactions: no kprobe more than before.
expect_eq "$(cat "$R/foreign_policy.attached")" "$(cat "$R/removed.attached")" \
  "kprobes and x-sie.ko after a policy for another kernel"
expect_eq "$(rc policy)" 0 "kx apply of the policy config: $(cat "$R/policy.out")"
grep -q 'plug.conf: transaction [0-9]*: policy plug.bpf.o (BLK_MAX_REQUEST_COUNT) (transition per-thread)' "$R/policy.out" ||
  fail "kx apply printed no policy transaction"
expect_eq "$(max_depth policy)" 4 "deepest plug flush under the applied policy x_set(4)"
expect_eq "$(rc policy_again)" 0 "kx apply of the same policy config: $(cat "$R/policy_again.out")"
grep -q 'plug.conf: unchanged (transaction' "$R/policy_again.out" || fail "re-applying the policy changed something"
expect_eq "$(rc policy_changed)" 0 "kx apply of the recompiled policy: $(cat "$R/policy_changed.out")"
grep -q 'plug.conf: transaction [0-9]* detached' "$R/policy_changed.out" || fail "the old policy stayed"
expect_eq "$(max_depth policy_changed)" 16 "deepest plug flush under the recompiled policy x_set(16)"
expect_eq "$(rc policy_removed)" 0 "kx apply without the policy config: $(cat "$R/policy_removed.out")"
[[ ! -s "$R/kprobes_end" ]] || fail "kprobes left after the policy config was removed: $(cat "$R/kprobes_end")"

# The dry run's predicted kind of every kprobe against what the kernel made.
expect_eq "$(rc policy_dry)" 0 "kx apply --dry-run --json of the policy: $(cat "$R/policy_dry.out")"
python3 "$HERE/lib/probe_kinds.py" "$R/policy_dry.out" "$R/policy.kprobes" > "$R/kinds" ||
  fail "probe kinds: $(cat "$R/kinds")"
cat "$R/kinds"
no_lab_leftovers
echo "PASS runtime_bundle"
