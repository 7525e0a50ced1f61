# Runs inside the lab guest (kx lab run -- bash bundle_guest.sh W ROOT): W
# holds kx, the bundles and conf.d/ (see runtime_bundle.sh); ROOT is the
# checkout, hidden here. Each step's output, exit status and what it left
# attached go to $KX_RESULTS.
set -u
W=$1 ROOT=$2 R=$KX_RESULTS
source "$W/blk_depths.sh"

# Nothing of the build host from here on: no compilers in PATH, no kernel
# source, scope tables, module builds or checkout.
for d in "$ROOT" /var/cache/kernelx/kernels /var/cache/kernelx/scope /var/cache/kernelx/modules /usr/src; do
  [[ -d $d ]] && mount -t tmpfs hidden "$d"
done
mkdir -p "$W/path" "$W/home"
for t in bash cat grep awk sort uniq sed tail head tr fio insmod python3 mkdir rm ls gzip zcat timeout cp printf; do
  ln -sf "$(command -v $t)" "$W/path/$t"
done
export PATH=$W/path KX_HOME=$W/home
command -v gcc cc gcc-12 clang make ld > "$R/compilers"
echo hidden > "$R/source"
for d in "$ROOT" /var/cache/kernelx/kernels /var/cache/kernelx/scope /usr/src; do
  [[ -z $(ls -A "$d" 2>/dev/null) ]] || echo "visible: $d" > "$R/source"
done

attached() {  # kprobes registered plus x-sie.ko loaded (0: nothing)
  echo $(($(grep -c . /sys/kernel/debug/kprobes/list) + $([[ -d /sys/module/x_sie ]] && echo 1 || echo 0)))
}
step() {  # name, command...: its output, exit status and what is attached after it
  local name=$1
  shift
  "$@" > "$R/$name.out" 2>&1
  echo $? > "$R/$name.rc"
  attached > "$R/$name.attached"
}
KX=$W/bin/kx
depths before
step tampered "$KX" apply "$W/tampered.kxb" --config "$W/conf.d"
step foreign "$KX" apply "$W/foreign.kxb" --config "$W/conf.d"
step dry "$KX" apply "$W/good.kxb" --config "$W/conf.d" --dry-run
step apply "$KX" apply "$W/good.kxb" --config "$W/conf.d"
depths during
step reapply "$KX" apply "$W/good.kxb" --config "$W/conf.d"
sed -i 's/= 8/= 16/' "$W/conf.d/blk.conf"
step changed "$KX" apply "$W/good.kxb" --config "$W/conf.d"
depths changed
step status "$KX" status
step reset "$KX" reset BLK_MAX_REQUEST_COUNT
depths after
step again "$KX" apply "$W/good.kxb" --config "$W/conf.d"
rm "$W/conf.d/blk.conf"
step removed "$KX" apply "$W/good.kxb" --config "$W/conf.d/"
cat /sys/kernel/debug/kprobes/list > "$R/kprobes"

# A policy compiled on the build host, named by a config.
step foreign_policy "$KX" apply "$W/good.kxb" --config "$W/foreign.d"
mkdir -p "$W/policy.d"
cp "$W/p4.bpf.o" "$W/policy.d/plug.bpf.o"
printf 'policy = plug.bpf.o\ntransition = per-thread\n' > "$W/policy.d/plug.conf"
step policy_dry "$KX" apply "$W/good.kxb" --config "$W/policy.d" --dry-run --json
step policy "$KX" apply "$W/good.kxb" --config "$W/policy.d"
cat /sys/kernel/debug/kprobes/list > "$R/policy.kprobes"
depths policy
step policy_again "$KX" apply "$W/good.kxb" --config "$W/policy.d"
cp "$W/p16.bpf.o" "$W/policy.d/plug.bpf.o"
step policy_changed "$KX" apply "$W/good.kxb" --config "$W/policy.d"
depths policy_changed
rm "$W/policy.d/plug.conf"
step policy_removed "$KX" apply "$W/good.kxb" --config "$W/policy.d/"
cat /sys/kernel/debug/kprobes/list > "$R/kprobes_end"
