# A kernel WARN during the run fails `kx lab run` and prints the trace, even
# though the command itself succeeded; an oops ends the run at once (the
# guest panics and QEMU exits) instead of at --timeout.
source "$(dirname "$0")/lib/common.sh"

ko=$("$KX" kernel build-module "$HERE/modules/warn" -o "$WORK/warn")
set +e
out=$("$KX" lab run -- insmod "$ko" 2>&1)
rc=$?
set -e
echo "$out"
[[ $rc -ne 0 ]] || fail "kx lab run succeeded although the guest kernel warned"
grep -q "guest kernel WARNING" <<<"$out" || fail "no WARNING report"
grep -q "kx_warn_init" <<<"$out" || fail "the trace does not show the warning's origin"
grep -q "kx: error: the guest kernel reported WARNING" <<<"$out" || fail "no one-line error"

oops=$("$KX" kernel build-module "$HERE/modules/oops" -o "$WORK/oops")
set +e
start=$SECONDS
out=$("$KX" lab run --timeout 300 -- sh -c "insmod $oops; sleep 600" 2>&1)
rc=$?
took=$((SECONDS - start))
set -e
echo "$out"
[[ $rc -ne 0 ]] || fail "kx lab run succeeded although the guest kernel oopsed"
grep -q "guest kernel Oops" <<<"$out" || grep -q "guest kernel BUG" <<<"$out" || fail "no Oops/BUG report"
grep -q "kx_oops_init" <<<"$out" || fail "the trace does not show the oops' origin"
((took < 120)) || fail "the run took ${took} s: it waited instead of ending at the oops"
echo "the oopsed guest ended the run after ${took} s (timeout 300 s)"
no_lab_leftovers
echo "PASS kernel_fault"
