# In the lab guest: two namespace pairs, a short path (5 ms) and a long one
# (60 ms), each with a 20 Mbit/s netem bottleneck; per phase (default, the
# per-flow X-tune), FLOWS transfers on each path; per path the HyStart delay
# detections and the cwnd at them (the senders' own per-namespace MIBs).
# One "phase path detections cwnd_sum" line per path to $KX_RESULTS/runs.
set -eu
KX=$1 POLICY=$2 FLOWS=$3 R=$KX_RESULTS
modprobe veth
modprobe sch_netem
echo 2 > /sys/module/tcp_cubic/parameters/hystart_detect   # the delay detector only
pair() {  # name delay_ms
  ip netns add "$1c"
  ip netns add "$1s"
  ip link add "$1c0" netns "$1c" type veth peer name "$1s0" netns "$1s"
  ip -n "$1c" addr add 10.7.$3.1/24 dev "$1c0"
  ip -n "$1s" addr add 10.7.$3.2/24 dev "$1s0"
  for n in "$1c" "$1s"; do ip -n $n link set lo up; done
  ip -n "$1c" link set "$1c0" up
  ip -n "$1s" link set "$1s0" up
  ip netns exec "$1c" tc qdisc add dev "$1c0" root netem delay "$2"ms rate 20mbit limit 1000
}
pair short 5 1
pair long 60 2
counters() { ip netns exec "$1c" nstat -az TcpExtTCPHystartDelayDetect TcpExtTCPHystartDelayCwnd | awk 'NR > 1 {printf "%s ", $2}'; }
flows() {  # path subnet
  local i
  for i in $(seq "$FLOWS"); do
    ip netns exec "$1s" iperf3 -s -1 > /dev/null 2>&1 &
    sleep 0.3
    ip netns exec "$1c" iperf3 -c 10.7.$2.2 -t 3 > /dev/null 2>&1 || true
    wait
  done
}
phase() {
  local path subnet d0 c0 d1 c1
  for path in short long; do
    subnet=$([ $path = short ] && echo 1 || echo 2)
    read -r d0 c0 <<< "$(counters $path)"
    flows $path $subnet
    read -r d1 c1 <<< "$(counters $path)"
    echo "$1 $path $((d1 - d0)) $((c1 - c0))" >> "$R/runs"
  done
}
phase default
"$KX" load "$POLICY" > "$R/load.out" 2>&1
phase per-flow
"$KX" status --json > "$R/status.json"
"$KX" unload "$POLICY" >> "$R/load.out" 2>&1
