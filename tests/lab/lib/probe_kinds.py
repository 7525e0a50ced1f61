# probe_kinds.py PLAN.json KPROBES: the predicted kind of every kprobe in a
# dry run's JSON plan (kx set/load/apply --dry-run --json) against what the
# kernel made of it (/sys/kernel/debug/kprobes/list, read once the
# transaction settled). Prints one line per probe present in both; fails on
# a mismatch or a critical-span probe the list lacks.
import json, sys
plan = json.load(open(sys.argv[1]))
assert plan["addresses"] == "running", "the dry run did not plan at live addresses"
predicted, critical = {}, set()
for c in plan["consts"]:
    for sp in c["critical_spans"]:
        predicted[int(sp["probe_address"], 16)] = sp["probe_predicted"]["kind"]
        critical.add(int(sp["probe_address"], 16))
        if "capture_address" in sp:
            predicted[int(sp["capture_address"], 16)] = sp["capture_predicted"]["kind"]
    for ss in c["safe_spans"]:
        predicted[int(ss["entry"], 16)] = ss["entry_predicted"]["kind"]
        for e, k in zip(ss["exits"], ss["exits_predicted"]):
            predicted[int(e, 16)] = k["kind"]
made = {}
for line in open(sys.argv[2]):
    f = line.split()
    made[int(f[0], 16)] = "jump-optimized" if "[OPTIMIZED]" in line else "int3"
bad = 0
for a in sorted(predicted):
    if a not in made:
        continue
    ok = predicted[a] == made[a]
    bad += not ok
    print(f"{a:#x}: predicted {predicted[a]}, the kernel made {made[a]}{'' if ok else '  MISMATCH'}")
missing = critical - set(made)
if missing:
    print("critical probes not in the kprobe list:", [hex(a) for a in missing])
print(f"return thunks in use: {plan['return_thunks']}; {len(set(predicted) & set(made))} probes compared, {bad} mismatched")
sys.exit(1 if bad or missing else 0)
