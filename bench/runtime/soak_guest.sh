# In the lab guest: CYCLES rounds of kx set/reset and kx load/unload of a
# BLK_MAX_REQUEST_COUNT policy, alternating global and per-thread
# transitions, while fio keeps the block layer inside the spans. Any
# WARN/BUG/oops fails the lab run itself; leftovers are written out.
set -eu
KX=$1 CYCLES=$2 R=$KX_RESULTS W=$(mktemp -d)
source "$(dirname "$0")/../../tests/lab/lib/blk_depths.sh"
source "$(dirname "$0")/../../scripts/lib/guest_kx.sh"
"$KX" gen BLK_MAX_REQUEST_COUNT -o "$W/p.bpf.c" > /dev/null
sed -i 's/x_set(ctx, x_default());/x_set(ctx, 8 + (bpf_get_prandom_u32() \& 7));/' "$W/p.bpf.c"
fio_batches 100000 > /dev/null 2>&1 & fio=$!
t0=$(date +%s)
for i in $(seq "$CYCLES"); do
  mode=$([ $((i % 2)) = 0 ] && echo global || echo per-thread)
  if [ $((i % 4)) -lt 2 ]; then
    out=$("$KX" set BLK_MAX_REQUEST_COUNT=$((4 + i % 60)) --transition "$mode" --settle 0)
    "$KX" reset "$(tx_id <<< "$out")" > /dev/null
  else
    "$KX" load "$W/p.bpf.c" --transition "$mode" --settle 0 > /dev/null
    "$KX" unload "$W/p.bpf.c" > /dev/null
  fi
  [ $((i % 50)) = 0 ] && echo "$i cycles, $(( $(date +%s) - t0 )) s" >> "$R/progress"
done
kill $fio
wait $fio || true
echo "$CYCLES $(( $(date +%s) - t0 ))" > "$R/done"
cat /sys/kernel/debug/kprobes/list > "$R/kprobes"
"$KX" status --json > "$R/status"
lsmod | grep -c '^x_sie' > "$R/module" || true
rmmod x_sie && echo removed > "$R/rmmod"
