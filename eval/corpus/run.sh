#!/usr/bin/env bash
# Analyses every perf-const of the corpus with `kx build`, one const per job:
# each job writes its own JSON and one scope-table transaction, so the run
# scales out with -j here, or with any batch scheduler running
#   kx build --json SPEC > results/ID.json
# per row. Kernel object rebuilds take turns on the tree's lock. A row whose
# JSON was made by this kx's analysis version (`kx version --analysis`, the
# "analysis" field) is kept; a missing or stale one is (re-)analysed.
#   eval/corpus/run.sh [-j N] [-n] [CORPUS.tsv] [RESULTS_DIR]
# -n lists the rows that would run, and why, without running them. $KX
# overrides the kx used (build/kx).
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=1 dry=0
while [[ "${1:-}" == -* ]]; do
  case $1 in
    -j) jobs=$2; shift 2 ;;
    -n) dry=1; shift ;;
    *) echo "usage: $0 [-j N] [-n] [CORPUS.tsv] [RESULTS_DIR]" >&2; exit 2 ;;
  esac
done
corpus=${1:-../shared/corpus/perf-consts.tsv}
out=${2:-eval/corpus/results}
mkdir -p "$out"
kx=${KX:-$PWD/build/kx}
[[ -x $kx ]] || { echo "build kx first (scripts/setup.sh)" >&2; exit 1; }
analysis=$("$kx" version --analysis)

# id <TAB> spec for every row (the header names the columns).
awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
            { print $col["id"] "\t" $col["spec"] }' "$corpus" |
  xargs -P "$jobs" -L 1 bash -c '
    id=$0 spec=$1 out='"$out"' kx='"$kx"' analysis='"$analysis"' dry='"$dry"'
    if [[ -s $out/$id.json ]]; then
      was=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1])).get(\"analysis\", \"\"))" "$out/$id.json")
      [[ $was == "$analysis" ]] && exit 0       # done by this analysis in an earlier run
      why="stale (analysis ${was:-unversioned})"
    else
      why="missing"
    fi
    if [[ $dry == 1 ]]; then echo "$id $why"; exit 0; fi
    start=$(date +%s.%N)
    if "$kx" build --json "$spec" > "$out/$id.json.tmp" 2> "$out/$id.log"; then
      mv "$out/$id.json.tmp" "$out/$id.json"
    else
      rm -f "$out/$id.json.tmp"
      printf "{\"id\": \"%s\", \"spec\": \"%s\", \"status\": \"error\", \"analysis\": \"%s\", \"reason\": %s}\n" \
        "$id" "$spec" "$analysis" \
        "$(tail -n 1 "$out/$id.log" | python3 -c "import json,sys; print(json.dumps(sys.stdin.read().strip()))")" > "$out/$id.json"
    fi
    printf "%s %s %.1fs\n" "$id" "$(python3 -c "import json; print(json.load(open(\"$out/$id.json\"))[\"status\"])")" \
      "$(echo "$(date +%s.%N) - $start" | bc)"
  '
