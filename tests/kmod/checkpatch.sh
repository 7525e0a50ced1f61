# kmod/ is kernel C as the kernel writes it: the prepared tree's own
# scripts/checkpatch.pl finds no error in any of its files (lines up to 100
# columns, as the kernel allows today).
#   bash checkpatch.sh path/to/kx
set -euo pipefail
KX=${1:?usage: $0 path/to/kx}
KMOD=$(cd "$(dirname "$0")/../../kmod" && pwd)
src=$("$KX" kernel show | python3 -c 'import json, sys; print(json.load(sys.stdin)["cache"])')/src
[[ -f $src/scripts/checkpatch.pl ]] || { echo "FAIL: no checkpatch.pl in $src (kx kernel prepare)" >&2; exit 1; }
errors=0
for f in "$KMOD"/*.c "$KMOD"/*.h; do
  out=$(perl "$src/scripts/checkpatch.pl" --no-tree --max-line-length=100 --terse -f "$f" || true)
  if grep -q ': ERROR:' <<<"$out"; then
    grep ': ERROR:' <<<"$out"
    errors=$((errors + 1))
  fi
done
((errors == 0)) || { echo "FAIL: checkpatch errors in $errors file(s)" >&2; exit 1; }
echo "PASS checkpatch: $(ls "$KMOD"/*.[ch] | wc -l) files, no errors"
