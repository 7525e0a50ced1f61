#!/usr/bin/env bash
# Analyses every perf-const of the corpus with `kx build`, one const per job:
# each job writes its own JSON and one scope-table transaction, so the run
# scales out with -j here, or with any batch scheduler running
#   kx build --json SPEC > results/ID.json
# per row. Kernel object rebuilds take turns on the tree's lock.
#   eval/corpus/run.sh [-j N] [CORPUS.tsv] [RESULTS_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=1
if [[ "${1:-}" == "-j" ]]; then jobs=$2; shift 2; fi
corpus=${1:-../shared/corpus/perf-consts.tsv}
out=${2:-eval/corpus/results}
mkdir -p "$out"
kx=$PWD/build/kx
[[ -x $kx ]] || { echo "build kx first (scripts/setup.sh)" >&2; exit 1; }

# id <TAB> spec for every row (the header names the columns).
awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
            { print $col["id"] "\t" $col["spec"] }' "$corpus" |
  xargs -P "$jobs" -L 1 bash -c '
    id=$0 spec=$1 out='"$out"' kx='"$kx"'
    [[ -s $out/$id.json ]] && exit 0            # done in an earlier run
    start=$(date +%s.%N)
    if "$kx" build --json "$spec" > "$out/$id.json.tmp" 2> "$out/$id.log"; then
      mv "$out/$id.json.tmp" "$out/$id.json"
    else
      rm -f "$out/$id.json.tmp"
      printf "{\"id\": \"%s\", \"spec\": \"%s\", \"status\": \"error\", \"reason\": %s}\n" "$id" "$spec" \
        "$(tail -n 1 "$out/$id.log" | python3 -c "import json,sys; print(json.dumps(sys.stdin.read().strip()))")" > "$out/$id.json"
    fi
    printf "%s %s %.1fs\n" "$id" "$(python3 -c "import json; print(json.load(open(\"$out/$id.json\"))[\"status\"])")" \
      "$(echo "$(date +%s.%N) - $start" | bc)"
  '
