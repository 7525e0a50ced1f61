# Runs inside the lab guest (kx lab run -- bash hystart_guest.sh KX): CUBIC's
# HyStart delay detection between two network namespaces over a veth pair
# with 40 ms of netem delay and a 20 Mbit/s bottleneck, where a growing queue
# raises the RTT as slow start goes on. Per phase (default, tuned, reset): the
# TcpExtTCPHystartDelayDetect count and the cwnd at detection over FLOWS
# short transfers, to $KX_RESULTS/PHASE.
set -eu
KX=$1 FLOWS=${2:-4} R=$KX_RESULTS
source "$(dirname "$0")/../../../scripts/lib/guest_kx.sh"
modprobe veth
modprobe sch_netem
# HyStart by delay only: an ACK-train exit (the other detector) would end
# slow start before the delay thresholds under test matter.
echo 2 > /sys/module/tcp_cubic/parameters/hystart_detect
ip netns add a
ip netns add b
ip link add va netns a type veth peer name vb netns b
ip -n a addr add 10.9.0.1/24 dev va
ip -n b addr add 10.9.0.2/24 dev vb
ip -n a link set va up
ip -n b link set vb up
ip -n a link set lo up
ip -n b link set lo up
ip netns exec a tc qdisc add dev va root netem delay 40ms rate 20mbit limit 1000
ip netns exec b iperf3 -s -D -1 > /dev/null 2>&1 || true
phase() {
  local d0 c0
  d0=$(ip netns exec a nstat -az TcpExtTCPHystartDelayDetect | awk '/Detect/ {print $2}')
  c0=$(ip netns exec a nstat -az TcpExtTCPHystartDelayCwnd | awk '/Cwnd/ {print $2}')
  for i in $(seq "$FLOWS"); do
    ip netns exec b iperf3 -s -1 > /dev/null 2>&1 &
    sleep 0.3
    ip netns exec a iperf3 -c 10.9.0.2 -t 3 -C cubic > /dev/null 2>&1 || true
    wait
  done
  echo "$(( $(ip netns exec a nstat -az TcpExtTCPHystartDelayDetect | awk '/Detect/ {print $2}') - d0 )) \
$(( $(ip netns exec a nstat -az TcpExtTCPHystartDelayCwnd | awk '/Cwnd/ {print $2}') - c0 ))" > "$R/$1"
}
phase default
# The delay threshold's floor at 12 ms (from 4) and its ceiling at 200 ms
# (from 16): the floor's proven range ends below the compiled ceiling (16 ms:
# clamp() does not compile with its bounds crossed), so it cannot go higher.
"$KX" set --dry-run --json HYSTART_DELAY_MIN=12000 HYSTART_DELAY_MAX=200000 > "$R/dry.out" 2>&1
"$KX" set HYSTART_DELAY_MIN=12000 HYSTART_DELAY_MAX=200000 > "$R/set.out" 2>&1
cat /sys/kernel/debug/kprobes/list > "$R/set.kprobes"
phase tuned
"$KX" status --json > "$R/status.json"
"$KX" reset "$(tx_id < "$R/set.out")" > "$R/reset.out" 2>&1
phase reset
# Per-flow policy: every flow here has a 40 ms RTT, so each gets a floor x3 and a ceiling x8.
"$KX" load "$(dirname "$0")/../../../examples/policies/per_flow_hystart.bpf.c" > "$R/perflow.out" 2>&1
phase perflow
"$KX" status --json > "$R/perflow.json"
"$KX" unload "$(dirname "$0")/../../../examples/policies/per_flow_hystart.bpf.c" >> "$R/perflow.out" 2>&1
