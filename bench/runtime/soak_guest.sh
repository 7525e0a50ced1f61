# In the lab guest: CYCLES rounds of kx set/reset (BLK_MAX_REQUEST_COUNT and
# SHRINK_BATCH in one transaction) and kx load/unload of a
# BLK_MAX_REQUEST_COUNT policy (compiled on the host), alternating global and per-thread
# transitions, while fio keeps the block layer inside the spans, iperf3
# runs over a veth pair, drop_caches runs the shrinkers, and a fork storm
# leaves zombies and exited thread-group leaders on the task list (renewed
# every 50 cycles). Any WARN/BUG/oops fails the lab run itself; leftovers
# are written out.
set -eu
KX=$1 CYCLES=$2 DEAD_TASKS=$3 POLICY=$4 R=$KX_RESULTS
source "$(dirname "$0")/../../tests/lab/lib/blk_depths.sh"
source "$(dirname "$0")/../../scripts/lib/guest_kx.sh"

fio_batches 100000 > /dev/null 2>&1 & fio=$!
modprobe veth
ip netns add a && ip netns add b
ip link add va netns a type veth peer name vb netns b
ip -n a addr add 10.9.0.1/24 dev va && ip -n b addr add 10.9.0.2/24 dev vb
ip -n a link set va up && ip -n b link set vb up
ip netns exec b iperf3 -s > /dev/null 2>&1 & server=$!
sleep 0.5
ip netns exec a iperf3 -c 10.9.0.2 -t 100000 -b 200M > /dev/null 2>&1 & client=$!
(while :; do echo 2 > /proc/sys/vm/drop_caches; sleep 0.5; done) & dropper=$!
(while :; do for i in 1 2 3 4 5 6 7 8; do (:) & done; wait; done) > /dev/null 2>&1 & forker=$!
"$DEAD_TASKS" 8 4 > /dev/null & dead=$!

t0=$(date +%s)
for i in $(seq "$CYCLES"); do
  mode=$([ $((i % 2)) = 0 ] && echo global || echo per-thread)
  if [ $((i % 4)) -lt 2 ]; then
    out=$("$KX" set BLK_MAX_REQUEST_COUNT=$((4 + i % 50)) SHRINK_BATCH=$((32 + i % 200)) --transition "$mode" --settle 0)
    "$KX" reset "$(tx_id <<< "$out")" > /dev/null
  else
    "$KX" load "$POLICY" --transition "$mode" --settle 0 > /dev/null
    "$KX" unload "$POLICY" > /dev/null
  fi
  if [ $((i % 50)) = 0 ]; then
    kill $dead; wait $dead || true
    "$DEAD_TASKS" 8 4 > /dev/null & dead=$!
  fi
  [ $((i % 10)) != 0 ] || echo "$i cycles, $(( $(date +%s) - t0 )) s" >> "$R/progress"
done
kill $fio $client $server $dropper $forker $dead
wait || true
echo "$CYCLES $(( $(date +%s) - t0 ))" > "$R/done"
cat /sys/kernel/debug/kprobes/list > "$R/kprobes"
"$KX" status --json > "$R/status"
rmmod x_sie && echo removed > "$R/rmmod"
