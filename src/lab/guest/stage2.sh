#!/bin/sh
# kernelx lab, stage 2: PID 1 inside the host's root (overlaid). Mounts what
# kernel tooling expects, runs the command as root with output on ttyS1 (the
# host streams it), reports its exit status on the kernel log and powers off.
run="$1"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb KX_LAB=1

mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev/shm 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ip link set lo up 2>/dev/null
hostname kx-lab

. "$run/command.sh"   # sets KX_RESULTS, KX_CWD and the positional parameters
if [ -n "$KX_RESULTS" ]; then
  mkdir -p "$KX_RESULTS" && mount -t virtiofs kxresults "$KX_RESULTS" ||
    echo "kx-lab: cannot mount the results share at $KX_RESULTS" > /dev/kmsg
fi

out=/dev/ttyS1
stty -F $out raw -echo 2>/dev/null
cd "$KX_CWD" 2>/dev/null || cd /
if ! command -v "$1" >/dev/null 2>&1; then
  echo "kx lab: command not found in the guest: $1" > $out
  rc=127
else
  "$@" > $out 2>&1 < /dev/null
  rc=$?
fi
sync
echo "kx-lab-exit=$rc" > /dev/kmsg
exec /bin/busybox poweroff -f
