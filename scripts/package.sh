#!/usr/bin/env bash
# Builds the Debian package from the tree (no network: the build
# dependencies are the ones scripts/setup.sh installs) into build/packages/,
# then checks it: contents listed, installed with dpkg, `kx version` and the
# unit file run from the installed files, and removed again unless --keep.
#   scripts/package.sh [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --packages
out=build/packages
mkdir -p "$out"
DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -b -us -uc
version=$(dpkg-parsechangelog -S Version)
mv ../kernelx_"$version"_amd64.deb ../kernelx-dbgsym_"$version"_amd64.deb ../kernelx_"$version"_amd64.buildinfo \
  ../kernelx_"$version"_amd64.changes "$out"/
deb=$out/kernelx_${version}_amd64.deb
rm -rf obj-x86_64-linux-gnu debian/.debhelper debian/kernelx debian/files debian/kernelx.substvars \
  debian/debhelper-build-stamp debian/kernelx.postinst.debhelper debian/kernelx.postrm.debhelper \
  debian/kernelx.prerm.debhelper debian/*.debhelper.log
dpkg-deb --contents "$deb" | awk '{print $6}' | grep -E 'bin/kx$|x_tune.h$|x_sie_main.c$|kernelx.service$|bundle.md$'
dpkg -i "$deb"
/usr/bin/kx version
systemd-analyze verify /lib/systemd/system/kernelx.service
systemctl is-enabled kernelx.service 2> /dev/null || [[ -L /etc/systemd/system/multi-user.target.wants/kernelx.service ]]
echo "installed $deb: /usr/bin/kx runs; kernelx.service verifies and is enabled (not started)"
[[ "${1:-}" == --keep ]] || { dpkg -P kernelx > /dev/null; echo "purged again (--keep keeps it)"; }
