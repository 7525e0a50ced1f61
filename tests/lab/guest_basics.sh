# The guest runs the profile's kernel, sees the host's files at the same
# paths (and kx's own settings), writes results back only through the
# results share, has kprobes enabled and optimizable, and kx returns the
# command's exit status.
source "$(dirname "$0")/lib/common.sh"

release=$("$KX" kernel show | sed -n 's/.*"release": "\(.*\)".*/\1/p')
echo "host-file-content" > "$WORK/input.txt"
profile=$("$KX" kernel show | sed -n 's/.*"profile": "\(.*\)".*/\1/p')
set +e
KX_PROFILE=$profile "$KX" lab run --results "$WORK/results" -- sh -c '
  set -e
  echo "$KX_PROFILE" > "$KX_RESULTS/profile"   # kx settings reach the guest
  [ "$(uname -r)" = "'"$release"'" ] || { echo "wrong kernel $(uname -r)"; exit 10; }
  [ "$(cat '"$WORK"'/input.txt)" = host-file-content ] || exit 11
  echo guest-private > '"$WORK"'/guest-only.txt
  cat /proc/sys/debug/kprobes-optimization > "$KX_RESULTS/optimization"
  cat /sys/kernel/debug/kprobes/enabled > "$KX_RESULTS/enabled"
  cd /sys/kernel/tracing
  echo "p:kx_labtest do_sys_openat2" > kprobe_events
  echo 1 > events/kprobes/kx_labtest/enable
  cat /etc/hostname > /dev/null
  echo 0 > events/kprobes/kx_labtest/enable
  grep -c kx_labtest trace > "$KX_RESULTS/hits" || true
  exit 7'
rc=$?
set -e
expect_eq "$rc" 7 "exit status of the guest command"
expect_eq "$(cat "$WORK/results/profile")" "$profile" "KX_PROFILE inside the guest"
expect_eq "$(cat "$WORK/results/optimization")" 1 "kprobes-optimization"
expect_eq "$(cat "$WORK/results/enabled")" 1 "kprobes enabled"
[[ $(cat "$WORK/results/hits") -ge 1 ]] || fail "the kprobe on do_sys_openat2 never fired"
[[ ! -e "$WORK/guest-only.txt" ]] || fail "a guest write outside the results share reached the host"
no_lab_leftovers
echo "PASS guest_basics"
