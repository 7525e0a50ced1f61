# A module built against the profile's headers, with BTF added by kx, loads
# (its BTF registered by the kernel), takes a parameter and unloads cleanly.
source "$(dirname "$0")/lib/common.sh"

ko=$("$KX" kernel build-module "$HERE/modules/hello" -o "$WORK/hello")
[[ -f "$ko" ]] || fail "build-module printed no .ko path"
readelf -S "$ko" | grep -q '\.BTF' || fail "$ko has no .BTF section"
"$KX" lab run --results "$WORK/results" -- sh -c '
  set -e
  insmod '"$ko"' kx_hello_value=5
  cat /sys/module/kx_hello/parameters/kx_hello_value > "$KX_RESULTS/param"
  [ -e /sys/kernel/btf/kx_hello ] && echo yes > "$KX_RESULTS/btf"
  rmmod kx_hello
  [ ! -e /sys/module/kx_hello ] && echo gone > "$KX_RESULTS/unloaded"
  dmesg | grep -c "kx_hello: \(loaded\|unloaded\)" > "$KX_RESULTS/messages"'
expect_eq "$(cat "$WORK/results/param")" 5 "module parameter"
expect_eq "$(cat "$WORK/results/btf" 2>/dev/null)" yes "/sys/kernel/btf/kx_hello"
expect_eq "$(cat "$WORK/results/unloaded")" gone "module unloaded"
expect_eq "$(cat "$WORK/results/messages")" 2 "load and unload messages"
echo "PASS module_load"
