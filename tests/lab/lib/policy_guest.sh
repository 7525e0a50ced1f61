# Runs inside the lab guest (kx lab run -- bash policy_guest.sh KX): X-tune
# policies and transitions on BLK_MAX_REQUEST_COUNT (plug flush depths, see
# blk_depths.sh), each step's kx output and status to $KX_RESULTS:
#  policy    kx gen, edited to x_set(ctx, 4), kx load --transition per-thread;
#            unloaded while fio runs
#  rejected  a policy asking for 2^40, outside the proven range: refused per run
#  verifier  a policy the verifier rejects: nothing attached
#  pair      kx set of two consts, one global transaction (its dry run's
#            predicted probe kinds against the kprobe list)
set -u
KX=$1 R=$KX_RESULTS W=$(mktemp -d)
source "$(dirname "$0")/../../../scripts/lib/guest_kx.sh"
source "$(dirname "$0")/blk_depths.sh"
step() {  # name, command...: its output and exit status
  local name=$1
  shift
  "$@" > "$R/$name.out" 2>&1
  echo $? > "$R/$name.rc"
}

depths before
step gen "$KX" gen BLK_MAX_REQUEST_COUNT -o "$W/plug.bpf.c"
cp "$W/plug.bpf.c" "$R/plug.bpf.c"
sed 's/x_set(ctx, x_default());/x_set(ctx, x_transition_done() ? 4 : x_default());/' "$W/plug.bpf.c" > "$W/four.bpf.c"
step load "$KX" load "$W/four.bpf.c" --transition per-thread
depths policy
"$KX" status --json > "$R/policy.status"
# Unload while the workload runs: the switch back waits for fio's tasks to
# leave the safe spans, then detaches.
fio_batches 4 & fio=$!
sleep 1
step unload "$KX" unload "$W/four.bpf.c"
wait $fio
depths after_policy

sed 's/x_set(ctx, x_default());/x_set(ctx, 1LL << 40);/' "$W/plug.bpf.c" > "$W/huge.bpf.c"
step load_huge "$KX" load "$W/huge.bpf.c"
depths rejected
"$KX" status --json > "$R/rejected.status"
step unload_huge "$KX" unload "$W/huge.bpf.c"

# Reading through a register as a pointer: the verifier says no.
sed 's/x_set(ctx, x_default());/x_set(ctx, *(long *)ctx->di);/' "$W/plug.bpf.c" > "$W/bad.bpf.c"
step load_bad "$KX" load "$W/bad.bpf.c"
"$KX" status --json > "$R/bad.status"
cat /sys/kernel/debug/kprobes/list > "$R/bad.kprobes"

step pair_dry "$KX" set --dry-run --json BLK_MAX_REQUEST_COUNT=16 SHRINK_BATCH=64
step pair "$KX" set BLK_MAX_REQUEST_COUNT=16 SHRINK_BATCH=64
cat /sys/kernel/debug/kprobes/list > "$R/pair.kprobes"
"$KX" status --json > "$R/pair.status"
depths pair
id=$(tx_id < "$R/pair.out")
step pair_reset "$KX" reset "$id"
cat /sys/kernel/debug/kprobes/list > "$R/final.kprobes"
