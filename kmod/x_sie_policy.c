// SPDX-License-Identifier: GPL-2.0
/*
 * X-tune policies (paper §3.6, design.md §2): on Debian 6.1 a kprobe BPF
 * program can neither write pt_regs nor call a module kfunc, so user space
 * loads the policy as an unattached kprobe program and hands its fd here.
 * The update handler runs it on the probe's registers; the policy only
 * *asks* for a value through its per-CPU x_sie_slot (x_set); the module
 * checks the value against the range the updates are proven for and
 * performs the one write itself.
 *
 * The verifier vetted the program for a kprobe attachment, so it runs the
 * way trace_call_bpf() runs an attached one: under the per-CPU
 * bpf_prog_active guard (no BPF program of any kind nests on a CPU; a hit
 * inside one keeps the compiled value and is counted) and with a run
 * context, which kprobe helpers such as bpf_get_attach_cookie dereference.
 * Programs that need more than a plain kprobe attachment gives them are
 * refused at load: sleepable ones, those calling bpf_override_return (it
 * rewrites regs->ip, which a critical span must never see), and
 * kprobe.multi or other attach types (their helpers expect another context).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/kprobes.h>

#include "x_sie.h"

/* Why prog cannot run from our handlers, or NULL. */
static const char *xsie_policy_unfit(const struct bpf_prog *prog)
{
	if (prog->aux->sleepable)
		return "a sleepable program cannot run in a kprobe handler";
	if (prog->kprobe_override)
		return "a program calling bpf_override_return cannot be an X-tune";
	if (prog->expected_attach_type)
		return "only plain kprobe programs can be X-tunes (not kprobe.multi)";
	return NULL;
}

int xsie_policy_get(struct xsie_const *c, char *why, size_t whylen)
{
	const char *unfit;
	struct bpf_prog *prog;
	struct bpf_map *map;

	if (c->req.policy_fd < 0)
		return 0;
	prog = bpf_prog_get_type_dev(c->req.policy_fd, BPF_PROG_TYPE_KPROBE, false);
	if (IS_ERR(prog)) {
		snprintf(why, whylen, "%s: fd %d is not a kprobe BPF program", c->req.name, c->req.policy_fd);
		return PTR_ERR(prog);
	}
	unfit = xsie_policy_unfit(prog);
	if (unfit) {
		bpf_prog_put(prog);
		snprintf(why, whylen, "%s: %s", c->req.name, unfit);
		return -EINVAL;
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
		snprintf(why, whylen, "%s: the slot map must be a per-CPU array of struct x_sie_slot",
			 c->req.name);
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

/* Runs the policy on regs as trace_call_bpf would; false if another BPF program runs on this CPU. */
static bool xsie_policy_run(struct xsie_const *c, struct pt_regs *regs)
{
	struct bpf_trace_run_ctx run_ctx = {};	/* bpf_cookie 0: no attach cookie */
	struct bpf_run_ctx *old;
	bool ran = false;

	if (likely(this_cpu_inc_return(*xsie_bpf_prog_active) == 1)) {
		old = bpf_set_run_ctx(&run_ctx.run_ctx);
		bpf_prog_run(c->prog, regs);
		bpf_reset_run_ctx(old);
		ran = true;
	}
	this_cpu_dec(*xsie_bpf_prog_active);
	return ran;
}

/*
 * The value the update at span s uses now: the const's value, or the one
 * its policy sets. False: keep the compiled behaviour at this hit (no
 * x_set, a value outside the proven range, or the policy could not run).
 * Runs in the kprobe handler with interrupts off, and handlers never nest
 * on a CPU, so the slot is ours.
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
	if (!xsie_policy_run(c, regs)) {
		rcu_read_unlock();
		atomic64_inc(&s->policy_busy);
		return false;
	}
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
NOKPROBE_SYMBOL(xsie_policy_run);
NOKPROBE_SYMBOL(xsie_policy_value);
