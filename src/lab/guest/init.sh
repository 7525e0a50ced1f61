#!/bin/busybox sh
# kernelx lab, stage 1: the initramfs /init. Loads the drivers virtiofs needs,
# mounts the host's root read-only under a tmpfs overlay (so the guest sees the
# host's files at the same paths and its writes stay in the guest), then hands
# over to stage 2, which runs from the host's own root.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

fail() { echo "kx-lab: $*" > /dev/kmsg; echo "kx-lab-exit=125" > /dev/kmsg; poweroff -f; }

for m in $(cat /modules.order); do
  insmod "/modules/$m.ko" || fail "insmod $m failed"
done

mkdir -p /lower /upper /newroot
mount -t virtiofs -o ro kxroot /lower || fail "cannot mount the host root over virtiofs"
mount -t tmpfs -o mode=0755 kxupper /upper
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /newroot ||
  fail "cannot mount the overlay root"
for d in proc sys dev; do mount --move /$d /newroot/$d; done
# kxrun= comes from the kernel command line: the run directory on the host.
exec switch_root /newroot /bin/sh "$kxrun/stage2.sh" "$kxrun"
