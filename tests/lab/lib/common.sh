# Shared by the lab test cases: each case is `bash CASE.sh PATH/TO/kx`.
set -euo pipefail
KX=${1:?usage: $0 path/to/kx}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d /tmp/kx-labtest.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# set -e alone would exit silently: say which command failed.
trap '[[ $- == *e* ]] && echo "FAIL: ${BASH_SOURCE[0]}:$LINENO: $BASH_COMMAND" >&2' ERR

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_eq() { [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"; }
# Of a plug-depth histogram ("count depth" lines, blk_depths.sh's `depths`)
# at $R/NAME: the deepest flush, and the number of flushes.
max_depth() { awk '{print $2}' "$R/$1" | sort -n | tail -1; }
flushes() { awk '{n += $1} END {print n + 0}' "$R/$1"; }
# plug_phases NAME...: each phase's flushes, deepest flush and histogram;
# a phase with fewer than 100 flushes is too few to judge and fails.
plug_phases() {
  local phase
  for phase in "$@"; do
    echo "$phase: $(flushes "$phase") flushes, deepest $(max_depth "$phase") ($(tr '\n' ' ' < "$R/$phase"))"
    [[ $(flushes "$phase") -ge 100 ]] || fail "$phase: too few plug flushes to judge ($(flushes "$phase"))"
  done
}
no_lab_leftovers() {
  if pgrep -f "kxrun=$WORK|qemu-system-x86_64.*kxroot" >/dev/null; then fail "a lab QEMU is still running"; fi
  if pgrep -f "virtiofsd.*kernelx/lab/runs" >/dev/null; then fail "a lab virtiofsd is still running"; fi
}
