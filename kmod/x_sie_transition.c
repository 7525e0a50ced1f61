// SPDX-License-Identifier: GPL-2.0
/*
 * Safe transitions (paper §3.6): a transaction's consts switch between the
 * compiled and the new behaviour only where no task mixes the two inside a
 * safe span (SS), the code that consumes values derived from the consts.
 *
 * What the module guarantees (the invariant):
 *  1. Each run of a critical span leaves the state the compiled code would
 *     leave with V0 or with V' (the proven update, x_sie_handlers.c).
 *  2. A task changes behaviour only while no frame of any SS of the
 *     transaction is on its stack: per thread at an outermost SS entry,
 *     globally when no task is inside.
 *  3. The global switch happens only when the count of tasks inside is zero
 *     AND no monitor hit was lost since the last stop_machine scan: a hit
 *     the kernel missed (kprobe nmissed: the site ran inside another kprobe
 *     handler) or one whose handler could not take the lock (an NMI on a CPU
 *     holding it) makes the count untrustworthy, so the transition waits for
 *     a rescan instead. A transition may wait; it never completes early.
 * What it does not guarantee: that every critical span of one SS execution
 * uses the same V'. A policy picks a value per critical-span run (it should
 * derive it from the object at hand, not from time); a run that sets no
 * value or one outside the proven range, a dual span whose capture was
 * lost, and an update hit the kernel missed keep V0 at that one span. Each
 * is counted per span in `kx status` (policy_unset, policy_rejected,
 * policy_busy, skipped, missed).
 *
 * A task is *inside* while a frame of an SS is on its stack. Monitor
 * kprobes at every SS entry and exit keep a per-task mark and the count of
 * tasks inside; a stop_machine scan of every task's stack, idle tasks
 * included, seeds them in the same step that arms the monitors:
 *  - an entry marks the task inside; if no SS frame is below it on the
 *    stack (an outermost entry) and the transition is per-thread, the task
 *    runs the target behaviour until it leaves;
 *  - an exit with no SS frame below it unmarks the task; when the count
 *    reaches zero every task switches, and the monitors are removed.
 * While the transition waits, a worker rescans (stop_machine again) at most
 * once a second, and soon after a lost hit: marks of tasks that died, left
 * unseen or whose stacks were unreadable are rebuilt from their stacks, the
 * way livepatch retries its transition.
 * Stacks are read with the ORC unwinder from the probe's registers, so
 * int3, boosted and jump-optimized probes see the same frames. A stack the
 * unwinder cannot vouch for to its end counts as inside.
 *
 * Phases: SWITCHING (to the new values) -> ACTIVE -> REVERTING -> detached.
 * `switching` is set by the scan and cleared by the switch; `phase` only
 * changes once the monitors of a transition are registered, so a failed
 * start leaves the transaction as it was.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/hash.h>
#include <linux/kprobes.h>
#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task_stack.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/stop_machine.h>
#include <linux/vmalloc.h>
#include <asm/unwind.h>

#include "x_sie.h"

#define XSIE_TASK_BITS 12
#define XSIE_TASK_SLOTS (1u << XSIE_TASK_BITS)
#define XSIE_TASK_WINDOW 32	/* slots probed per lookup: bounded work in handlers */
#define XSIE_MAX_FRAMES 64	/* deeper stacks count as inside (unverified) */
#define XSIE_RESCAN_NS (1000 * NSEC_PER_MSEC)	/* while waiting, rescan this often */
#define XSIE_RESCAN_SOON_NS (100 * NSEC_PER_MSEC)	/* after a lost hit, no sooner than this */

/* A task inside a safe span; a slot is free when task is NULL. */
struct xsie_task_mark {
	const struct task_struct *task;
	pid_t pid;		/* for kx status: the task may be gone by then */
	u8 switched;		/* per-thread: runs the target behaviour in this SS execution */
	u8 seen;		/* found inside by the scan in progress */
};

struct xsie_task_table {
	struct xsie_task_mark e[XSIE_TASK_SLOTS];
};

/*
 * tx->lock is taken by monitor handlers, which may run in NMI context (int3
 * handlers do), and by the stop_machine scan. A handler interrupting its own
 * CPU's holder would spin forever: this per-CPU flag lets it give up instead
 * (the hit then counts as lost, and completion waits for a rescan). Only its
 * own CPU writes it, with interrupts off.
 */
static DEFINE_PER_CPU(int, xsie_lock_held);

static bool xsie_lock(struct xsie_tx *tx)
{
	lockdep_assert_irqs_disabled();
	if (this_cpu_read(xsie_lock_held))
		return false;
	this_cpu_write(xsie_lock_held, 1);
	raw_spin_lock(&tx->lock);
	return true;
}

static void xsie_unlock(struct xsie_tx *tx)
{
	raw_spin_unlock(&tx->lock);
	this_cpu_write(xsie_lock_held, 0);
}

/*
 * The mark of `task`, created if asked. Under tx->lock; a task's own mark is
 * also read lock-free by that task (xsie_task_on): only the task itself, or
 * the scan while it is stopped, changes it.
 */
static struct xsie_task_mark *xsie_mark(struct xsie_tx *tx, const struct task_struct *task, bool create)
{
	unsigned int h = hash_ptr(task, XSIE_TASK_BITS), i;
	struct xsie_task_mark *free = NULL;

	for (i = 0; i < XSIE_TASK_WINDOW; i++) {
		struct xsie_task_mark *m = &tx->tasks->e[(h + i) & (XSIE_TASK_SLOTS - 1)];
		const struct task_struct *t = READ_ONCE(m->task);

		if (t == task)
			return m;
		if (!t && !free)
			free = m;
	}
	if (!create || !free)
		return NULL;
	free->pid = task->pid;
	free->switched = 0;
	free->seen = 0;
	WRITE_ONCE(free->task, task);	/* pairs with READ_ONCE in lock-free lookups */
	return free;
}

static void xsie_unmark(struct xsie_task_mark *m)
{
	WRITE_ONCE(m->switched, 0);
	WRITE_ONCE(m->task, NULL);	/* pairs with READ_ONCE in xsie_mark */
}

/* Is addr in one of the sorted, merged ranges of every safe span? */
static bool xsie_in_ss(const struct xsie_tx *tx, unsigned long addr)
{
	u32 lo = 0, hi = tx->n_ranges;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (addr < tx->ranges[mid][0])
			hi = mid;
		else if (addr >= tx->ranges[mid][1])
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/*
 * 1 if a frame of an SS of tx is on the stack, 0 if none, -1 if the stack
 * cannot be read to its end. From a probe, `regs` is the probed state and
 * the ORC unwinder starts at its caller: the probed instruction itself is
 * not a frame below it. A return address is attributed to its call
 * instruction (addr - 1), so a call ending a range still counts; an
 * interrupted frame's address is exact, and counts with its predecessor
 * too (never completing early is what matters). A return address outside
 * kernel text (the unwinder says 0) ends the walk only as a user task's
 * user-mode registers; anywhere else it cannot be vouched for.
 */
static int xsie_stack_inside(const struct xsie_tx *tx, struct task_struct *task, struct pt_regs *regs)
{
	struct unwind_state st;
	unsigned int n = 0;

	for (unwind_start(&st, task, regs, NULL); !unwind_done(&st); unwind_next_frame(&st)) {
		unsigned long a = unwind_get_return_address(&st);

		/* The last frame of a user task is its user-mode registers: the end. */
		if (!a && st.regs && user_mode(st.regs))
			return 0;
		if (!a || ++n > XSIE_MAX_FRAMES)
			return -1;
		if (xsie_in_ss(tx, a - 1) || (st.signal && xsie_in_ss(tx, a)))
			return 1;
	}
	return unwind_error(&st) ? -1 : 0;
}

/* Hits lost so far: the kernel's misses on every monitor, and our own. */
static u64 xsie_missed(struct xsie_tx *tx)
{
	u64 n = atomic64_read(&tx->lost);
	u32 i, j;

	for (i = 0; i < tx->n_ss; i++)
		for (j = 0; j < tx->ss[i].n_monitors; j++)
			n += READ_ONCE(tx->ss[i].monitors[j].kp.nmissed);
	return n;
}

/* Under tx->lock (or every other CPU stopped). */
static void xsie_switch_all(struct xsie_tx *tx)
{
	WRITE_ONCE(tx->on, tx->target);	/* pairs with READ_ONCE in xsie_task_on */
	WRITE_ONCE(tx->switching, 0);	/* pairs with READ_ONCE in xsie_task_on and the waiters */
	tx->transition_ns = ktime_get_mono_fast_ns() - tx->start_ns;
	if (tx->target)
		WRITE_ONCE(tx->phase, X_SIE_PHASE_ACTIVE);
}

/* Nobody left inside: switch, unless a lost hit makes the count doubtful. Under tx->lock. */
static void xsie_try_complete(struct xsie_tx *tx)
{
	if (tx->inside || tx->overflow)
		return;
	if (xsie_missed(tx) != tx->missed_base) {
		WRITE_ONCE(tx->rescan_wanted, true);	/* read by the reaper */
		return;
	}
	xsie_switch_all(tx);
}

/* A task reached a safe-span entry; deep: an SS frame below it (or unknown). Under tx->lock. */
static void xsie_entered(struct xsie_tx *tx, int deep)
{
	struct xsie_task_mark *mark = xsie_mark(tx, current, false);

	if (!mark) {
		mark = xsie_mark(tx, current, true);
		if (!mark) {
			tx->overflow++;	/* untracked: completion waits for a rescan */
			WRITE_ONCE(tx->rescan_wanted, true);
			return;
		}
		tx->inside++;
	}
	if (deep == 0 && tx->transition == X_SIE_TRANS_PER_THREAD && !mark->switched) {
		WRITE_ONCE(mark->switched, 1);	/* read lock-free by this task (xsie_task_on) */
		atomic64_inc(&tx->switched);
	}
}

/* A task left its outermost safe span. Under tx->lock. */
static void xsie_left(struct xsie_tx *tx)
{
	struct xsie_task_mark *mark = xsie_mark(tx, current, false);

	if (!mark)
		return;
	xsie_unmark(mark);
	tx->inside--;
	xsie_try_complete(tx);
}

/* The pre-handler of every entry and exit monitor. */
static int xsie_monitor_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct xsie_monitor *m = container_of(kp, struct xsie_monitor, kp);
	struct xsie_tx *tx = m->tx;
	unsigned long flags;
	int deep;

	if (!READ_ONCE(tx->monitoring))	/* set by the scan that seeds the marks */
		return 0;
	/* An optimized probe runs with interrupts on: an IRQ here would lose its own SS hits. */
	local_irq_save(flags);
	atomic64_inc(m->entry ? &tx->entries : &tx->exits);
	deep = xsie_stack_inside(tx, current, regs);	/* outside the lock: unwinding is slow */
	if (!m->entry && deep)
		goto out;	/* an outer SS frame is still on the stack (or unknown) */
	if (!xsie_lock(tx)) {
		atomic64_inc(&tx->lost);
		goto out;
	}
	if (tx->switching) {
		if (m->entry)
			xsie_entered(tx, deep);
		else
			xsie_left(tx);
	}
	xsie_unlock(tx);
out:
	local_irq_restore(flags);
	return 0;
}

/*
 * Does the current task run the new behaviour? Called by the update
 * handlers, which run inside a safe span: while the transition is under way
 * the task's own mark says (lock-free: see xsie_mark).
 */
bool xsie_task_on(struct xsie_tx *tx)
{
	struct xsie_task_mark *mark;

	if (!READ_ONCE(tx->switching))	/* pairs with WRITE_ONCE in xsie_switch_all */
		return READ_ONCE(tx->on);
	if (tx->transition == X_SIE_TRANS_PER_THREAD) {
		mark = xsie_mark(tx, current, false);
		if (mark && READ_ONCE(mark->switched))
			return READ_ONCE(tx->target);
	}
	return READ_ONCE(tx->on);
}

NOKPROBE_SYMBOL(xsie_lock);
NOKPROBE_SYMBOL(xsie_unlock);
NOKPROBE_SYMBOL(xsie_mark);
NOKPROBE_SYMBOL(xsie_unmark);
NOKPROBE_SYMBOL(xsie_in_ss);
NOKPROBE_SYMBOL(xsie_stack_inside);
NOKPROBE_SYMBOL(xsie_missed);
NOKPROBE_SYMBOL(xsie_switch_all);
NOKPROBE_SYMBOL(xsie_try_complete);
NOKPROBE_SYMBOL(xsie_entered);
NOKPROBE_SYMBOL(xsie_left);
NOKPROBE_SYMBOL(xsie_monitor_pre);
NOKPROBE_SYMBOL(xsie_task_on);

/* One task of the scan: marks it inside (keeping a per-thread switch it made) or clears it. */
static void xsie_scan_task(struct xsie_tx *tx, struct task_struct *t)
{
	struct xsie_task_mark *mark;
	int r;

	/* The stoppers, us among them, are never inside a safe span. */
	if (t == current || READ_ONCE(t->on_cpu))
		return;
	/*
	 * A dead task's stack is freed (zombies, exited thread-group leaders):
	 * it will never run kernel code again. Every other CPU is stopped, so
	 * no stack is freed under us.
	 */
	if (!task_stack_page(t) || !refcount_read(&t->stack_refcount))
		return;
	tx->scanned++;
	r = xsie_stack_inside(tx, t, NULL);
	mark = xsie_mark(tx, t, r != 0);
	if (!r) {
		if (mark)
			xsie_unmark(mark);
		return;
	}
	if (r < 0) {
		tx->unverified++;
		tx->unverified_pid = t->pid;
	}
	tx->inside++;
	if (mark)
		mark->seen = 1;
	else
		tx->overflow++;
}

/*
 * Runs with every other CPU stopped and interrupts off: no task moves and
 * no handler runs but in NMI, so the scan and the arming of the monitors
 * are one atomic step. Marks of tasks no longer inside, or no longer alive,
 * are dropped; a per-thread switch of a task still inside is kept.
 */
static int xsie_scan(void *data)
{
	struct xsie_tx *tx = data;
	struct task_struct *g, *t;
	u64 t0 = ktime_get_ns();
	int cpu;
	u32 i;

	/* Nothing holds it on a stopper's CPU: the stopper preempted no handler. */
	if (WARN_ON_ONCE(!xsie_lock(tx)))
		return 0;
	/* At the start: a hit lost during the scan forces another one. */
	tx->missed_base = xsie_missed(tx);
	tx->inside = tx->scanned = tx->unverified = tx->overflow = 0;
	tx->unverified_pid = 0;
	for (i = 0; i < XSIE_TASK_SLOTS; i++)
		tx->tasks->e[i].seen = 0;
	rcu_read_lock();
	for_each_process_thread(g, t)
		xsie_scan_task(tx, t);
	rcu_read_unlock();
	for_each_possible_cpu(cpu) {
		t = xsie_idle_task(cpu);
		if (t)
			xsie_scan_task(tx, t);
	}
	for (i = 0; i < XSIE_TASK_SLOTS; i++)
		if (tx->tasks->e[i].task && !tx->tasks->e[i].seen)
			xsie_unmark(&tx->tasks->e[i]);
	tx->seeded = tx->inside;
	WRITE_ONCE(tx->rescan_wanted, false);
	tx->last_scan_ns = ktime_get_ns();
	tx->scan_ns = tx->last_scan_ns - t0;
	WRITE_ONCE(tx->switching, 1);
	WRITE_ONCE(tx->monitoring, 1);	/* pairs with READ_ONCE in xsie_monitor_pre */
	xsie_try_complete(tx);
	xsie_unlock(tx);
	return 0;
}

/* The scan, and its one log line (never printed with every CPU stopped). Under monitor_lock. */
static void xsie_scan_all(struct xsie_tx *tx)
{
	stop_machine(xsie_scan, tx, NULL);
	if (tx->unverified)
		pr_info_ratelimited("transaction %u: %u stack(s) could not be unwound (pid %d among them): counted inside a safe span\n",
				    tx->id, tx->unverified, tx->unverified_pid);
}

static void xsie_monitors_unregister(struct xsie_tx *tx)
{
	u32 i, j, n = 0;

	WRITE_ONCE(tx->monitoring, 0);	/* pairs with READ_ONCE in xsie_monitor_pre */
	for (i = 0; i < tx->n_ss; i++)
		for (j = 0; j < tx->ss[i].n_monitors; j++)
			if (tx->ss[i].monitors[j].registered) {
				tx->sites[n] = &tx->ss[i].monitors[j].site;
				tx->kps[n++] = &tx->ss[i].monitors[j].kp;
				WRITE_ONCE(tx->ss[i].monitors[j].registered, false);
			}
	if (n) {
		unregister_kprobes(tx->kps, n);	/* waits out running handlers */
		xsie_wait_intact(tx->kps, tx->sites, n);
	}
}

static int xsie_monitors_register(struct xsie_tx *tx, char *why, size_t whylen)
{
	u32 i, j;
	int ret;

	for (i = 0; i < tx->n_ss; i++)
		for (j = 0; j < tx->ss[i].n_monitors; j++) {
			struct xsie_monitor *m = &tx->ss[i].monitors[j];

			if (m->registered)
				continue;
			ret = xsie_register_again(&m->kp, xsie_monitor_pre);
			if (ret) {
				snprintf(why, whylen, "registering the safe-span %s monitor at 0x%lx failed: %d",
					 m->entry ? "entry" : "exit", (unsigned long)m->kp.addr, ret);
				return ret;
			}
			WRITE_ONCE(m->registered, true);	/* read by xsie_transition_status */
		}
	return 0;
}

static u32 xsie_monitor_count(struct xsie_tx *tx)
{
	u32 i, j, n = 0;

	for (i = 0; i < tx->n_ss; i++)
		for (j = 0; j < tx->ss[i].n_monitors; j++)
			n += READ_ONCE(tx->ss[i].monitors[j].registered);
	return n;
}

/*
 * The paper's background monitor: while the transition waits, rescans (at
 * most once a second, or soon after a lost hit); once the switch to the new
 * behaviour is done, drops the monitors.
 */
static void xsie_reap(struct work_struct *w)
{
	struct xsie_tx *tx = container_of(to_delayed_work(w), struct xsie_tx, reaper);

	mutex_lock(&tx->monitor_lock);
	if (READ_ONCE(tx->switching)) {
		u64 since = ktime_get_ns() - tx->last_scan_ns;

		if (since >= XSIE_RESCAN_NS || (READ_ONCE(tx->rescan_wanted) && since >= XSIE_RESCAN_SOON_NS)) {
			tx->rescans++;
			xsie_scan_all(tx);
		}
		mutex_unlock(&tx->monitor_lock);
		schedule_delayed_work(&tx->reaper, msecs_to_jiffies(10));
		return;
	}
	if (READ_ONCE(tx->phase) == X_SIE_PHASE_ACTIVE) {
		xsie_monitors_unregister(tx);
		xsie_static_apply(tx);	/* every task runs V' now, and no monitor sits on a patched site */
	}
	mutex_unlock(&tx->monitor_lock);
}

static int xsie_range_cmp(const void *a, const void *b)
{
	const u64 *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Every safe span's ranges in one sorted array without overlaps: a binary search per frame. */
static int xsie_ranges_init(struct xsie_tx *tx, const struct x_sie_ss *ss)
{
	u32 i, j, n = 0;

	for (i = 0; i < tx->n_ss; i++)
		n += ss[i].n_ranges;
	tx->ranges = kvcalloc(max(n, 1u), sizeof(*tx->ranges), GFP_KERNEL);
	if (!tx->ranges)
		return -ENOMEM;
	for (i = 0; i < tx->n_ss; i++)
		for (j = 0; j < ss[i].n_ranges; j++) {
			tx->ranges[tx->n_ranges][0] = ss[i].ranges[j][0];
			tx->ranges[tx->n_ranges][1] = ss[i].ranges[j][1];
			tx->n_ranges++;
		}
	sort(tx->ranges, tx->n_ranges, sizeof(*tx->ranges), xsie_range_cmp, NULL);
	for (i = 1, n = tx->n_ranges ? 1 : 0; i < tx->n_ranges; i++) {
		if (tx->ranges[i][0] <= tx->ranges[n - 1][1]) {
			tx->ranges[n - 1][1] = max(tx->ranges[n - 1][1], tx->ranges[i][1]);
		} else {
			tx->ranges[n][0] = tx->ranges[i][0];
			tx->ranges[n][1] = tx->ranges[i][1];
			n++;
		}
	}
	tx->n_ranges = n;
	return 0;
}

int xsie_transition_init(struct xsie_tx *tx, const struct x_sie_ss *ss)
{
	raw_spin_lock_init(&tx->lock);
	mutex_init(&tx->monitor_lock);
	INIT_DELAYED_WORK(&tx->reaper, xsie_reap);
	atomic64_set(&tx->lost, 0);
	atomic64_set(&tx->switched, 0);
	atomic64_set(&tx->entries, 0);
	atomic64_set(&tx->exits, 0);
	if (!tx->n_ss)
		return 0;
	if (xsie_should_fail() || xsie_ranges_init(tx, ss))
		return -ENOMEM;
	tx->tasks = vzalloc(sizeof(*tx->tasks));
	return tx->tasks ? 0 : -ENOMEM;
}

void xsie_transition_free(struct xsie_tx *tx)
{
	vfree(tx->tasks);
	kvfree(tx->ranges);
}

/*
 * Starts switching every task to `target` (1 new, 0 compiled). Without safe
 * spans (IMMEDIATE), at once. Otherwise the monitors are registered first;
 * if that fails nothing changes (the phase neither). The switch completes
 * in the background; callers wait with xsie_transition_wait.
 */
int xsie_transition_start(struct xsie_tx *tx, int target, char *why, size_t whylen)
{
	u64 t0 = ktime_get_mono_fast_ns();
	int ret;

	cancel_delayed_work_sync(&tx->reaper);
	mutex_lock(&tx->monitor_lock);
	/* Back to the compiled immediates, update probes on, before anything switches back. */
	ret = target ? 0 : xsie_static_restore(tx, why, whylen);
	if (ret) {
		mutex_unlock(&tx->monitor_lock);
		return ret;
	}
	if (tx->transition == X_SIE_TRANS_IMMEDIATE) {
		tx->target = target;
		tx->start_ns = t0;
		WRITE_ONCE(tx->phase, target ? X_SIE_PHASE_SWITCHING : X_SIE_PHASE_REVERTING);
		xsie_switch_all(tx);
		mutex_unlock(&tx->monitor_lock);
		if (target)
			schedule_delayed_work(&tx->reaper, 0);	/* the static path */
		return 0;
	}
	ret = xsie_monitors_register(tx, why, whylen);
	if (ret) {
		xsie_monitors_unregister(tx);
		mutex_unlock(&tx->monitor_lock);
		return ret;
	}
	tx->target = target;
	tx->start_ns = t0;
	tx->monitor_ns = ktime_get_mono_fast_ns() - t0;
	tx->transition_ns = 0;
	tx->rescans = 0;
	atomic64_set(&tx->switched, 0);
	WRITE_ONCE(tx->phase, target ? X_SIE_PHASE_SWITCHING : X_SIE_PHASE_REVERTING);
	xsie_scan_all(tx);
	mutex_unlock(&tx->monitor_lock);
	schedule_delayed_work(&tx->reaper, 0);
	return 0;
}

/*
 * 0 once the transition is complete, -EBUSY if it is not after timeout_ms,
 * -EINTR on a fatal signal. Sleeps killable, holding no lock.
 */
int xsie_transition_wait(struct xsie_tx *tx, unsigned int timeout_ms)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(timeout_ms);

	while (READ_ONCE(tx->switching)) {	/* pairs with WRITE_ONCE in xsie_switch_all */
		if (fatal_signal_pending(current))
			return -EINTR;
		if (time_after(jiffies, deadline))
			return -EBUSY;
		usleep_range_state(500, 1000, TASK_KILLABLE);
	}
	return 0;
}

/*
 * A forced unload: patched immediates back (update probes on again) before
 * the detach; on failure nothing changes. The reaper only has work while
 * switching, which leaves nothing patched.
 */
int xsie_transition_unpatch(struct xsie_tx *tx, char *why, size_t whylen)
{
	int ret;

	cancel_delayed_work_sync(&tx->reaper);
	mutex_lock(&tx->monitor_lock);
	ret = xsie_static_restore(tx, why, whylen);
	mutex_unlock(&tx->monitor_lock);
	if (READ_ONCE(tx->switching))
		schedule_delayed_work(&tx->reaper, 0);
	return ret;
}

/* Stops the transition machinery for good (detach). */
void xsie_transition_cancel(struct xsie_tx *tx)
{
	char why[X_SIE_ERROR_LEN];

	cancel_delayed_work_sync(&tx->reaper);
	mutex_lock(&tx->monitor_lock);
	xsie_monitors_unregister(tx);
	/* Reached patched only on rmmod -f: the kernel keeps V' there if this fails. */
	if (xsie_static_restore(tx, why, sizeof(why)))
		pr_err("transaction %u: %s\n", tx->id, why);
	mutex_unlock(&tx->monitor_lock);
	WRITE_ONCE(tx->switching, 0);
}

/*
 * Without tx->lock: a status must never wait for a handler or a scan, nor
 * be interrupted by an NMI handler wanting the lock. Counters may be read a
 * moment apart.
 */
void xsie_transition_status(struct xsie_tx *tx, struct x_sie_tx_status *r)
{
	u32 i;

	r->tx_id = tx->id;
	r->phase = READ_ONCE(tx->phase);
	r->transition = tx->transition;
	r->n_ss = tx->n_ss;
	r->monitors = xsie_monitor_count(tx);
	r->inside = READ_ONCE(tx->inside);
	r->seeded = READ_ONCE(tx->seeded);
	r->scanned = READ_ONCE(tx->scanned);
	r->unverified = READ_ONCE(tx->unverified);
	r->overflow = READ_ONCE(tx->overflow);
	r->rescans = READ_ONCE(tx->rescans);
	r->transition_ns = READ_ONCE(tx->switching) ? 0 : READ_ONCE(tx->transition_ns);
	r->lost = tx->n_ss && READ_ONCE(tx->switching) ? xsie_missed(tx) - READ_ONCE(tx->missed_base) : 0;
	r->n_waiting = 0;
	for (i = 0; tx->tasks && i < XSIE_TASK_SLOTS && r->n_waiting < X_SIE_WAIT_PIDS; i++)
		if (READ_ONCE(tx->tasks->e[i].task))
			r->waiting[r->n_waiting++] = READ_ONCE(tx->tasks->e[i].pid);
	r->switched = atomic64_read(&tx->switched);
	r->entries = atomic64_read(&tx->entries);
	r->exits = atomic64_read(&tx->exits);
	r->scan_ns = READ_ONCE(tx->scan_ns);
	r->attach_ns = tx->attach_ns;
	r->monitor_ns = READ_ONCE(tx->monitor_ns);
}
