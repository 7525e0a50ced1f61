# In the lab guest: iperf3 over a veth pair between two namespaces (softirq
# load: NET_RX/NET_TX) while cyclictest measures wake-up latency of an RT
# thread, at each MAX_SOFTIRQ_RESTART value, REPS rounds over the values.
# One "value gbps avg_us max_us" line per run to $KX_RESULTS/runs.
set -eu
KX=$1 REPS=$2 R=$KX_RESULTS
shift 2
source "$(dirname "$0")/../../scripts/lib/guest_kx.sh"
modprobe veth
ip netns add a
ip netns add b
ip link add va netns a type veth peer name vb netns b
ip -n a addr add 10.8.0.1/24 dev va
ip -n b addr add 10.8.0.2/24 dev vb
for n in a b; do ip -n $n link set lo up; done
ip -n a link set va up
ip -n b link set vb up
run() {  # value
  ip netns exec b iperf3 -s -1 > /dev/null 2>&1 &
  sleep 0.3
  ip netns exec a iperf3 -c 10.8.0.2 -t 8 -P 2 -J > "$R/iperf.json" 2>/dev/null &
  local ip=$!
  sleep 1
  cyclictest -q -m -p 80 -i 1000 -D 5 -h 100000 > "$R/cyc.txt" 2>&1 || true
  wait $ip || true
  wait || true
  local gbps avg max
  gbps=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e9, 3))' "$R/iperf.json")
  avg=$(awk '/# Avg Latencies/ {print $4}' "$R/cyc.txt")
  max=$(awk '/# Max Latencies/ {print $4}' "$R/cyc.txt")
  echo "$1 $gbps $avg $max" >> "$R/runs"
}
for _ in $(seq "$REPS"); do for v in "$@"; do
  if [ "$v" = 10 ]; then run 10; continue; fi   # the compiled value
  with_value MAX_SOFTIRQ_RESTART "$v" run "$v"
done; done
