// SPDX-License-Identifier: GPL-2.0
/*
 * Per-task captures of dual-location spans (paper §3.4.2, Figure 4c): the
 * capture probe at the span's start saves the inputs the span destroys; the
 * update probe at its end takes them back.
 *
 * Between the two the task may be preempted or migrate, so captures are keyed
 * by task, not CPU. An interrupt taken inside the span may run the same span
 * on the same task, so the key also holds the stack pointer: a nested run is
 * deeper on the stack or on another stack, and a span moves no stack pointer
 * (user space refuses spans that do). The interrupt context level cannot be
 * part of the key: an int3 probe runs its handler as an NMI, a jump-optimized
 * one does not.
 * The table is small and fixed: a capture that finds no slot evicts the
 * oldest of its probe window, and a capture older than XSIE_CAP_TTL is
 * stale. Either way the update probe then finds nothing and leaves the
 * span's original result (the old value) in place, which is always safe.
 * A capture is consumed by the update that uses it.
 */
#include <linux/hash.h>
#include <linux/jiffies.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "x_sie.h"

#define XSIE_CAP_BITS 6
#define XSIE_CAP_SLOTS (1u << XSIE_CAP_BITS)
#define XSIE_CAP_WINDOW 8	/* slots probed per lookup: bounded work */
#define XSIE_CAP_TTL HZ

struct xsie_cap_entry {
	const struct task_struct *task;	/* NULL: free */
	unsigned long sp;
	unsigned long stamp;		/* jiffies at capture */
	struct x_sie_state st;
};

struct xsie_capture_table {
	raw_spinlock_t lock;
	struct xsie_cap_entry e[XSIE_CAP_SLOTS];
};

struct xsie_capture_table *xsie_capture_alloc(void)
{
	struct xsie_capture_table *t = kzalloc(sizeof(*t), GFP_KERNEL);

	if (t)
		raw_spin_lock_init(&t->lock);
	return t;
}

void xsie_capture_free(struct xsie_capture_table *t)
{
	kfree(t);
}

static bool xsie_cap_match(const struct xsie_cap_entry *e, const struct task_struct *task, unsigned long sp)
{
	return e->task == task && e->sp == sp;
}

/*
 * Handlers never nest on one CPU (kprobes counts a probe hit inside a
 * handler as missed), so the lock is never taken recursively, even from NMI.
 */
void xsie_capture_put(struct xsie_capture_table *t, const struct pt_regs *regs, u32 mask)
{
	const struct task_struct *task = current;
	unsigned int h = hash_ptr(task, XSIE_CAP_BITS), i, r;
	struct xsie_cap_entry *slot = NULL, *free = NULL, *oldest = NULL, *e;
	unsigned long flags;

	raw_spin_lock_irqsave(&t->lock, flags);
	for (i = 0; i < XSIE_CAP_WINDOW; i++) {
		e = &t->e[(h + i) & (XSIE_CAP_SLOTS - 1)];
		if (xsie_cap_match(e, task, regs->sp)) {
			slot = e;
			break;
		}
		if (!e->task) {
			if (!free)
				free = e;
		} else if (!oldest || time_before(e->stamp, oldest->stamp)) {
			oldest = e;
		}
	}
	if (!slot)
		slot = free ? free : oldest;
	slot->task = task;
	slot->sp = regs->sp;
	slot->stamp = jiffies;
	for (r = 0; r < X_SIE_NR_REGS; r++)
		slot->st.regs[r] = 0;
	slot->st.flags = 0;
	slot->st.switches = mask & X_SIE_CAPTURE_SWITCHES ? xsie_switches(task) : 0;
	if (mask) {
		struct x_sie_state all;

		xsie_regs_to_state(regs, &all);
		for (r = 0; r < X_SIE_NR_REGS; r++)
			if (mask & (1u << r))
				slot->st.regs[r] = all.regs[r];
		if (mask & X_SIE_CAPTURE_FLAGS)
			slot->st.flags = all.flags;
	}
	raw_spin_unlock_irqrestore(&t->lock, flags);
}

bool xsie_capture_take(struct xsie_capture_table *t, const struct pt_regs *regs, struct x_sie_state *out)
{
	const struct task_struct *task = current;
	unsigned int h = hash_ptr(task, XSIE_CAP_BITS), i;
	unsigned long flags;
	bool found = false;

	raw_spin_lock_irqsave(&t->lock, flags);
	for (i = 0; i < XSIE_CAP_WINDOW; i++) {
		struct xsie_cap_entry *e = &t->e[(h + i) & (XSIE_CAP_SLOTS - 1)];

		if (!xsie_cap_match(e, task, regs->sp))
			continue;
		if (time_before(jiffies, e->stamp + XSIE_CAP_TTL)) {
			*out = e->st;
			found = true;
		}
		e->task = NULL;	/* consumed, or stale */
		break;
	}
	raw_spin_unlock_irqrestore(&t->lock, flags);
	return found;
}

NOKPROBE_SYMBOL(xsie_cap_match);
NOKPROBE_SYMBOL(xsie_capture_put);
NOKPROBE_SYMBOL(xsie_capture_take);
