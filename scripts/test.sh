#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing,
# builds, prepares the default kernel profile, then runs the unit tests and
# the lab tests (which boot the profile's kernel in QEMU, one at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/kx kernel prepare
ctest --test-dir build --output-on-failure "$@"
