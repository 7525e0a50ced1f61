// SPDX-License-Identifier: GPL-2.0
/*
 * Safe transitions (paper §3.6): a transaction's consts switch between the
 * compiled and the new behaviour only where no task mixes the two inside a
 * safe span (SS), the code that consumes values derived from the consts.
 *
 * A task is *inside* while a frame of an SS is on its stack. Monitor kprobes
 * at every SS entry and exit keep a per-task mark and the global count of
 * tasks inside; one stop_machine scan of every task's stack seeds them, so
 * nothing is polled and nothing is missed (self-convergent transition):
 *  - an entry marks the task inside; if no SS frame is below it on the
 *    stack (an outermost entry) and the transition is per-thread, the task
 *    switches to the target behaviour right there;
 *  - an exit with no SS frame below it unmarks the task; when the count
 *    reaches zero every task switches, and the monitors are removed.
 * Stacks are read with the ORC unwinder from the probe's registers, so
 * int3, boosted and jump-optimized probes see the same frames. A stack the
 * unwinder cannot vouch for counts as inside: a transition may then wait
 * for that task to cross an SS, but never completes early.
 */
#include <linux/delay.h>
#include <linux/hash.h>
#include <linux/kprobes.h>
#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/stop_machine.h>
#include <linux/vmalloc.h>
#include <asm/unwind.h>

#include "x_sie.h"

#define XSIE_TASK_BITS 12
#define XSIE_TASK_SLOTS (1u << XSIE_TASK_BITS)
#define XSIE_TASK_WINDOW 32	/* slots probed per lookup: bounded work in handlers */
#define XSIE_MAX_FRAMES 64	/* deeper stacks count as inside (unverified) */

struct xsie_task_mark {
	const struct task_struct *task;	/* NULL: free */
	u8 inside, switched;
};

struct xsie_task_table {
	struct xsie_task_mark e[XSIE_TASK_SLOTS];
};

/* Called with tx->lock held. A lookup scans the whole window, so freeing is a plain clear. */
static struct xsie_task_mark *xsie_mark(struct xsie_tx *tx, const struct task_struct *task, bool create)
{
	unsigned int h = hash_ptr(task, XSIE_TASK_BITS), i;
	struct xsie_task_mark *free = NULL;

	for (i = 0; i < XSIE_TASK_WINDOW; i++) {
		struct xsie_task_mark *m = &tx->tasks->e[(h + i) & (XSIE_TASK_SLOTS - 1)];

		if (m->task == task)
			return m;
		if (!m->task && !free)
			free = m;
	}
	if (!create || !free)
		return NULL;
	free->task = task;
	free->inside = free->switched = 0;
	return free;
}

static bool xsie_in_ss(const struct xsie_tx *tx, unsigned long addr)
{
	u32 i, r;

	for (i = 0; i < tx->n_ss; i++)
		for (r = 0; r < tx->ss[i].n_ranges; r++)
			if (addr >= tx->ss[i].ranges[r][0] && addr < tx->ss[i].ranges[r][1])
				return true;
	return false;
}

/*
 * 1 if a frame of an SS of tx is on the stack, 0 if none, -1 if the stack
 * cannot be read to its end. From a probe, `regs` is the probed state and
 * the walk starts at its caller: the probed instruction itself is not a
 * frame below it. A return address is attributed to its call instruction
 * (addr - 1), so a call ending a range still counts.
 */
static int xsie_stack_inside(const struct xsie_tx *tx, struct task_struct *task, struct pt_regs *regs)
{
	struct unwind_state st;
	unsigned int n = 0;
	unsigned long a = 0;

	for (unwind_start(&st, task, regs, NULL); !unwind_done(&st); unwind_next_frame(&st)) {
		a = unwind_get_return_address(&st);
		if (!a || ++n > XSIE_MAX_FRAMES)
			break;
		if (xsie_in_ss(tx, a - 1))
			return 1;
	}
	if (!unwind_error(&st) && (unwind_done(&st) || !a))
		return 0;
	pr_info_ratelimited("x_sie: cannot unwind %s/%d past frame %u at %pS: counted inside a safe span\n",
			    task->comm, task->pid, n, (void *)a);
	return -1;
}

/* With tx->lock held (or every other CPU stopped). */
static void xsie_switch_all(struct xsie_tx *tx)
{
	WRITE_ONCE(tx->on, tx->target);
	WRITE_ONCE(tx->switching, 0);
	tx->transition_ns = ktime_get_mono_fast_ns() - tx->start_ns;
	if (tx->target)
		WRITE_ONCE(tx->phase, X_SIE_PHASE_ACTIVE);
}

/* A task reached a safe-span entry; deep: an SS frame below it (or unknown). Under tx->lock. */
static void xsie_entered(struct xsie_tx *tx, int deep)
{
	struct xsie_task_mark *mark = xsie_mark(tx, current, true);

	if (!mark) {
		tx->overflow++;	/* untracked: never let the count reach zero */
		return;
	}
	if (!mark->inside) {
		mark->inside = 1;
		tx->inside++;
	}
	if (deep == 0 && tx->transition == X_SIE_TRANS_PER_THREAD && !mark->switched) {
		mark->switched = 1;
		atomic64_inc(&tx->switched);
	}
}

/* A task left its outermost safe span. Under tx->lock. */
static void xsie_left(struct xsie_tx *tx)
{
	struct xsie_task_mark *mark = xsie_mark(tx, current, false);

	if (!mark || !mark->inside)
		return;
	mark->inside = 0;
	if (!mark->switched)
		mark->task = NULL;
	if (--tx->inside == 0 && !tx->overflow)
		xsie_switch_all(tx);
}

/* The pre-handler of every entry and exit monitor. */
static int xsie_monitor_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct xsie_monitor *m = container_of(kp, struct xsie_monitor, kp);
	struct xsie_tx *tx = m->tx;
	unsigned long flags;
	int deep;

	if (!READ_ONCE(tx->monitoring))
		return 0;
	atomic64_inc(m->entry ? &tx->entries : &tx->exits);
	deep = xsie_stack_inside(tx, current, regs);	/* outside the lock: unwinding is slow */
	if (!m->entry && deep)
		return 0;	/* an outer SS frame is still on the stack (or unknown) */
	raw_spin_lock_irqsave(&tx->lock, flags);
	if (tx->switching) {
		if (m->entry)
			xsie_entered(tx, deep);
		else
			xsie_left(tx);
	}
	raw_spin_unlock_irqrestore(&tx->lock, flags);
	return 0;
}

/* Does the current task run the new behaviour? Called by the update handlers. */
bool xsie_task_on(struct xsie_tx *tx)
{
	struct xsie_task_mark *mark;
	unsigned long flags;
	bool on;

	if (!READ_ONCE(tx->switching))
		return READ_ONCE(tx->on);
	raw_spin_lock_irqsave(&tx->lock, flags);
	on = tx->on;
	if (tx->switching && tx->transition == X_SIE_TRANS_PER_THREAD) {
		mark = xsie_mark(tx, current, false);
		if (mark && mark->switched)
			on = tx->target;
	}
	raw_spin_unlock_irqrestore(&tx->lock, flags);
	return on;
}

NOKPROBE_SYMBOL(xsie_mark);
NOKPROBE_SYMBOL(xsie_in_ss);
NOKPROBE_SYMBOL(xsie_stack_inside);
NOKPROBE_SYMBOL(xsie_switch_all);
NOKPROBE_SYMBOL(xsie_entered);
NOKPROBE_SYMBOL(xsie_left);
NOKPROBE_SYMBOL(xsie_monitor_pre);
NOKPROBE_SYMBOL(xsie_task_on);

/*
 * Runs with every other CPU stopped: no task moves and no handler runs, so
 * the scan and the arming of the monitors are one atomic step. Tasks on a
 * CPU now are the stoppers and us, never inside an SS.
 */
static int xsie_seed(void *data)
{
	struct xsie_tx *tx = data;
	struct task_struct *g, *t;
	u64 t0 = ktime_get_ns();

	memset(tx->tasks, 0, sizeof(*tx->tasks));
	tx->inside = tx->seeded = tx->scanned = tx->unverified = tx->overflow = 0;
	rcu_read_lock();
	for_each_process_thread(g, t) {
		struct xsie_task_mark *mark;
		int r;

		if (t == current || READ_ONCE(t->on_cpu))
			continue;
		tx->scanned++;
		r = xsie_stack_inside(tx, t, NULL);
		if (!r)
			continue;
		if (r < 0)
			tx->unverified++;
		tx->seeded++;
		mark = xsie_mark(tx, t, true);
		if (mark)
			mark->inside = 1;
		else
			tx->overflow++;
		tx->inside++;
	}
	rcu_read_unlock();
	tx->scan_ns = ktime_get_ns() - t0;
	WRITE_ONCE(tx->switching, 1);
	WRITE_ONCE(tx->monitoring, 1);
	if (!tx->inside && !tx->overflow)
		xsie_switch_all(tx);
	return 0;
}

static void xsie_monitors_unregister(struct xsie_tx *tx)
{
	struct kprobe **kps;
	u32 i, j, n = 0;

	WRITE_ONCE(tx->monitoring, 0);
	kps = kcalloc(tx->n_ss * (1 + X_SIE_MAX_SS_EXITS), sizeof(*kps), GFP_KERNEL | __GFP_NOFAIL);
	for (i = 0; i < tx->n_ss; i++)
		for (j = 0; j < tx->ss[i].n_monitors; j++)
			if (tx->ss[i].monitors[j].registered) {
				kps[n++] = &tx->ss[i].monitors[j].kp;
				tx->ss[i].monitors[j].registered = false;
			}
	if (n)
		unregister_kprobes(kps, n);	/* waits out running handlers */
	kfree(kps);
}

void xsie_monitors_remove(struct xsie_tx *tx)
{
	mutex_lock(&tx->monitor_lock);
	xsie_monitors_unregister(tx);
	mutex_unlock(&tx->monitor_lock);
}

static int xsie_monitors_register(struct xsie_tx *tx, char *why, size_t whylen)
{
	u32 i, j;
	int ret;

	for (i = 0; i < tx->n_ss; i++)
		for (j = 0; j < tx->ss[i].n_monitors; j++) {
			struct xsie_monitor *m = &tx->ss[i].monitors[j];
			kprobe_opcode_t *addr = m->kp.addr;

			if (m->registered)
				continue;
			/* A kprobe cannot be registered twice: start from a clean one. */
			memset(&m->kp, 0, sizeof(m->kp));
			m->kp.addr = addr;
			m->kp.pre_handler = xsie_monitor_pre;
			ret = register_kprobe(&m->kp);
			if (ret) {
				snprintf(why, whylen, "registering the safe-span %s monitor at 0x%lx failed: %d",
					 m->entry ? "entry" : "exit", (unsigned long)addr, ret);
				return ret;
			}
			m->registered = true;
		}
	return 0;
}

static u32 xsie_monitor_count(struct xsie_tx *tx)
{
	u32 i, j, n = 0;

	for (i = 0; i < tx->n_ss; i++)
		for (j = 0; j < tx->ss[i].n_monitors; j++)
			n += tx->ss[i].monitors[j].registered;
	return n;
}

/* The paper's background monitor: drops the monitors once the switch to the new behaviour is done. */
static void xsie_reap(struct work_struct *w)
{
	struct xsie_tx *tx = container_of(to_delayed_work(w), struct xsie_tx, reaper);

	if (READ_ONCE(tx->switching)) {
		schedule_delayed_work(&tx->reaper, msecs_to_jiffies(10));
		return;
	}
	mutex_lock(&tx->monitor_lock);
	if (READ_ONCE(tx->phase) == X_SIE_PHASE_ACTIVE)
		xsie_monitors_unregister(tx);
	mutex_unlock(&tx->monitor_lock);
}

int xsie_transition_init(struct xsie_tx *tx)
{
	raw_spin_lock_init(&tx->lock);
	mutex_init(&tx->monitor_lock);
	INIT_DELAYED_WORK(&tx->reaper, xsie_reap);
	atomic64_set(&tx->switched, 0);
	atomic64_set(&tx->entries, 0);
	atomic64_set(&tx->exits, 0);
	if (!tx->n_ss)
		return 0;
	tx->tasks = vzalloc(sizeof(*tx->tasks));
	return tx->tasks ? 0 : -ENOMEM;
}

void xsie_transition_free(struct xsie_tx *tx)
{
	vfree(tx->tasks);
}

/*
 * Starts switching every task to `target` (1 new, 0 compiled). Without
 * safe spans (IMMEDIATE), at once. The switch to the new behaviour
 * completes in the background; the caller waits for the way back.
 */
int xsie_transition_start(struct xsie_tx *tx, int target, char *why, size_t whylen)
{
	int ret;

	tx->target = target;
	tx->start_ns = ktime_get_mono_fast_ns();
	tx->transition_ns = 0;
	atomic64_set(&tx->switched, 0);
	WRITE_ONCE(tx->phase, target ? X_SIE_PHASE_SWITCHING : X_SIE_PHASE_REVERTING);
	if (tx->transition == X_SIE_TRANS_IMMEDIATE) {
		xsie_switch_all(tx);
		return 0;
	}
	cancel_delayed_work_sync(&tx->reaper);
	mutex_lock(&tx->monitor_lock);
	ret = xsie_monitors_register(tx, why, whylen);
	tx->monitor_ns = ktime_get_mono_fast_ns() - tx->start_ns;
	if (ret) {
		xsie_monitors_unregister(tx);
		mutex_unlock(&tx->monitor_lock);
		return ret;
	}
	mutex_unlock(&tx->monitor_lock);
	stop_machine(xsie_seed, tx, NULL);
	if (target)
		schedule_delayed_work(&tx->reaper, 0);
	return 0;
}

/* 0 once the transition is complete, -EBUSY if tasks are still inside after timeout_ms. */
int xsie_transition_wait(struct xsie_tx *tx, unsigned int timeout_ms)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(timeout_ms);

	while (READ_ONCE(tx->switching)) {
		if (time_after(jiffies, deadline))
			return -EBUSY;
		usleep_range(500, 1000);
	}
	return 0;
}

/* Stops the transition machinery for good (detach). */
void xsie_transition_cancel(struct xsie_tx *tx)
{
	cancel_delayed_work_sync(&tx->reaper);
	xsie_monitors_remove(tx);
	WRITE_ONCE(tx->switching, 0);
}

void xsie_transition_status(struct xsie_tx *tx, struct x_sie_tx_status *r)
{
	unsigned long flags;

	r->tx_id = tx->id;
	r->phase = READ_ONCE(tx->phase);
	r->transition = tx->transition;
	r->n_ss = tx->n_ss;
	mutex_lock(&tx->monitor_lock);
	r->monitors = xsie_monitor_count(tx);
	mutex_unlock(&tx->monitor_lock);
	raw_spin_lock_irqsave(&tx->lock, flags);
	r->inside = tx->inside;
	r->seeded = tx->seeded;
	r->scanned = tx->scanned;
	r->unverified = tx->unverified;
	r->overflow = tx->overflow;
	r->transition_ns = tx->switching ? 0 : tx->transition_ns;
	raw_spin_unlock_irqrestore(&tx->lock, flags);
	r->switched = atomic64_read(&tx->switched);
	r->entries = atomic64_read(&tx->entries);
	r->exits = atomic64_read(&tx->exits);
	r->scan_ns = tx->scan_ns;
	r->attach_ns = tx->attach_ns;
	r->monitor_ns = tx->monitor_ns;
}
