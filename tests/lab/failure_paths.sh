# Bad input and time limits: a command missing in the guest, a timeout; each
# leaves no QEMU, virtiofsd or run directory behind.
source "$(dirname "$0")/lib/common.sh"

runs="${KX_HOME:-/var/cache/kernelx}/lab/runs"
count_runs() { if [[ -d $runs ]]; then find "$runs" -mindepth 1 -maxdepth 1 | wc -l; else echo 0; fi; }
before=$(count_runs)
set +e
out=$("$KX" lab run -- kx-no-such-command --flag 2>&1); rc=$?
set -e
expect_eq "$rc" 127 "exit status for a missing command"
grep -q "command not found in the guest: kx-no-such-command" <<<"$out" || fail "no clear message: $out"

start=$(date +%s)
set +e
out=$("$KX" lab run --timeout 4 -- sleep 600 2>&1); rc=$?
set -e
elapsed=$(( $(date +%s) - start ))
expect_eq "$rc" 124 "exit status on timeout"
grep -q "timed out after 4 s" <<<"$out" || fail "no timeout message: $out"
[[ $elapsed -lt 30 ]] || fail "the timeout took ${elapsed}s to stop the guest"
no_lab_leftovers
expect_eq "$(count_runs)" "$before" "run directories left behind"
echo "PASS failure_paths"
