/* SPDX-License-Identifier: GPL-2.0 */
/* x-sie.ko internals: transactions, spans and their kprobes. */
#ifndef X_SIE_H
#define X_SIE_H

#include <linux/atomic.h>
#include <linux/kprobes.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include "x_sie_uapi.h"
#include "x_sie_update.h"

struct bpf_map;
struct bpf_prog;
struct task_struct;
struct xsie_capture_table;
struct xsie_task_table;
struct xsie_tx;

/* A const of a transaction: its value, or the policy that picks it. */
struct xsie_const {
	struct x_sie_const req;		/* as loaded (fds meaningless after load) */
	struct bpf_prog *prog;		/* NULL: req.value */
	struct bpf_map *slot;		/* the policy's x_sie_slot map */
};

/* A monitor kprobe of a safe span: its entry or one of its exits. */
struct xsie_monitor {
	struct kprobe kp;
	struct xsie_tx *tx;
	struct x_sie_site site;		/* the bytes it sits on */
	bool entry, registered;
};

struct xsie_ss {
	u32 const_index, n_monitors;
	struct xsie_monitor monitors[1 + X_SIE_MAX_SS_EXITS];
};

/* One critical span of one const: its update probe and, if dual, its capture probe. */
struct xsie_span {
	struct kprobe probe;
	struct kprobe capture;
	struct x_sie_site probe_site, capture_site;	/* the bytes they sit on */
	struct xsie_tx *tx;
	struct xsie_capture_table *caps;	/* dual spans only */
	u32 index, const_index, kind;
	bool probe_registered, capture_registered;
	atomic64_t hits, skipped, captures, faults;
	atomic64_t policy_runs, policy_unset, policy_rejected, policy_busy;
	char label[X_SIE_LABEL_LEN];
	struct x_sie_prog prog;			/* checked at load */
	struct x_sie_patch patch;		/* the static path, if offered (len != 0) */
	bool patched;				/* the live immediate is patch.new_bytes' */
};

struct xsie_tx {
	struct list_head node;
	u32 id;
	/*
	 * Handlers apply updates only while armed: every span of the transaction
	 * starts and stops at one store, after all its probes are registered and
	 * before any is unregistered.
	 */
	int armed;
	bool unloading;			/* an unload owns it (under xsie_lock) */
	u32 n_consts, n_spans, n_ss;
	struct xsie_const *consts;
	struct xsie_span *spans;
	struct xsie_ss *ss;
	struct kprobe **kps;		/* room to unregister every probe in one batch */
	const struct x_sie_site **sites;	/* and the sites they sat on */

	/*
	 * Transitions (x_sie_transition.c). `on` is the behaviour every task
	 * runs (0 compiled, 1 new); while `switching`, tasks move to `target`:
	 * per thread at a clean safe-span entry, all at once when no task is
	 * inside a safe span and no monitor hit was lost since the last scan.
	 */
	u32 transition;			/* enum x_sie_transition */
	u32 phase;			/* enum x_sie_phase */
	int on, target, switching, monitoring;
	u64 (*ranges)[2];		/* every safe span's code, sorted and merged */
	u32 n_ranges;
	raw_spinlock_t lock;		/* inside, overflow, the task table, the switch itself */
	struct xsie_task_table *tasks;
	u32 inside, seeded, scanned, unverified, overflow, rescans;
	u64 missed_base;		/* the monitors' nmissed and `lost` at the last scan */
	atomic64_t lost;		/* monitor hits whose handler could not take the lock */
	bool rescan_wanted;
	u64 last_scan_ns;
	int unverified_pid;		/* one stack the last scan could not unwind, for the log */
	atomic64_t switched, entries, exits;
	u64 start_ns, attach_ns, monitor_ns, scan_ns, transition_ns;
	struct mutex monitor_lock;	/* registering/unregistering monitors, scans */
	struct delayed_work reaper;	/* rescans while switching, removes the monitors once done */
};

/* x_sie_main.c: test-only fault injection (the fail_nth parameter). */
bool xsie_should_fail(void);

/* x_sie_syms.c: kernel symbols modules are not given. */
int xsie_syms_init(void);
extern int __percpu *xsie_bpf_prog_active;
struct task_struct *xsie_idle_task(int cpu);
bool xsie_core_text(unsigned long addr, size_t len);
bool xsie_build_id_matches(const u8 *id);
extern struct mutex *xsie_text_mutex, *xsie_kprobe_mutex;
extern void *(*xsie_text_poke)(void *addr, const void *opcode, size_t len);
extern void (*xsie_text_poke_sync)(void);
extern struct kprobe *(*xsie_get_kprobe)(void *addr);

/* x_sie_txn.c */
void xsie_wait_intact(struct kprobe *const *kps, const struct x_sie_site *const *sites, u32 n);
long xsie_load(struct x_sie_load *req);
long xsie_unload(struct x_sie_unload *req);
long xsie_status(struct x_sie_status *req);
void xsie_unload_all(void);

/* x_sie_handlers.c */
int xsie_handlers_init(void);
void xsie_handlers_exit(void);
int xsie_update_pre(struct kprobe *kp, struct pt_regs *regs);
int xsie_capture_pre(struct kprobe *kp, struct pt_regs *regs);
u8 xsie_probe_state(struct kprobe *kp);

/* x_sie_transition.c */
int xsie_transition_init(struct xsie_tx *tx, const struct x_sie_ss *ss);
void xsie_transition_free(struct xsie_tx *tx);
int xsie_transition_start(struct xsie_tx *tx, int target, char *why, size_t whylen);
int xsie_transition_wait(struct xsie_tx *tx, unsigned int timeout_ms);
int xsie_transition_unpatch(struct xsie_tx *tx, char *why, size_t whylen);
void xsie_transition_cancel(struct xsie_tx *tx);
bool xsie_task_on(struct xsie_tx *tx);
void xsie_transition_status(struct xsie_tx *tx, struct x_sie_tx_status *r);

/* x_sie_static.c */
void xsie_static_apply(struct xsie_tx *tx);
int xsie_static_restore(struct xsie_tx *tx, char *why, size_t whylen);
u8 xsie_static_state(struct xsie_span *s);

/* x_sie_policy.c */
int xsie_policy_get(struct xsie_const *c, char *why, size_t whylen);
void xsie_policy_put(struct xsie_const *c);
bool xsie_policy_value(struct xsie_tx *tx, struct xsie_span *s, struct pt_regs *regs, u64 *v);

/* x_sie_capture.c */
struct xsie_capture_table *xsie_capture_alloc(void);
void xsie_capture_free(struct xsie_capture_table *t);
void xsie_capture_put(struct xsie_capture_table *t, const struct pt_regs *regs, u32 mask);
bool xsie_capture_take(struct xsie_capture_table *t, const struct pt_regs *regs,
		       struct x_sie_state *out);

/*
 * Registers kp again at its address, with pre-handler `pre`, refusing (as
 * the other steps) when fail_nth says so. A kprobe cannot be registered
 * twice: it starts from a clean one.
 */
static inline int xsie_register_again(struct kprobe *kp, kprobe_pre_handler_t pre)
{
	kprobe_opcode_t *addr = kp->addr;

	memset(kp, 0, sizeof(*kp));
	kp->addr = addr;
	kp->pre_handler = pre;
	return xsie_should_fail() ? -ENOMEM : register_kprobe(kp);
}

/*
 * How often the task was switched out: a task moves to another CPU only
 * while switched out, so an unchanged count means the same CPU.
 */
static __always_inline u64 xsie_switches(const struct task_struct *t)
{
	return READ_ONCE(t->nvcsw) + READ_ONCE(t->nivcsw);
}

static __always_inline void xsie_regs_to_state(const struct pt_regs *r, struct x_sie_state *s)
{
	s->regs[X_SIE_RAX] = r->ax;
	s->regs[X_SIE_RCX] = r->cx;
	s->regs[X_SIE_RDX] = r->dx;
	s->regs[X_SIE_RBX] = r->bx;
	s->regs[X_SIE_RSP] = r->sp;
	s->regs[X_SIE_RBP] = r->bp;
	s->regs[X_SIE_RSI] = r->si;
	s->regs[X_SIE_RDI] = r->di;
	s->regs[X_SIE_R8] = r->r8;
	s->regs[X_SIE_R9] = r->r9;
	s->regs[X_SIE_R10] = r->r10;
	s->regs[X_SIE_R11] = r->r11;
	s->regs[X_SIE_R12] = r->r12;
	s->regs[X_SIE_R13] = r->r13;
	s->regs[X_SIE_R14] = r->r14;
	s->regs[X_SIE_R15] = r->r15;
	s->flags = r->flags;
}

#endif /* X_SIE_H */
