# In the lab guest: fio keeps null_blk busy while the exploring X-tune runs;
# then the plug flush depths under the value it chose. To $KX_RESULTS.
set -eu
KX=$1 POLICY=$2 R=$KX_RESULTS
source "$(dirname "$0")/../../tests/lab/lib/blk_depths.sh"
fio_batches 60 > /dev/null 2>&1 & fio=$!
sleep 1
"$KX" load "$POLICY" > "$R/load.out"
# Five 0.4 s epochs; wait for the verdict (idx == 5).
for _ in $(seq 100); do
  bpftool map dump name explore -j > "$R/explore.json" 2>/dev/null || true
  python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[0]["formatted"]["value"]; sys.exit(0 if v["idx"] >= 5 else 1)' \
    "$R/explore.json" 2>/dev/null && break
  sleep 0.5
done
kill $fio 2>/dev/null || true
wait $fio || true
depths chosen
"$KX" status --json > "$R/status.json"
"$KX" unload "$POLICY" > "$R/unload.out"
depths after
