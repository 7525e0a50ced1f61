// SPDX-License-Identifier: GPL-2.0
/*
 * Transactions (paper §3.6): the consts of one load are attached together or
 * not at all, a const belongs to at most one active transaction, and the
 * module cannot be removed while a transaction is active. The consts of a
 * transaction switch together: one transition over all their safe spans.
 *
 * A load checks everything before touching the kernel: every field of the
 * request, the running kernel's build-id, that every probed address is core
 * kernel text, then the live bytes there against what the debug vmlinux has
 * (a kprobe or patch already present shows up as a difference). Only then
 * are kprobes registered; any failure unregisters what was registered.
 * Updates start when the whole transaction is armed.
 *
 * xsie_lock guards the list and every attach or detach; it is never held
 * while waiting for tasks to leave safe spans, so status and other
 * transactions go on meanwhile. An unload marks its transaction `unloading`
 * under the lock; nothing else detaches or waits on it then.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "x_sie.h"

static LIST_HEAD(xsie_txs);
static DEFINE_MUTEX(xsie_lock);	/* the transaction list, ids, attaching and detaching */
static u32 xsie_next_id = 1;
static u32 xsie_n_txs;

#define REFUSE(req, ...) snprintf((req)->error, sizeof((req)->error), __VA_ARGS__)

static bool xsie_str_ok(const char *s, size_t len)
{
	size_t n = strnlen(s, len), i;

	if (n == 0 || n == len)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	for (i = n; i < len; i++)	/* the unused tail is zero too */
		if (s[i])
			return false;
	return true;
}

static bool xsie_zero(const void *p, size_t len)
{
	return memchr_inv(p, 0, len) == NULL;
}

static int xsie_check_site(struct x_sie_load *req, const struct x_sie_site *site, bool present, unsigned int i,
			   const char *what)
{
	if (!present) {
		if (!xsie_zero(site, sizeof(*site))) {
			REFUSE(req, "span %u: %s site given but unused", i, what);
			return -EINVAL;
		}
		return 0;
	}
	if (!site->addr || site->len < 1 || site->len > X_SIE_MAX_INSN || site->alt_len > site->len ||
	    !xsie_zero(site->pad, sizeof(site->pad)) ||
	    !xsie_zero(site->bytes + site->len, sizeof(site->bytes) - site->len) ||
	    !xsie_zero(site->alt + site->alt_len, sizeof(site->alt) - site->alt_len)) {
		REFUSE(req, "span %u: malformed %s site", i, what);
		return -EINVAL;
	}
	/* Probes go on kernel text only: never data, MMIO, init or module memory. */
	if (!xsie_core_text(site->addr, site->len)) {
		REFUSE(req, "span %u: the %s site 0x%llx is not in the kernel's text", i, what, site->addr);
		return -EINVAL;
	}
	return 0;
}

/* A static patch (x_sie_static.c) changes nothing but the immediate of the span's one instruction. */
static int xsie_check_patch(struct x_sie_load *req, const struct x_sie_span *s, const struct x_sie_const *c,
			    unsigned int i)
{
	const struct x_sie_patch *p = &s->patch;
	unsigned int end = p->imm_off + p->imm_len;

	if (xsie_zero(p, sizeof(*p)))
		return 0;
	if (s->kind != X_SIE_INSERTION || c->policy_fd >= 0) {
		REFUSE(req, "span %u: a static patch is only for insertion spans of a plain value", i);
		return -EINVAL;
	}
	if (p->len < 2 || p->len > X_SIE_MAX_INSN || p->imm_off < 1 || end > p->len ||
	    (p->imm_len != 1 && p->imm_len != 2 && p->imm_len != 4 && p->imm_len != 8) ||
	    !xsie_zero(p->pad, sizeof(p->pad)) || !xsie_zero(p->old_bytes + p->len, sizeof(p->old_bytes) - p->len) ||
	    !xsie_zero(p->new_bytes + p->len, sizeof(p->new_bytes) - p->len) ||
	    memcmp(p->old_bytes, p->new_bytes, p->imm_off) ||
	    memcmp(p->old_bytes + end, p->new_bytes + end, p->len - end)) {
		REFUSE(req, "span %u: malformed static patch", i);
		return -EINVAL;
	}
	if (p->addr + p->len != s->probe.addr || !xsie_core_text(p->addr, p->len)) {
		REFUSE(req, "span %u: the static patch at 0x%llx is not the instruction before its probe", i, p->addr);
		return -EINVAL;
	}
	return 0;
}

/* Every field of the request, before anything else happens. */
static int xsie_validate(struct x_sie_load *req, const struct x_sie_const *consts, const struct x_sie_span *spans,
			 const struct x_sie_ss *ss)
{
	char why[128];
	u32 i, j;

	for (i = 0; i < req->n_consts; i++) {
		bool has_span = false;

		if (!xsie_str_ok(consts[i].name, sizeof(consts[i].name))) {
			REFUSE(req, "const %u: name must be printable, NUL-terminated, zero-padded", i);
			return -EINVAL;
		}
		for (j = 0; j < i; j++)
			if (!strcmp(consts[i].name, consts[j].name)) {
				REFUSE(req, "%s appears twice in the transaction", consts[i].name);
				return -EINVAL;
			}
		for (j = 0; j < req->n_spans; j++)
			has_span = has_span || spans[j].const_index == i;
		if (!has_span) {
			REFUSE(req, "%s has no span", consts[i].name);
			return -EINVAL;
		}
		if (consts[i].min > consts[i].max) {
			REFUSE(req, "%s: empty proven range", consts[i].name);
			return -EINVAL;
		}
		if ((consts[i].policy_fd < 0) != (consts[i].slot_fd < 0)) {
			REFUSE(req, "%s: a policy needs both its program and its slot map", consts[i].name);
			return -EINVAL;
		}
		if (consts[i].policy_fd < 0 &&
		    ((s64)consts[i].value < consts[i].min || (s64)consts[i].value > consts[i].max)) {
			REFUSE(req, "%s = %lld is outside [%lld, %lld], the values its updates are proven for",
			       consts[i].name, (s64)consts[i].value, consts[i].min, consts[i].max);
			return -EINVAL;
		}
		if (req->transition != X_SIE_TRANS_IMMEDIATE) {
			bool has_ss = false;

			for (j = 0; j < req->n_ss; j++)
				has_ss = has_ss || ss[j].const_index == i;
			if (!has_ss) {
				REFUSE(req, "%s has no safe span: only an immediate transition is possible", consts[i].name);
				return -EINVAL;
			}
		}
	}
	for (i = 0; i < req->n_ss; i++) {
		const struct x_sie_ss *x = &ss[i];

		if (x->const_index >= req->n_consts || x->n_exits < 1 || x->n_exits > X_SIE_MAX_SS_EXITS ||
		    x->n_ranges < 1 || x->n_ranges > X_SIE_MAX_SS_RANGES) {
			REFUSE(req, "safe span %u: bad const index, exit or range count", i);
			return -EINVAL;
		}
		if (xsie_check_site(req, &x->entry, true, i, "safe-span entry"))
			return -EINVAL;
		for (j = 0; j < X_SIE_MAX_SS_EXITS; j++)
			if (xsie_check_site(req, &x->exits[j], j < x->n_exits, i, "safe-span exit"))
				return -EINVAL;
		for (j = 0; j < X_SIE_MAX_SS_RANGES; j++)
			if (j < x->n_ranges ? x->ranges[j][0] >= x->ranges[j][1] : x->ranges[j][0] || x->ranges[j][1]) {
				REFUSE(req, "safe span %u: bad range %u", i, j);
				return -EINVAL;
			}
	}
	for (i = 0; i < req->n_spans; i++) {
		const struct x_sie_span *s = &spans[i];
		bool dual = s->kind == X_SIE_DUAL;

		if (s->const_index >= req->n_consts) {
			REFUSE(req, "span %u: const index %u out of range", i, s->const_index);
			return -EINVAL;
		}
		if (s->kind < X_SIE_INSERTION || s->kind >= X_SIE_KIND_END) {
			REFUSE(req, "span %u: unknown kind %u", i, s->kind);
			return -EINVAL;
		}
		if (!xsie_str_ok(s->label, sizeof(s->label))) {
			REFUSE(req, "span %u: label must be printable, NUL-terminated, zero-padded", i);
			return -EINVAL;
		}
		if (xsie_check_site(req, &s->probe, true, i, "probe") ||
		    xsie_check_site(req, &s->capture, dual, i, "capture"))
			return -EINVAL;
		if (x_sie_prog_check(&s->prog, dual, why, sizeof(why))) {
			REFUSE(req, "span %u (%s): update rejected: %s", i, s->label, why);
			return -EINVAL;
		}
		if (xsie_check_patch(req, s, &consts[s->const_index], i))
			return -EINVAL;
	}
	return 0;
}

static void xsie_hex(char *out, size_t outlen, const u8 *b, unsigned int n)
{
	unsigned int i;
	size_t at = 0;

	out[0] = 0;
	for (i = 0; i < n && at + 3 < outlen; i++)
		at += scnprintf(out + at, outlen - at, "%02x", b[i]);
}

/* The live instruction bytes must be the ones the analysis saw. */
static int xsie_check_live(struct x_sie_load *req, const struct x_sie_site *site, const char *label,
			   const char *what)
{
	u8 live[16];
	char have[40], want[40];

	if (copy_from_kernel_nofault(live, (const void *)(unsigned long)site->addr, site->len)) {
		REFUSE(req, "cannot read the kernel text at 0x%llx (%s %s)", site->addr, what, label);
		return -EFAULT;
	}
	if (!memcmp(live, site->bytes, site->len) || (site->alt_len && !memcmp(live, site->alt, site->alt_len)))
		return 0;
	xsie_hex(have, sizeof(have), live, site->len);
	xsie_hex(want, sizeof(want), site->bytes, site->len);
	REFUSE(req, "live bytes at 0x%llx (%s %s) are %s, expected %s%s", site->addr, what, label, have, want,
	       live[0] == 0xcc ? ": int3, a kprobe or breakpoint is already there" :
	       live[0] == 0xe9 ? ": a jump, an optimized kprobe or a patched site" : "");
	return -EILSEQ;
}

static bool xsie_site_intact(const struct x_sie_site *site)
{
	struct kprobe *kp;
	bool probed;
	u8 live[16];

	/*
	 * Another live kprobe there (ours sharing the address, or anyone's)
	 * keeps its own bytes: nothing to wait for. A disabled one is either
	 * unarmed (the bytes are back) or the aggregate of a removed optimized
	 * probe waiting for the optimizer to unpatch it: wait for that.
	 */
	rcu_read_lock();
	kp = xsie_get_kprobe((void *)(unsigned long)site->addr);
	probed = kp && !kprobe_disabled(kp);
	rcu_read_unlock();
	if (probed)
		return true;

	if (copy_from_kernel_nofault(live, (const void *)(unsigned long)site->addr, site->len))
		return true;	/* nothing to wait for: it was checked at load */
	return !memcmp(live, site->bytes, site->len) || (site->alt_len && !memcmp(live, site->alt, site->alt_len));
}

/*
 * After unregistering, a jump-optimized kprobe's jump stays in the text
 * until the kprobe optimizer's delayed work puts the bytes back. Wait for
 * that (a second at most), so that what an unload leaves is the kernel's
 * own text and a load right after it is not refused. A site another kprobe
 * still holds (a monitor removed while the capture at the same address
 * stays) is not waited for. kps[i] sits on sites[i].
 */
void xsie_wait_intact(struct kprobe *const *kps, const struct x_sie_site *const *sites, u32 n)
{
	int tries;
	u32 i;

	for (tries = 0; tries < 100; tries++) {
		for (i = 0; i < n && xsie_site_intact(sites[i]); i++)
			;
		if (i == n)
			return;
		usleep_range(10000, 20000);
	}
	pr_warn("the kernel text at %pS is not back to its own bytes a second after its kprobe was removed\n",
		kps[i]->addr);
}

static void xsie_free_tx(struct xsie_tx *tx)
{
	u32 i;

	if (tx->spans)
		for (i = 0; i < tx->n_spans; i++)
			xsie_capture_free(tx->spans[i].caps);
	if (tx->consts)
		for (i = 0; i < tx->n_consts; i++)
			xsie_policy_put(&tx->consts[i]);
	xsie_transition_free(tx);
	kvfree(tx->kps);
	kvfree(tx->sites);
	kvfree(tx->ss);
	kvfree(tx->spans);
	kfree(tx->consts);
	kfree(tx);
}

/* Unregisters every registered probe of tx; returns with no handler running and the text restored. */
static void xsie_unregister(struct xsie_tx *tx)
{
	u32 i, n = 0;

	WRITE_ONCE(tx->armed, 0);	/* pairs with READ_ONCE in xsie_update_pre */
	for (i = 0; i < tx->n_spans; i++) {
		struct xsie_span *s = &tx->spans[i];

		if (s->probe_registered) {
			tx->sites[n] = &s->probe_site;
			tx->kps[n++] = &s->probe;
		}
		if (s->capture_registered) {
			tx->sites[n] = &s->capture_site;
			tx->kps[n++] = &s->capture;
		}
		s->probe_registered = false;
		s->capture_registered = false;
	}
	/* One batch: a single RCU grace period waits out in-flight handlers. */
	if (n) {
		unregister_kprobes(tx->kps, n);
		xsie_wait_intact(tx->kps, tx->sites, n);
	}
}

/*
 * The kprobe core copied the instruction under text_mutex when it
 * registered kp: its first byte must still be the one checked before (a
 * patch landing between the check and the registration shows up here).
 */
static int xsie_check_registered(struct x_sie_load *req, const struct kprobe *kp, const struct x_sie_site *site,
				 const char *label)
{
	if (kp->opcode == site->bytes[0] || (site->alt_len && kp->opcode == site->alt[0]))
		return 0;
	REFUSE(req, "the kernel text at 0x%llx (%s) changed while the kprobe was registered", site->addr, label);
	return -EILSEQ;
}

static int xsie_register_one(struct x_sie_load *req, struct kprobe *kp, const struct x_sie_site *site,
			     const char *label, const char *what, bool *registered)
{
	int ret = xsie_should_fail() ? -ENOMEM : register_kprobe(kp);

	if (ret) {
		REFUSE(req, "registering the %s at 0x%llx (%s) failed: %d", what, site->addr, label, ret);
		return ret;
	}
	*registered = true;
	return xsie_check_registered(req, kp, site, label);
}

static int xsie_register(struct x_sie_load *req, struct xsie_tx *tx, const struct x_sie_span *spans)
{
	u32 i;
	int ret;

	for (i = 0; i < tx->n_spans; i++) {
		struct xsie_span *s = &tx->spans[i];

		/* The capture first: an update probe never sees a capture-less window it could misread. */
		if (s->caps) {
			ret = xsie_register_one(req, &s->capture, &spans[i].capture, s->label, "capture kprobe",
						&s->capture_registered);
			if (ret)
				return ret;
		}
		ret = xsie_register_one(req, &s->probe, &spans[i].probe, s->label, "kprobe", &s->probe_registered);
		if (ret)
			return ret;
	}
	return 0;
}

static void xsie_init_span(struct xsie_tx *tx, struct xsie_span *s, u32 i, const struct x_sie_span *req)
{
	s->tx = tx;
	s->index = i;
	s->const_index = req->const_index;
	s->kind = req->kind;
	memcpy(s->label, req->label, sizeof(s->label));
	s->prog = req->prog;
	s->patch = req->patch;
	atomic64_set(&s->hits, 0);
	atomic64_set(&s->skipped, 0);
	atomic64_set(&s->captures, 0);
	atomic64_set(&s->faults, 0);
	atomic64_set(&s->policy_runs, 0);
	atomic64_set(&s->policy_unset, 0);
	atomic64_set(&s->policy_rejected, 0);
	atomic64_set(&s->policy_busy, 0);
	s->probe_site = req->probe;
	s->capture_site = req->capture;
	/* By address, never by symbol: symbols with several definitions work too. */
	s->probe.addr = (kprobe_opcode_t *)(unsigned long)req->probe.addr;
	s->probe.pre_handler = xsie_update_pre;
	if (s->kind == X_SIE_DUAL) {
		s->capture.addr = (kprobe_opcode_t *)(unsigned long)req->capture.addr;
		s->capture.pre_handler = xsie_capture_pre;
	}
}

static void xsie_init_ss(struct xsie_tx *tx, struct xsie_ss *x, const struct x_sie_ss *req)
{
	u32 j;

	x->const_index = req->const_index;
	x->n_monitors = 1 + req->n_exits;
	for (j = 0; j < x->n_monitors; j++) {
		x->monitors[j].tx = tx;
		x->monitors[j].entry = j == 0;
		x->monitors[j].site = j ? req->exits[j - 1] : req->entry;
		x->monitors[j].kp.addr = (kprobe_opcode_t *)(unsigned long)x->monitors[j].site.addr;
	}
}

static struct xsie_tx *xsie_build_tx(const struct x_sie_load *req, const struct x_sie_const *consts,
				     const struct x_sie_span *spans, const struct x_sie_ss *ss)
{
	u32 i, n_kps = 2 * req->n_spans, n_monitors = 0;
	struct xsie_tx *tx;

	if (xsie_should_fail())
		return NULL;
	tx = kzalloc(sizeof(*tx), GFP_KERNEL);
	if (!tx)
		return NULL;
	tx->n_consts = req->n_consts;
	tx->n_spans = req->n_spans;
	tx->n_ss = req->n_ss;
	tx->transition = req->transition;
	for (i = 0; i < req->n_ss; i++)
		n_monitors += 1 + ss[i].n_exits;
	tx->consts = kcalloc(req->n_consts, sizeof(*tx->consts), GFP_KERNEL);
	tx->spans = kvcalloc(req->n_spans, sizeof(*tx->spans), GFP_KERNEL);
	tx->ss = kvcalloc(max(req->n_ss, 1u), sizeof(*tx->ss), GFP_KERNEL);
	/* Unregistering must not allocate: room for the larger of the two batches. */
	tx->kps = kvcalloc(max(n_kps, n_monitors), sizeof(*tx->kps), GFP_KERNEL);
	tx->sites = kvcalloc(max(n_kps, n_monitors), sizeof(*tx->sites), GFP_KERNEL);
	if (!tx->consts || !tx->spans || !tx->ss || !tx->kps || !tx->sites || xsie_transition_init(tx, ss))
		goto err;
	for (i = 0; i < req->n_consts; i++)
		tx->consts[i].req = consts[i];
	for (i = 0; i < req->n_ss; i++)
		xsie_init_ss(tx, &tx->ss[i], &ss[i]);
	for (i = 0; i < req->n_spans; i++) {
		xsie_init_span(tx, &tx->spans[i], i, &spans[i]);
		if (tx->spans[i].kind != X_SIE_DUAL)
			continue;
		tx->spans[i].caps = xsie_should_fail() ? NULL : xsie_capture_alloc();
		if (!tx->spans[i].caps)
			goto err;
	}
	return tx;
err:
	xsie_free_tx(tx);
	return NULL;
}

static struct xsie_tx *xsie_find_const(const char *name)
{
	struct xsie_tx *tx;
	u32 i;

	list_for_each_entry(tx, &xsie_txs, node)
		for (i = 0; i < tx->n_consts; i++)
			if (!strcmp(tx->consts[i].req.name, name))
				return tx;
	return NULL;
}

static int xsie_check_live_ss(struct x_sie_load *req, const struct x_sie_ss *ss)
{
	u32 i, j;
	int ret;

	for (i = 0; i < req->n_ss; i++) {
		ret = xsie_check_live(req, &ss[i].entry, "safe span", "entry of");
		for (j = 0; !ret && j < ss[i].n_exits; j++)
			ret = xsie_check_live(req, &ss[i].exits[j], "safe span", "exit of");
		if (ret)
			return ret;
	}
	return 0;
}

static int xsie_check_live_spans(struct x_sie_load *req, const struct x_sie_span *spans)
{
	u32 i;
	int ret;

	for (i = 0; i < req->n_spans; i++) {
		ret = xsie_check_live(req, &spans[i].probe, spans[i].label, "probe");
		if (!ret && spans[i].kind == X_SIE_DUAL)
			ret = xsie_check_live(req, &spans[i].capture, spans[i].label, "capture of");
		if (!ret && spans[i].patch.len) {
			struct x_sie_site at = { .addr = spans[i].patch.addr, .len = spans[i].patch.len };

			memcpy(at.bytes, spans[i].patch.old_bytes, sizeof(at.bytes));
			ret = xsie_check_live(req, &at, spans[i].label, "static patch of");
		}
		if (ret)
			return ret;
	}
	return 0;
}

static int xsie_check_header(struct x_sie_load *req)
{
	if (req->abi_version != X_SIE_ABI_VERSION) {
		REFUSE(req, "ABI version %u, the module speaks %u: rebuild kx and x-sie.ko together", req->abi_version,
		       X_SIE_ABI_VERSION);
		return -EINVAL;
	}
	if (req->n_consts < 1 || req->n_consts > X_SIE_MAX_CONSTS || req->n_spans < 1 ||
	    req->n_spans > X_SIE_MAX_SPANS || req->n_ss > X_SIE_MAX_SS || req->pad) {
		REFUSE(req, "%u consts, %u spans, %u safe spans: 1..%u, 1..%u and 0..%u allowed", req->n_consts,
		       req->n_spans, req->n_ss, X_SIE_MAX_CONSTS, X_SIE_MAX_SPANS, X_SIE_MAX_SS);
		return -EINVAL;
	}
	if (req->transition < X_SIE_TRANS_IMMEDIATE || req->transition > X_SIE_TRANS_PER_THREAD ||
	    (req->transition == X_SIE_TRANS_IMMEDIATE) != (req->n_ss == 0)) {
		REFUSE(req, "transition %u with %u safe spans: immediate exactly when there are none", req->transition,
		       req->n_ss);
		return -EINVAL;
	}
	if (!xsie_build_id_matches(req->build_id)) {
		REFUSE(req, "the transaction was analysed for another kernel build (build-id %*phN)",
		       X_SIE_BUILD_ID_LEN, req->build_id);
		return -EINVAL;
	}
	return 0;
}

/* Under xsie_lock: nothing in another active transaction, room for one more. */
static int xsie_check_free(struct x_sie_load *req, const struct x_sie_const *consts)
{
	u32 i;

	if (xsie_n_txs >= X_SIE_MAX_TXS) {
		REFUSE(req, "%u transactions are active already: unload one first", xsie_n_txs);
		return -EBUSY;
	}
	for (i = 0; i < req->n_consts; i++) {
		struct xsie_tx *other = xsie_find_const(consts[i].name);

		if (other) {
			REFUSE(req, "%s is already in active transaction %u", consts[i].name, other->id);
			return -EBUSY;
		}
	}
	return 0;
}

/* Under xsie_lock, with everything checked: policies, probes, arming, the first transition. */
static int xsie_attach(struct x_sie_load *req, struct xsie_tx *tx, const struct x_sie_span *spans)
{
	u64 t0;
	u32 i;
	int ret;

	for (i = 0; i < tx->n_consts; i++) {
		ret = xsie_policy_get(&tx->consts[i], req->error, sizeof(req->error));
		if (ret)
			return ret;
	}
	t0 = ktime_get_mono_fast_ns();
	ret = xsie_register(req, tx, spans);
	tx->attach_ns = ktime_get_mono_fast_ns() - t0;
	if (ret)
		return ret;
	/* Armed but off: the updates start per the transition. */
	WRITE_ONCE(tx->armed, 1);	/* pairs with READ_ONCE in xsie_update_pre */
	return xsie_transition_start(tx, 1, req->error, sizeof(req->error));
}

long xsie_load(struct x_sie_load *req)
{
	struct x_sie_const *consts = NULL;
	struct x_sie_span *spans = NULL;
	struct x_sie_ss *ss = NULL;
	struct xsie_tx *tx;
	long ret;

	req->tx_id = 0;
	memset(req->error, 0, sizeof(req->error));
	ret = xsie_check_header(req);
	if (ret)
		goto out;
	consts = memdup_user(u64_to_user_ptr(req->consts), req->n_consts * sizeof(*consts));
	if (IS_ERR(consts)) {
		ret = PTR_ERR(consts);
		consts = NULL;
		REFUSE(req, "cannot read the consts");
		goto out;
	}
	spans = vmemdup_user(u64_to_user_ptr(req->spans), req->n_spans * sizeof(*spans));
	if (IS_ERR(spans)) {
		ret = PTR_ERR(spans);
		spans = NULL;
		REFUSE(req, "cannot read the spans");
		goto out;
	}
	if (req->n_ss) {
		ss = vmemdup_user(u64_to_user_ptr(req->ss), req->n_ss * sizeof(*ss));
		if (IS_ERR(ss)) {
			ret = PTR_ERR(ss);
			ss = NULL;
			REFUSE(req, "cannot read the safe spans");
			goto out;
		}
	}
	ret = xsie_validate(req, consts, spans, ss);
	if (ret)
		goto out;

	mutex_lock(&xsie_lock);
	ret = xsie_check_free(req, consts);
	if (!ret)
		ret = xsie_check_live_spans(req, spans);
	if (!ret)
		ret = xsie_check_live_ss(req, ss);
	if (ret)
		goto unlock;
	/* Held while the transaction is active: rmmod is refused. */
	if (!try_module_get(THIS_MODULE)) {
		REFUSE(req, "the module is being removed");
		ret = -ENODEV;
		goto unlock;
	}
	tx = xsie_build_tx(req, consts, spans, ss);
	if (!tx) {
		REFUSE(req, "out of memory");
		ret = -ENOMEM;
		goto err_module;
	}
	ret = xsie_attach(req, tx, spans);
	if (ret)
		goto err_tx;
	tx->id = xsie_next_id++;
	list_add_tail(&tx->node, &xsie_txs);
	xsie_n_txs++;
	req->tx_id = tx->id;
	pr_info("transaction %u: %u const(s), %u span(s), %u safe span(s) attached\n", tx->id, tx->n_consts,
		tx->n_spans, tx->n_ss);
	goto unlock;

err_tx:
	xsie_transition_cancel(tx);
	xsie_unregister(tx);
	xsie_free_tx(tx);
err_module:
	module_put(THIS_MODULE);
unlock:
	mutex_unlock(&xsie_lock);
out:
	if (ret)
		pr_info("load refused: %s\n", req->error);
	kfree(consts);
	kvfree(spans);
	kvfree(ss);
	return ret;
}

/* Under xsie_lock. */
static void xsie_detach(struct xsie_tx *tx)
{
	xsie_transition_cancel(tx);
	xsie_unregister(tx);
	list_del(&tx->node);
	xsie_n_txs--;
	pr_info("transaction %u detached\n", tx->id);
	xsie_free_tx(tx);
	module_put(THIS_MODULE);
}

/*
 * Back to the compiled behaviour the way the load switched, waiting without
 * xsie_lock (tx is ours: `unloading`). A switch to the new values still
 * under way completes first; the new behaviour is never restored half-way.
 * On -EBUSY the switch back goes on in the background and a retry picks it up.
 */
static int xsie_revert(struct xsie_tx *tx, struct x_sie_unload *req)
{
	int ret;

	if (READ_ONCE(tx->phase) == X_SIE_PHASE_SWITCHING) {
		ret = xsie_transition_wait(tx, req->timeout_ms);
		if (ret == -EBUSY)
			REFUSE(req, "transaction %u is still switching to its new values (%u task(s) inside safe spans)",
			       tx->id, READ_ONCE(tx->inside));
		if (ret)
			return ret;
	}
	if (READ_ONCE(tx->phase) == X_SIE_PHASE_ACTIVE) {
		mutex_lock(&xsie_lock);
		ret = xsie_transition_start(tx, 0, req->error, sizeof(req->error));
		mutex_unlock(&xsie_lock);
		if (ret)
			return ret;
	}
	ret = xsie_transition_wait(tx, req->timeout_ms);
	if (ret == -EBUSY)
		REFUSE(req, "%u task(s) still inside safe spans of transaction %u after %u ms; it keeps switching back: retry, or force",
		       READ_ONCE(tx->inside), tx->id, req->timeout_ms);
	return ret;
}

static struct xsie_tx *xsie_find(u32 id)
{
	struct xsie_tx *tx;

	list_for_each_entry(tx, &xsie_txs, node)
		if (tx->id == id)
			return tx;
	return NULL;
}

long xsie_unload(struct x_sie_unload *req)
{
	struct xsie_tx *tx;
	long ret = 0;

	memset(req->error, 0, sizeof(req->error));
	if (req->abi_version != X_SIE_ABI_VERSION || req->force > 1 || req->timeout_ms > X_SIE_MAX_TIMEOUT_MS) {
		REFUSE(req, "bad unload request (ABI %u, force %u, timeout %u ms: at most %u)", req->abi_version,
		       req->force, req->timeout_ms, X_SIE_MAX_TIMEOUT_MS);
		return -EINVAL;
	}
	mutex_lock(&xsie_lock);
	tx = xsie_find(req->tx_id);
	if (!tx) {
		REFUSE(req, "no active transaction %u", req->tx_id);
		ret = -ENOENT;
	} else if (tx->unloading) {
		REFUSE(req, "transaction %u is being unloaded by another caller", tx->id);
		ret = -EBUSY;
	} else {
		tx->unloading = true;
	}
	mutex_unlock(&xsie_lock);
	if (ret)
		return ret;

	/* Forced or not, a patched immediate goes back first (or nothing is detached). */
	ret = req->force ? xsie_transition_unpatch(tx, req->error, sizeof(req->error)) : xsie_revert(tx, req);
	mutex_lock(&xsie_lock);
	if (ret)
		tx->unloading = false;
	else
		xsie_detach(tx);
	mutex_unlock(&xsie_lock);
	return ret;
}

/* Only reached with transactions left on a forced removal. */
void xsie_unload_all(void)
{
	mutex_lock(&xsie_lock);
	while (!list_empty(&xsie_txs))
		xsie_detach(list_first_entry(&xsie_txs, struct xsie_tx, node));
	mutex_unlock(&xsie_lock);
}

static void xsie_span_status(const struct xsie_tx *tx, const struct xsie_span *s, u32 i,
			     struct x_sie_span_status *r)
{
	const struct xsie_const *c = &tx->consts[s->const_index];

	r->tx_id = tx->id;
	r->span_index = i;
	strscpy(r->const_name, c->req.name, sizeof(r->const_name));
	r->value = c->req.value;
	strscpy(r->label, s->label, sizeof(r->label));
	r->probe_addr = (unsigned long)s->probe.addr;
	r->capture_addr = s->caps ? (unsigned long)s->capture.addr : 0;
	r->hits = atomic64_read(&s->hits);
	r->skipped = atomic64_read(&s->skipped);
	r->captures = atomic64_read(&s->captures);
	r->faults = atomic64_read(&s->faults);
	r->policy_runs = atomic64_read(&s->policy_runs);
	r->policy_unset = atomic64_read(&s->policy_unset);
	r->policy_rejected = atomic64_read(&s->policy_rejected);
	r->policy_busy = atomic64_read(&s->policy_busy);
	r->missed = s->probe.nmissed + (s->caps ? s->capture.nmissed : 0);
	r->probe_state = xsie_static_state((struct xsie_span *)s);
	r->capture_state = s->caps ? xsie_probe_state((struct kprobe *)&s->capture) : X_SIE_PROBE_NONE;
	r->kind = s->kind;
	r->policy = c->prog != NULL;
}

long xsie_status(struct x_sie_status *req)
{
	struct x_sie_span_status *out = NULL;
	struct x_sie_tx_status *txout = NULL;
	struct xsie_tx *tx;
	u32 n = 0, ntx = 0, i;
	u32 cap = min_t(u32, req->capacity, X_SIE_MAX_SPANS * X_SIE_MAX_TXS);
	u32 txcap = min_t(u32, req->tx_capacity, X_SIE_MAX_TXS);
	long ret = 0;

	if (req->abi_version != X_SIE_ABI_VERSION || req->pad)
		return -EINVAL;
	out = kvcalloc(max(cap, 1u), sizeof(*out), GFP_KERNEL);
	txout = kvcalloc(max(txcap, 1u), sizeof(*txout), GFP_KERNEL);
	if (!out || !txout) {
		ret = -ENOMEM;
		goto out;
	}
	mutex_lock(&xsie_lock);
	list_for_each_entry(tx, &xsie_txs, node) {
		if (ntx < txcap) {
			xsie_transition_status(tx, &txout[ntx]);
			for (i = 0; i < tx->n_spans; i++)
				txout[ntx].policy_runs += atomic64_read(&tx->spans[i].policy_runs);
		}
		ntx++;
		for (i = 0; i < tx->n_spans; i++, n++)
			if (n < cap)
				xsie_span_status(tx, &tx->spans[i], i, &out[n]);
	}
	mutex_unlock(&xsie_lock);
	/* Counts are what exists; the records filled are the first min(count, capacity). */
	req->n_spans = n;
	req->n_transactions = ntx;
	if (copy_to_user(u64_to_user_ptr(req->spans), out, min(n, cap) * sizeof(*out)) ||
	    copy_to_user(u64_to_user_ptr(req->txs), txout, min(ntx, txcap) * sizeof(*txout)))
		ret = -EFAULT;
out:
	kvfree(out);
	kvfree(txout);
	return ret;
}
