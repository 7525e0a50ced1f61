# In the lab guest (bench/reliability/stress.sh): actors racing each other
# for SECONDS under load; each logs one line per attempt to $R/<actor>.log,
# `ok` or the error. Errors that are not one of the expected clean refusals
# go to $R/unexpected.
set -u
KX=$1 SECS=$2 TOOLS=$3 R=$KX_RESULTS W=$(mktemp -d)
shift 3
SITES=("$@")   # FUNC OFFSET pairs
source "$(dirname "$0")/../../tests/lab/lib/blk_depths.sh"
source "$(dirname "$0")/../../scripts/lib/guest_kx.sh"
"$KX" gen BLK_MAX_REQUEST_COUNT -o "$W/p.bpf.c" > /dev/null
sed -i 's/x_set(ctx, x_default());/x_set(ctx, 8 + (bpf_get_prandom_u32() \& 7));/' "$W/p.bpf.c"
# The policy is compiled once; later loads reuse the cached object.
"$KX" load "$W/p.bpf.c" --settle 0 > /dev/null && "$KX" unload "$W/p.bpf.c" > /dev/null

# Clean refusals a racing user may see (anything else is unexpected):
# another transaction holds the const, the module went away between two
# steps (rmmod actor), tasks stayed inside past a short timeout, a
# third-party kprobe on a site, the transaction already gone.
EXPECTED='already in active transaction|is not loaded|cannot open /dev/x-sie|still inside safe spans|still switching|live bytes at|no active transaction|being unloaded by another caller'
log() { # ACTOR CMD...: run CMD, log ok or its error; CMD's output and status
  local a=$1 o rc=0
  shift
  o=$("$@" 2>&1) || rc=$?
  if [ $rc = 0 ]; then echo ok >> "$R/$a.log"; else
    o=$(tail -1 <<< "$o")
    echo "$o" >> "$R/$a.log"
    grep -Eq "$EXPECTED" <<< "$o" || echo "$a: $o" >> "$R/unexpected"
  fi
  printf '%s' "$o"
  return $rc
}
until_end() { [ "$(date +%s)" -lt "$END" ]; }

fio_batches 100000 > /dev/null 2>&1 & bg="$!"
modprobe veth
ip netns add a && ip netns add b
ip link add va netns a type veth peer name vb netns b
ip -n a addr add 10.9.0.1/24 dev va && ip -n b addr add 10.9.0.2/24 dev vb
ip -n a link set va up && ip -n b link set vb up
ip netns exec b iperf3 -s > /dev/null 2>&1 & bg="$bg $!"
sleep 0.5
ip netns exec a iperf3 -c 10.9.0.2 -t 100000 -b 200M > /dev/null 2>&1 & bg="$bg $!"
(while :; do echo 2 > /proc/sys/vm/drop_caches; sleep 0.5; done) & bg="$bg $!"
(while :; do for i in 1 2 3 4 5 6 7 8; do (:) & done; wait; done) > /dev/null 2>&1 & bg="$bg $!"
"$TOOLS/dead_tasks" 8 4 > /dev/null & bg="$bg $!"

END=$(( $(date +%s) + SECS ))
setter() {
  local i=0 out
  while until_end; do
    i=$((i + 1))
    mode=$([ $((i % 2)) = 0 ] && echo global || echo per-thread)
    out=$(log setter "$KX" set SHRINK_BATCH=$((32 + i % 200)) --transition "$mode" --settle 0) || continue
    id=$(tx_id <<< "$out")
    if [ $((i % 5)) = 0 ]; then log reset "$KX" reset "$id" --timeout 1 --force > /dev/null
    else until log reset "$KX" reset "$id" --timeout 200 > /dev/null || ! until_end; do :; done; fi
  done
}
policy() {
  local i=0
  while until_end; do
    i=$((i + 1))
    mode=$([ $((i % 2)) = 0 ] && echo global || echo per-thread)
    log load "$KX" load "$W/p.bpf.c" --transition "$mode" --settle 0 > /dev/null || continue
    if [ $((i % 3)) = 0 ]; then log unload "$KX" unload "$W/p.bpf.c" --timeout 1 --force > /dev/null
    else until log unload "$KX" unload "$W/p.bpf.c" --timeout 200 > /dev/null || ! until_end; do :; done; fi
  done
}
status() { while until_end; do log status "$KX" status --json > /dev/null; sleep 0.2; done; }
remover() { while until_end; do rmmod x_sie 2> /dev/null && echo removed >> "$R/remover.log"; sleep 0.3; done; }
optimizer() {
  while until_end; do
    echo 0 > /proc/sys/debug/kprobes-optimization; sleep 0.7
    echo 1 > /proc/sys/debug/kprobes-optimization; sleep 0.7
    echo toggled >> "$R/optimizer.log"
  done
}
hotplug() {
  while until_end; do
    echo 0 > /sys/devices/system/cpu/cpu1/online && sleep 1
    echo 1 > /sys/devices/system/cpu/cpu1/online && echo cycled >> "$R/hotplug.log"
    sleep 2
  done
}
neighbour() {
  local ev=/sys/kernel/tracing/kprobe_events n=0
  while until_end; do
    for ((k = 0; k < ${#SITES[@]}; k += 2)); do
      n=$((n + 1))
      f=${SITES[k]} off=${SITES[k + 1]}
      echo "p:kxnb/n$n $f+$off" >> $ev 2> /dev/null &&
        echo 1 > /sys/kernel/tracing/events/kxnb/n$n/enable && echo "trace $f+$off" >> "$R/neighbour.log"
      hits=$("$TOOLS/neighbour" "$TOOLS/neighbour.bpf.o" "$f" "$off" 2 2>&1) &&
        echo "bpf $f+$off hits $hits" >> "$R/neighbour.log" || echo "bpf: $hits" >> "$R/neighbour.log"
      echo 0 > /sys/kernel/tracing/events/kxnb/n$n/enable 2> /dev/null
      echo "-:kxnb/n$n" >> $ev 2> /dev/null
      sleep 1
    done
  done
}

actors=""
for a in setter policy status remover optimizer hotplug neighbour; do $a & actors="$actors $!"; done
wait $actors
kill $bg 2> /dev/null
wait 2> /dev/null
echo 1 > /proc/sys/debug/kprobes-optimization
echo 1 > /sys/devices/system/cpu/cpu1/online 2> /dev/null || true

# Whatever a forced or timed-out detach left switching: reset it now.
"$KX" status --json 2> /dev/null | python3 -c '
import json, sys
for t in json.load(sys.stdin)["transactions"]: print(t["id"])' 2> /dev/null |
  while read -r id; do "$KX" reset "$id" --timeout 600 > /dev/null 2>&1 || "$KX" reset "$id" --force > /dev/null 2>&1; done
{
  echo "actor outcomes over $SECS s (count  outcome):"
  for f in "$R"/*.log; do
    echo "  $(basename "$f" .log):"
    sed 's/[0-9]\+/N/g' "$f" | sort | uniq -c | sort -rn | sed 's/^/   /'
  done
} > "$R/summary"
grep -v kxnb /sys/kernel/debug/kprobes/list > "$R/kprobes" || true
"$KX" status --json > "$R/status" 2>&1 || true
if ! grep -q '^x_sie ' /proc/modules || rmmod x_sie; then echo removed > "$R/rmmod"; fi
