# A kernel WARN during the run fails `kx lab run` and prints the trace, even
# though the command itself succeeded.
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
no_lab_leftovers
echo "PASS kernel_fault"
