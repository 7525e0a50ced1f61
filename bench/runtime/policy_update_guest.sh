# In the lab guest: kx load / kx unload of generated X-tunes, REPS times per
# set of consts, each load's "time:" line (kx's own breakdown) to $KX_RESULTS.
set -eu
KX=$1 REPS=$2
shift 2
W=$(mktemp -d) R=$KX_RESULTS
n=0
for set in "$@"; do
  n=$((n + 1))
  # shellcheck disable=SC2086  # a set is a space-separated list of const IDs
  "$KX" gen $set -o "$W/set$n.bpf.c" > /dev/null
  for i in $(seq "$REPS"); do
    "$KX" load "$W/set$n.bpf.c" --settle 10 > "$W/out"
    { echo "set$n $set"; grep -E '^time:|safe spans' "$W/out"; } >> "$R/loads"
    t0=$(date +%s%N)
    "$KX" unload "$W/set$n.bpf.c" > /dev/null
    echo "unload_ms $(( ($(date +%s%N) - t0) / 1000000 ))" >> "$R/loads"
  done
done
