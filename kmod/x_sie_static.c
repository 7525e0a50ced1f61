// SPDX-License-Identifier: GPL-2.0
/*
 * The static path (beyond the paper): for a plain value, a critical span
 * that is one instruction carrying its seed as an immediate is rewritten in
 * place once every task runs the new value, and its update probe goes: no
 * cost per execution. User space offers the patch only where the new
 * immediate fits the same encoding (struct x_sie_patch), i.e. the bytes are
 * the instruction the compiler emits for V', which is what the span's
 * update was proven equal to.
 *
 * Why no task ever sees a third behaviour: while the update probe is
 * registered, a run of the instruction ends with T' whether it executes the
 * old or the new immediate (the probe writes T' over the result). So:
 *  - apply (phase ACTIVE, every task on V', monitors gone): patch with the
 *    probe still there; remove the probe only once the live bytes are the
 *    new ones and no kprobe holds a copy of the instruction made before;
 *  - restore (before a switch back or a detach): re-register the probe
 *    first, then write the old immediate back, then switch as usual.
 *
 * How the bytes change: 6.1's text_poke_bp() rewrites only jumps, calls and
 * nops, so its protocol is run with a kprobe as the breakpoint: a guard
 * kprobe (int3; it has a post-handler, so it is never jump-optimized) makes
 * every CPU reaching the instruction run a copy of it; the immediate behind
 * the int3 is written with text_poke() and every CPU serialised; removing
 * the guard writes the opcode byte back (unchanged) and serialises again.
 *
 * A kprobe less than 5 bytes before the instruction, or on it, holds a
 * copy of it (single-step slot or optimized detour) that a
 * patch would not change: with one there, the update probe stays (apply),
 * or the switch back is refused until it is gone (restore).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/kprobes.h>
#include <linux/memory.h>
#include <linux/mutex.h>
#include <linux/uaccess.h>
#include <asm/text-patching.h>

#include "x_sie.h"

/*
 * A jump-optimized kprobe at P copies every instruction that starts in
 * [P, P + 5) (its jump's length); an int3 one, the instruction at P. So a
 * kprobe at most 4 bytes before the instruction, or on it, holds a copy.
 */
#define XSIE_COPY_REACH JMP32_INSN_SIZE

static void xsie_guard_post(struct kprobe *kp, struct pt_regs *regs, unsigned long flags)
{
}
NOKPROBE_SYMBOL(xsie_guard_post);

static bool xsie_live_is(const struct x_sie_patch *p, const u8 *bytes, unsigned int from)
{
	u8 live[16];

	if (copy_from_kernel_nofault(live, (const void *)(unsigned long)p->addr, p->len))
		return false;
	return !memcmp(live + from, bytes + from, p->len - from);
}

/*
 * A kprobe whose copy of the code may hold the instruction. Under
 * kprobe_mutex: a kprobe copies its instruction and enters the table in one
 * step under it, so none can copy unseen between this look and a patch.
 */
static struct kprobe *xsie_probe_near(const struct x_sie_patch *p)
{
	struct kprobe *kp = NULL;
	unsigned long a;

	mutex_lock(xsie_kprobe_mutex);
	for (a = p->addr - XSIE_COPY_REACH + 1; a < p->addr + p->len && !kp; a++)
		kp = xsie_get_kprobe((void *)a);
	mutex_unlock(xsie_kprobe_mutex);
	return kp;
}

/* The immediate becomes `to` (old or new bytes), behind a guard kprobe. */
static int xsie_poke_imm(const struct x_sie_patch *p, const u8 *from, const u8 *to)
{
	struct kprobe guard = { .addr = (kprobe_opcode_t *)(unsigned long)p->addr, .post_handler = xsie_guard_post };
	int ret;

	if (!xsie_live_is(p, from, 0))
		return -EILSEQ;
	ret = xsie_should_fail() ? -ENOMEM : register_kprobe(&guard);
	if (ret)
		return ret;
	/* Its copy was taken under text_mutex: the bytes must still be `from`. */
	if (guard.opcode != from[0] || !xsie_live_is(p, from, 1)) {
		unregister_kprobe(&guard);
		return -EILSEQ;
	}
	cpus_read_lock();
	mutex_lock(xsie_text_mutex);
	xsie_text_poke((void *)(unsigned long)(p->addr + p->imm_off), to + p->imm_off, p->imm_len);
	xsie_text_poke_sync();
	mutex_unlock(xsie_text_mutex);
	cpus_read_unlock();
	unregister_kprobe(&guard);
	return xsie_live_is(p, to, 0) ? 0 : -EILSEQ;
}

static void xsie_span_probe_off(struct xsie_tx *tx, struct xsie_span *s)
{
	unregister_kprobe(&s->probe);
	WRITE_ONCE(s->probe_registered, false);	/* read by the status */
	tx->sites[0] = &s->probe_site;
	tx->kps[0] = &s->probe;
	xsie_wait_intact(tx->kps, tx->sites, 1);
}

static void xsie_static_apply_span(struct xsie_tx *tx, struct xsie_span *s)
{
	struct kprobe *near;
	int ret;

	if (!s->patch.len || s->patched)
		return;
	near = xsie_probe_near(&s->patch);
	if (near) {
		pr_info("transaction %u: %s stays on its probe: the kprobe at %pS covers its instruction\n", tx->id,
			s->label, near->addr);
		return;
	}
	ret = xsie_poke_imm(&s->patch, s->patch.old_bytes, s->patch.new_bytes);
	if (ret) {
		pr_info("transaction %u: %s stays on its probe: patching its immediate failed (%d)\n", tx->id,
			s->label, ret);
		return;
	}
	WRITE_ONCE(s->patched, true);
	near = xsie_probe_near(&s->patch);
	if (near) {
		pr_info("transaction %u: %s stays on its probe: a kprobe at %pS may run a copy of the old instruction\n",
			tx->id, s->label, near->addr);
		return;
	}
	xsie_span_probe_off(tx, s);
}

/* Phase ACTIVE, monitors gone; under tx->monitor_lock. */
void xsie_static_apply(struct xsie_tx *tx)
{
	u32 i;

	for (i = 0; i < tx->n_spans; i++)
		xsie_static_apply_span(tx, &tx->spans[i]);
}

static int xsie_static_restore_span(struct xsie_tx *tx, struct xsie_span *s, char *why, size_t whylen)
{
	struct kprobe *near;
	int ret;

	if (!s->patched)
		return 0;
	if (!s->probe_registered) {
		ret = xsie_register_again(&s->probe, xsie_update_pre);
		if (ret) {
			snprintf(why, whylen, "%s: re-registering its update probe before restoring its immediate failed: %d",
				 s->label, ret);
			return ret;
		}
		WRITE_ONCE(s->probe_registered, true);
	}
	near = xsie_probe_near(&s->patch);
	if (near) {
		snprintf(why, whylen, "%s: a kprobe at %pS runs a copy of the patched instruction: remove it first",
			 s->label, near->addr);
		return -EBUSY;
	}
	ret = xsie_poke_imm(&s->patch, s->patch.new_bytes, s->patch.old_bytes);
	if (ret) {
		snprintf(why, whylen, "%s: restoring its immediate at 0x%llx failed (%d): the live bytes are not the patched ones",
			 s->label, s->patch.addr, ret);
		return ret;
	}
	WRITE_ONCE(s->patched, false);
	return 0;
}

/*
 * Every patched immediate back to the compiled one, with the update probes
 * registered again (still applying V'). Under tx->monitor_lock; on failure
 * the transaction is as it was for the spans not yet restored.
 */
int xsie_static_restore(struct xsie_tx *tx, char *why, size_t whylen)
{
	u32 i;
	int ret;

	for (i = 0; i < tx->n_spans; i++) {
		ret = xsie_static_restore_span(tx, &tx->spans[i], why, whylen);
		if (ret)
			return ret;
	}
	return 0;
}

/* What a status reports for a span's update probe. */
u8 xsie_static_state(struct xsie_span *s)
{
	if (!READ_ONCE(s->patched) || READ_ONCE(s->probe_registered))
		return xsie_probe_state(&s->probe);
	return xsie_live_is(&s->patch, s->patch.new_bytes, 0) ? X_SIE_PROBE_STATIC : X_SIE_PROBE_STATIC_DIFFERS;
}
