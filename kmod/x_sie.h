/* SPDX-License-Identifier: GPL-2.0 */
/* x-sie.ko internals: transactions, spans and their kprobes. */
#ifndef X_SIE_H
#define X_SIE_H

#include <linux/atomic.h>
#include <linux/kprobes.h>
#include <linux/list.h>
#include <linux/ptrace.h>

#include "x_sie_uapi.h"
#include "x_sie_update.h"

struct xsie_capture_table;
struct xsie_tx;

/* One critical span of one const: its update probe and, if dual, its capture probe. */
struct xsie_span {
	struct kprobe probe;
	struct kprobe capture;
	struct xsie_tx *tx;
	struct xsie_capture_table *caps;	/* dual spans only */
	u64 value;				/* the const's new value (v) */
	u32 index, const_index, kind;
	bool probe_registered, capture_registered;
	atomic64_t hits, skipped, captures, faults;
	char label[X_SIE_LABEL_LEN];
	struct x_sie_prog prog;			/* checked at load */
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
	u32 n_consts, n_spans;
	struct x_sie_const *consts;
	struct xsie_span *spans;
};

/* x_sie_txn.c */
long xsie_load(struct x_sie_load *req);
long xsie_unload(u32 id);
long xsie_status(struct x_sie_status *req);
void xsie_unload_all(void);

/* x_sie_handlers.c */
int xsie_handlers_init(void);
void xsie_handlers_exit(void);
int xsie_update_pre(struct kprobe *kp, struct pt_regs *regs);
int xsie_capture_pre(struct kprobe *kp, struct pt_regs *regs);
u8 xsie_probe_state(struct kprobe *kp);

/* x_sie_capture.c */
struct xsie_capture_table *xsie_capture_alloc(void);
void xsie_capture_free(struct xsie_capture_table *t);
void xsie_capture_put(struct xsie_capture_table *t, const struct pt_regs *regs, u32 mask);
bool xsie_capture_take(struct xsie_capture_table *t, const struct pt_regs *regs, struct x_sie_state *out);

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
