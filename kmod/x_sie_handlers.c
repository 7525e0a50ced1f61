// SPDX-License-Identifier: GPL-2.0
/*
 * The kprobe pre-handlers (paper §4): pre-handlers only, so a probe can be
 * boosted or jump-optimized. The update runs before the instruction after
 * the span, which equals a post-handler on the span's last instruction.
 *
 * They never sleep, never fault (memory reads and writes go through the
 * nofault accessors) and do bounded work: at most X_SIE_MAX_NODES steps plus
 * X_SIE_MAX_ASSIGNS writes. They never change regs->ip (an optimized probe
 * would ignore it anyway). They run with interrupts off: a jump-optimized
 * probe calls them with interrupts on, and an interrupt taken there would
 * have its own probe hits counted as missed. Scratch space is per CPU:
 * kprobe handlers run with preemption off and never nest on one CPU.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/percpu.h>
#include <linux/poison.h>
#include <linux/rculist.h>
#include <linux/uaccess.h>
#include <asm/processor.h>

#include "x_sie.h"

struct xsie_scratch {
	u64 nodes[X_SIE_MAX_NODES];
	struct x_sie_results res;
	struct x_sie_state now, cap;
};

static struct xsie_scratch __percpu *xsie_scratch;

int xsie_handlers_init(void)
{
	xsie_scratch = alloc_percpu(struct xsie_scratch);
	return xsie_scratch ? 0 : -ENOMEM;
}

void xsie_handlers_exit(void)
{
	free_percpu(xsie_scratch);
}

static unsigned long *xsie_reg(struct pt_regs *r, unsigned int idx)
{
	switch (idx) {
	case X_SIE_RAX: return &r->ax;
	case X_SIE_RCX: return &r->cx;
	case X_SIE_RDX: return &r->dx;
	case X_SIE_RBX: return &r->bx;
	case X_SIE_RBP: return &r->bp;
	case X_SIE_RSI: return &r->si;
	case X_SIE_RDI: return &r->di;
	case X_SIE_R8: return &r->r8;
	case X_SIE_R9: return &r->r9;
	case X_SIE_R10: return &r->r10;
	case X_SIE_R11: return &r->r11;
	case X_SIE_R12: return &r->r12;
	case X_SIE_R13: return &r->r13;
	case X_SIE_R14: return &r->r14;
	default: return &r->r15;	/* checked at load: never rsp */
	}
}

/* What %gs: adds on this CPU: its per-CPU offset. */
static u64 xsie_gs_base(void)
{
#ifdef CONFIG_SMP
	return __my_cpu_offset;
#else
	return 0;
#endif
}

/*
 * copy_to_kernel_nofault is not exported in 6.1: the same, as one store of
 * 1, 2, 4 or 8 bytes, so other CPUs never see a value half written.
 */
static int xsie_write(u64 addr, u64 val, unsigned int len)
{
	if ((long)addr >= 0 || !__is_canonical_address(addr, boot_cpu_data.x86_virt_bits) ||
	    !__is_canonical_address(addr + len - 1, boot_cpu_data.x86_virt_bits))
		return -EFAULT;	/* user half or non-canonical: never touched */
	pagefault_disable();
	switch (len) {
	case 8:
		__put_kernel_nofault((void *)addr, &val, u64, fault);
		break;
	case 4: {
		u32 v = val;

		__put_kernel_nofault((void *)addr, &v, u32, fault);
		break;
	}
	case 2: {
		u16 v = val;

		__put_kernel_nofault((void *)addr, &v, u16, fault);
		break;
	}
	default: {
		u8 v = val;

		__put_kernel_nofault((void *)addr, &v, u8, fault);
		break;
	}
	}
	pagefault_enable();
	return 0;
fault:
	pagefault_enable();
	return -EFAULT;
}

/*
 * The byte stores from assignment i on that land at consecutive addresses,
 * as one value of 8, 4, 2 or 1 bytes (little-endian): the span wrote them
 * with one instruction.
 */
static unsigned int xsie_store_run(const struct x_sie_prog *p, const struct x_sie_results *r, unsigned int i,
				   u64 *val)
{
	static const unsigned int widths[] = { 8, 4, 2 };
	unsigned int w, k;

	for (w = 0; w < ARRAY_SIZE(widths); w++) {
		unsigned int n = widths[w];

		if (i + n > p->n_assigns)
			continue;
		for (k = 1; k < n; k++)
			if (p->assigns[i + k].dest != X_SIE_DEST_MEM8 || r->addr[i + k] != r->addr[i] + k)
				break;
		if (k < n)
			continue;
		*val = 0;
		for (k = 0; k < n; k++)
			*val |= (r->value[i + k] & 0xff) << (8 * k);
		return n;
	}
	*val = r->value[i] & 0xff;
	return 1;
}

int xsie_update_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct xsie_span *s = container_of(kp, struct xsie_span, probe);
	struct xsie_scratch *sc;
	const struct x_sie_state *cap = NULL;
	bool flags_written = false;
	unsigned long irqs;
	unsigned int i, n;
	u64 v, val;

	if (!READ_ONCE(s->tx->armed))	/* pairs with WRITE_ONCE in xsie_load/xsie_unregister */
		return 0;
	local_irq_save(irqs);
	sc = this_cpu_ptr(xsie_scratch);
	if (s->caps) {
		/* Taken even when unused below: a capture belongs to this run of the span. */
		if (!xsie_capture_take(s->caps, regs, &sc->cap)) {
			/* No capture of this frame: keep the span's own result. */
			atomic64_inc(&s->skipped);
			goto out;
		}
		cap = &sc->cap;
		if ((s->prog.capture_mask & X_SIE_CAPTURE_SWITCHES) &&
		    cap->switches != xsie_switches(current)) {
			/* Maybe on another CPU than the span's per-CPU store. */
			atomic64_inc(&s->skipped);
			goto out;
		}
	}
	/* Compiled behaviour for this task until its transition (x_sie_transition.c). */
	if (!xsie_task_on(s->tx) || !xsie_policy_value(s->tx, s, regs, &v))
		goto out;
	xsie_regs_to_state(regs, &sc->now);
	sc->now.gs_base = xsie_gs_base();
	/*
	 * Every value first, on the state at the probe; then the writes. A read
	 * that faults leaves the span's own result, the compiled value's.
	 */
	if (x_sie_prog_eval(&s->prog, &sc->now, cap, v, sc->nodes, &sc->res)) {
		atomic64_inc(&s->faults);
		goto out;
	}
	x_sie_prog_apply(&s->prog, &sc->res, &sc->now);
	for (i = 0; i < s->prog.n_assigns; i += n) {
		const struct x_sie_assign *a = &s->prog.assigns[i];

		n = 1;
		if (a->dest == X_SIE_DEST_REG) {
			*xsie_reg(regs, a->index) = sc->now.regs[a->index];
		} else if (a->dest == X_SIE_DEST_FLAG) {
			flags_written = true;
		} else {
			n = xsie_store_run(&s->prog, &sc->res, i, &val);
			if (xsie_write(sc->res.addr[i], val, n))
				atomic64_inc(&s->faults);
		}
	}
	if (flags_written)
		regs->flags = sc->now.flags;	/* apply changed only the named bits */
	atomic64_inc(&s->hits);
out:
	local_irq_restore(irqs);
	return 0;
}

int xsie_capture_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct xsie_span *s = container_of(kp, struct xsie_span, capture);

	xsie_capture_put(s->caps, regs, s->prog.capture_mask);
	atomic64_inc(&s->captures);
	return 0;
}

NOKPROBE_SYMBOL(xsie_reg);
NOKPROBE_SYMBOL(xsie_gs_base);
NOKPROBE_SYMBOL(xsie_write);
NOKPROBE_SYMBOL(xsie_store_run);
NOKPROBE_SYMBOL(xsie_update_pre);
NOKPROBE_SYMBOL(xsie_capture_pre);

/*
 * KPROBE_FLAG_OPTIMIZED is set only on the aggregate kprobe the kernel wraps
 * an optimizable probe in (include/linux/kprobes.h: "this flag is only for
 * optimized_kprobe"), never on ours. Ours then sits on the aggregate's list;
 * the aggregate is the list head, the one entry hashed in the kprobe table
 * (a member's hlist is unhashed, or LIST_POISON2 once replaced by the
 * aggregate). A probe not on any list was never prepared for optimization.
 * Called under the module's mutex, so our probe stays registered.
 */
static struct kprobe *xsie_aggregate(struct kprobe *kp)
{
	struct kprobe *found = NULL;
	struct list_head *pos;
	int n = 0;

	rcu_read_lock();
	for (pos = READ_ONCE(kp->list.next); pos != &kp->list && n < 64; pos = READ_ONCE(pos->next), n++) {
		struct kprobe *p = list_entry(pos, struct kprobe, list);
		struct hlist_node **pprev = READ_ONCE(p->hlist.pprev);

		if (pprev && pprev != LIST_POISON2 && p->addr == kp->addr) {
			found = p;
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

u8 xsie_probe_state(struct kprobe *kp)
{
	struct kprobe *ap = xsie_aggregate(kp);

	if (ap)
		return READ_ONCE(ap->flags) & KPROBE_FLAG_OPTIMIZED ? X_SIE_PROBE_OPTIMIZED : X_SIE_PROBE_PENDING;
	return kp->ainsn.boostable ? X_SIE_PROBE_BOOSTED : X_SIE_PROBE_INT3;
}
