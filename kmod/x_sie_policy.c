// SPDX-License-Identifier: GPL-2.0
/*
 * X-tune policies (paper §3.6, design.md §2): on Debian 6.1 a kprobe BPF
 * program can neither write pt_regs nor call a module kfunc, so user space
 * loads the policy as an unattached kprobe program and hands its fd here.
 * The update handler runs it on the probe's registers; the policy only
 * *asks* for a value through its per-CPU x_sie_slot (x_set); the module
 * checks the value against the range the updates are proven for and
 * performs the one write itself. The verifier has vetted the program.
 */
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/kprobes.h>

#include "x_sie.h"

int xsie_policy_get(struct xsie_const *c, char *why, size_t whylen)
{
	struct bpf_prog *prog;
	struct bpf_map *map;

	if (c->req.policy_fd < 0)
		return 0;
	prog = bpf_prog_get_type_dev(c->req.policy_fd, BPF_PROG_TYPE_KPROBE, false);
	if (IS_ERR(prog)) {
		snprintf(why, whylen, "%s: fd %d is not a kprobe BPF program", c->req.name, c->req.policy_fd);
		return PTR_ERR(prog);
	}
	map = bpf_map_get(c->req.slot_fd);
	if (IS_ERR(map)) {
		bpf_prog_put(prog);
		snprintf(why, whylen, "%s: fd %d is not a BPF map", c->req.name, c->req.slot_fd);
		return PTR_ERR(map);
	}
	if (map->map_type != BPF_MAP_TYPE_PERCPU_ARRAY || map->key_size != sizeof(u32) ||
	    map->value_size < sizeof(struct x_sie_slot) || map->max_entries < 1) {
		bpf_map_put(map);
		bpf_prog_put(prog);
		snprintf(why, whylen, "%s: the slot map must be a per-CPU array of struct x_sie_slot", c->req.name);
		return -EINVAL;
	}
	c->prog = prog;
	c->slot = map;
	return 0;
}

void xsie_policy_put(struct xsie_const *c)
{
	if (c->prog)
		bpf_prog_put(c->prog);
	if (c->slot)
		bpf_map_put(c->slot);
	c->prog = NULL;
	c->slot = NULL;
}

/*
 * The value the update at span s uses now: the const's value, or the one
 * its policy sets. False: keep the compiled behaviour at this hit (no
 * x_set, or a value outside the proven range). Runs in the kprobe handler:
 * preemption is off and handlers never nest on a CPU, so the slot is ours.
 */
bool xsie_policy_value(struct xsie_tx *tx, struct xsie_span *s, struct pt_regs *regs, u64 *v)
{
	struct xsie_const *c = &tx->consts[s->const_index];
	struct x_sie_slot *slot;
	u32 key = 0;
	bool set;
	s64 val;

	if (!c->prog) {
		*v = c->req.value;
		return true;
	}
	rcu_read_lock();
	slot = c->slot->ops->map_lookup_elem(c->slot, &key);
	if (!slot) {
		rcu_read_unlock();
		return false;
	}
	slot->set = 0;
	slot->value = c->req.dflt;
	slot->dflt = c->req.dflt;
	slot->done = !READ_ONCE(tx->switching);
	bpf_prog_run(c->prog, regs);
	set = READ_ONCE(slot->set);
	val = (s64)READ_ONCE(slot->value);
	rcu_read_unlock();
	atomic64_inc(&s->policy_runs);
	if (!set) {
		atomic64_inc(&s->policy_unset);
		return false;
	}
	if (val < c->req.min || val > c->req.max) {
		atomic64_inc(&s->policy_rejected);
		return false;
	}
	*v = (u64)val;
	return true;
}
NOKPROBE_SYMBOL(xsie_policy_value);
