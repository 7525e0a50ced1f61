# Runs inside the lab guest (kx lab run -- bash static_guest.sh KX): the
# static path of BLK_MAX_REQUEST_COUNT's `mov $0x20,%edx` at
# blk_start_plug_nr_ios+0x1d, read back from /proc/kcore at each step:
#  static   kx set rewrites the immediate, its probe goes, plugs still flush at 8;
#  refused  a kprobe put on the patched instruction makes kx reset refuse;
#  after    without it, kx reset writes the compiled bytes back;
#  near     with a kprobe there before kx set, the span stays on its probe;
#  probes   kx set --probes-only keeps the probe.
set -u
KX=$1 R=$KX_RESULTS
source "$(dirname "$0")/../../../scripts/lib/guest_kx.sh"
source "$(dirname "$0")/blk_depths.sh"
EVENTS=/sys/kernel/tracing/kprobe_events

kcore() {  # ADDR LEN: the live bytes, hex
  python3 - "$1" "$2" <<'PY'
import struct, sys
addr, n = int(sys.argv[1], 16), int(sys.argv[2])
with open("/proc/kcore", "rb") as f:
    h = f.read(64)
    (phoff,) = struct.unpack_from("<Q", h, 32)
    phentsize, phnum = struct.unpack_from("<HH", h, 54)
    f.seek(phoff)
    ph = f.read(phentsize * phnum)
    for i in range(phnum):
        typ, _, off, vaddr, _, _, memsz, _ = struct.unpack_from("<IIQQQQQQ", ph, i * phentsize)
        if typ == 1 and vaddr <= addr < vaddr + memsz:
            f.seek(off + addr - vaddr)
            print(f.read(n).hex())
            break
PY
}
states() {  # label=probe-state of every span
  "$KX" status --json | python3 -c 'import json, sys
print(" ".join(s["label"] + "=" + s["probe"] for t in json.load(sys.stdin)["transactions"] for c in t["consts"] for s in c["spans"]))'
}
wait_static() {  # the reaper rewrites the immediate once the transition is done
  for _ in $(seq 50); do states > "$R/$1.state"; grep -q '=static' "$R/$1.state" && return; sleep 0.2; done
}
MOV=$(printf '%x' $((0x$(awk '$3 == "blk_start_plug_nr_ios" {print $1; exit}' /proc/kallsyms) + 0x1d)))

kcore "$MOV" 5 > "$R/bytes.before"
"$KX" set BLK_MAX_REQUEST_COUNT=8 > "$R/set.out" 2>&1
wait_static static
kcore "$MOV" 5 > "$R/bytes.static"
cat /sys/kernel/debug/kprobes/list > "$R/kprobes.static"
depths static

echo 'p:kxstatic blk_start_plug_nr_ios+0x1d' >> $EVENTS
"$KX" reset BLK_MAX_REQUEST_COUNT > "$R/refused.out" 2>&1
echo $? > "$R/refused.rc"
states > "$R/refused.state"
echo '-:kxstatic' >> $EVENTS
"$KX" reset BLK_MAX_REQUEST_COUNT > "$R/reset.out" 2>&1
echo $? > "$R/reset.rc"
kcore "$MOV" 5 > "$R/bytes.after"

echo 'p:kxstatic blk_start_plug_nr_ios+0x1d' >> $EVENTS
"$KX" set BLK_MAX_REQUEST_COUNT=8 > "$R/near.out" 2>&1
sleep 2
states > "$R/near.state"
kcore "$MOV" 5 > "$R/bytes.near"
"$KX" reset BLK_MAX_REQUEST_COUNT >> "$R/near.out" 2>&1
echo '-:kxstatic' >> $EVENTS

"$KX" set BLK_MAX_REQUEST_COUNT=8 --probes-only > "$R/probes.out" 2>&1
sleep 2
states > "$R/probes.state"
"$KX" reset BLK_MAX_REQUEST_COUNT >> "$R/probes.out" 2>&1
cat /sys/kernel/debug/kprobes/list > "$R/kprobes"
dmesg | grep 'x_sie' > "$R/dmesg"
