# In the lab guest: global transitions of SHRINK_BATCH while N tasks keep
# running its safe span through the ss_depth shrinker, whose scan spends
# DEPTH levels x LEVEL_US inside it (sleeping there when SLEEP=1). Per
# DEPTH, N and rep, one line
#   depth threads wait_ms refcount_updates seeded censored
# to $KX_RESULTS/ss_depth: wait = the switch minus the stop_machine scan;
# refcount updates = entry and exit monitor hits until the switch; censored
# = 1 when no moment with nobody inside came within CAP_S seconds (the load
# is then stopped, which lets it switch: wait and updates are then lower
# bounds of what the load alone would have taken).
set -eu
KX=$1 KO=$2 REPS=$3 LEVEL_US=$4 DEPTHS=$5 SLEEP=$6 CAP_S=$7 R=$KX_RESULTS P=/sys/module/ss_depth/parameters
shift 7
source "$(dirname "$0")/../../scripts/lib/guest_kx.sh"
insmod "$KO" level_us="$LEVEL_US" sleep="$SLEEP"
echo 4 > /proc/sys/vm/drop_caches  # once: no "drop_caches: 2" line per write from now on
# "wait_ms updates seeded" of the one transaction once it has switched;
# fails after $1 seconds (wall clock: a status call is slow under load).
switched() {
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do
    local phase rest
    read -r phase rest <<< "$(tx_transition phase wait_ms updates seeded)"
    if [ -n "$phase" ] && [ "$phase" != switching ]; then echo "$rest"; return; fi
    sleep 0.1
  done
  return 1
}
for d in $DEPTHS; do
  echo "$d" > $P/depth
  for n in "$@"; do
    for _ in $(seq "$REPS"); do
      pids=""
      # niced: kx itself must not starve behind the load on two vCPUs
      for _ in $(seq "$n"); do
        nice -n 19 sh -c 'while :; do echo 2 > /proc/sys/vm/drop_caches; done' & pids="$pids $!"
      done
      sleep 1
      id=$("$KX" set SHRINK_BATCH=64 --transition global --settle 0 | tx_id)
      censored=0
      res=$(switched "$CAP_S") || censored=1
      # shellcheck disable=SC2086
      kill $pids; wait 2>/dev/null || true
      [ $censored = 0 ] || res=$(switched 120)
      echo "$d $n $res $censored" >> "$R/ss_depth"
      "$KX" reset "$id" > /dev/null
    done
  done
done
echo "scans: $(cat $P/scans)"
