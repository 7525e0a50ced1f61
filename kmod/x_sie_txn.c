// SPDX-License-Identifier: GPL-2.0
/*
 * Transactions (paper §3.6): the consts of one load are attached together or
 * not at all, a const belongs to at most one active transaction, and the
 * module cannot be removed while a transaction is active. The consts of a
 * transaction switch together: one transition over all their safe spans.
 *
 * A load checks everything before touching the kernel: every field of the
 * request, then the live bytes at every probed address against what the
 * debug vmlinux has there (a kprobe or patch already present shows up as a
 * difference). Only then are kprobes registered; any failure unregisters
 * what was registered. Updates start when the whole transaction is armed.
 */
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "x_sie.h"

static LIST_HEAD(xsie_txs);
static DEFINE_MUTEX(xsie_lock);	/* the transaction list, ids, and every load/unload */
static u32 xsie_next_id = 1;

#define REFUSE(req, ...) do { snprintf((req)->error, sizeof((req)->error), __VA_ARGS__); } while (0)

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
		if (s->kind < X_SIE_INSERTION || s->kind > X_SIE_DUAL) {
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

static void xsie_free_tx(struct xsie_tx *tx)
{
	u32 i;

	if (tx->spans)
		for (i = 0; i < tx->n_spans; i++)
			xsie_capture_free(tx->spans[i].caps);
	if (tx->consts)
		for (i = 0; i < tx->n_consts; i++)
			xsie_policy_put(&tx->consts[i]);
	if (tx->ss)
		for (i = 0; i < tx->n_ss; i++)
			kfree(tx->ss[i].ranges);
	xsie_transition_free(tx);
	kvfree(tx->ss);
	kvfree(tx->spans);
	kfree(tx->consts);
	kfree(tx);
}

/* Unregisters every registered probe of tx; returns with no handler running. */
static void xsie_unregister(struct xsie_tx *tx)
{
	struct kprobe **kps;
	u32 i, n = 0;

	WRITE_ONCE(tx->armed, 0);
	kps = kcalloc(2 * tx->n_spans, sizeof(*kps), GFP_KERNEL | __GFP_NOFAIL);
	for (i = 0; i < tx->n_spans; i++) {
		struct xsie_span *s = &tx->spans[i];

		if (s->probe_registered)
			kps[n++] = &s->probe;
		if (s->capture_registered)
			kps[n++] = &s->capture;
		s->probe_registered = s->capture_registered = false;
	}
	/* One batch: a single RCU grace period waits out in-flight handlers. */
	if (n)
		unregister_kprobes(kps, n);
	kfree(kps);
}

static int xsie_register(struct x_sie_load *req, struct xsie_tx *tx)
{
	u32 i;
	int ret;

	for (i = 0; i < tx->n_spans; i++) {
		struct xsie_span *s = &tx->spans[i];

		/* The capture first: an update probe never sees a capture-less window it could misread. */
		if (s->caps) {
			ret = register_kprobe(&s->capture);
			if (ret) {
				REFUSE(req, "registering the capture kprobe at 0x%llx (%s) failed: %d",
				       (u64)(unsigned long)s->capture.addr, s->label, ret);
				return ret;
			}
			s->capture_registered = true;
		}
		ret = register_kprobe(&s->probe);
		if (ret) {
			REFUSE(req, "registering the kprobe at 0x%llx (%s) failed: %d", (u64)(unsigned long)s->probe.addr,
			       s->label, ret);
			return ret;
		}
		s->probe_registered = true;
	}
	return 0;
}

static struct xsie_tx *xsie_build_tx(const struct x_sie_load *req, const struct x_sie_const *consts,
				     const struct x_sie_span *spans, const struct x_sie_ss *ss)
{
	struct xsie_tx *tx = kzalloc(sizeof(*tx), GFP_KERNEL);
	u32 i, j;

	if (!tx)
		return NULL;
	tx->n_consts = req->n_consts;
	tx->n_spans = req->n_spans;
	tx->n_ss = req->n_ss;
	tx->transition = req->transition;
	tx->consts = kcalloc(req->n_consts, sizeof(*tx->consts), GFP_KERNEL);
	tx->spans = kvcalloc(req->n_spans, sizeof(*tx->spans), GFP_KERNEL);
	tx->ss = kvcalloc(req->n_ss ? req->n_ss : 1, sizeof(*tx->ss), GFP_KERNEL);
	if (!tx->consts || !tx->spans || !tx->ss || xsie_transition_init(tx))
		goto fail;
	for (i = 0; i < req->n_consts; i++)
		tx->consts[i].req = consts[i];
	for (i = 0; i < req->n_ss; i++) {
		struct xsie_ss *x = &tx->ss[i];

		x->const_index = ss[i].const_index;
		x->n_ranges = ss[i].n_ranges;
		x->ranges = kmemdup(ss[i].ranges, ss[i].n_ranges * sizeof(ss[i].ranges[0]), GFP_KERNEL);
		if (!x->ranges)
			goto fail;
		x->n_monitors = 1 + ss[i].n_exits;
		for (j = 0; j < x->n_monitors; j++) {
			x->monitors[j].tx = tx;
			x->monitors[j].entry = j == 0;
			x->monitors[j].kp.addr =
				(kprobe_opcode_t *)(unsigned long)(j ? ss[i].exits[j - 1].addr : ss[i].entry.addr);
		}
	}
	for (i = 0; i < req->n_spans; i++) {
		struct xsie_span *s = &tx->spans[i];

		s->tx = tx;
		s->index = i;
		s->const_index = spans[i].const_index;
		s->kind = spans[i].kind;
		memcpy(s->label, spans[i].label, sizeof(s->label));
		s->prog = spans[i].prog;
		atomic64_set(&s->hits, 0);
		atomic64_set(&s->skipped, 0);
		atomic64_set(&s->captures, 0);
		atomic64_set(&s->faults, 0);
		atomic64_set(&s->policy_runs, 0);
		atomic64_set(&s->policy_unset, 0);
		atomic64_set(&s->policy_rejected, 0);
		/* By address, never by symbol: symbols with several definitions work too. */
		s->probe.addr = (kprobe_opcode_t *)(unsigned long)spans[i].probe.addr;
		s->probe.pre_handler = xsie_update_pre;
		if (s->kind == X_SIE_DUAL) {
			s->caps = xsie_capture_alloc();
			if (!s->caps)
				goto fail;
			s->capture.addr = (kprobe_opcode_t *)(unsigned long)spans[i].capture.addr;
			s->capture.pre_handler = xsie_capture_pre;
		}
	}
	return tx;
fail:
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

long xsie_load(struct x_sie_load *req)
{
	struct x_sie_const *consts = NULL;
	struct x_sie_span *spans = NULL;
	struct x_sie_ss *ss = NULL;
	struct xsie_tx *tx = NULL;
	long ret;
	u32 i;

	req->tx_id = 0;
	memset(req->error, 0, sizeof(req->error));
	if (req->abi_version != X_SIE_ABI_VERSION) {
		REFUSE(req, "ABI version %u, the module speaks %u: rebuild kx and x-sie.ko together", req->abi_version,
		       X_SIE_ABI_VERSION);
		return -EINVAL;
	}
	if (req->n_consts < 1 || req->n_consts > X_SIE_MAX_CONSTS || req->n_spans < 1 ||
	    req->n_spans > X_SIE_MAX_SPANS || req->n_ss > X_SIE_MAX_SS) {
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
	consts = memdup_user(u64_to_user_ptr(req->consts), req->n_consts * sizeof(*consts));
	if (IS_ERR(consts)) {
		REFUSE(req, "cannot read the consts");
		return PTR_ERR(consts);
	}
	spans = vmemdup_user(u64_to_user_ptr(req->spans), req->n_spans * sizeof(*spans));
	if (IS_ERR(spans)) {
		kfree(consts);
		REFUSE(req, "cannot read the spans");
		return PTR_ERR(spans);
	}
	if (req->n_ss) {
		ss = vmemdup_user(u64_to_user_ptr(req->ss), req->n_ss * sizeof(*ss));
		if (IS_ERR(ss)) {
			kfree(consts);
			kvfree(spans);
			REFUSE(req, "cannot read the safe spans");
			return PTR_ERR(ss);
		}
	}
	ret = xsie_validate(req, consts, spans, ss);
	if (ret)
		goto out;

	mutex_lock(&xsie_lock);
	for (i = 0; i < req->n_consts; i++) {
		struct xsie_tx *other = xsie_find_const(consts[i].name);

		if (other) {
			REFUSE(req, "%s is already in active transaction %u", consts[i].name, other->id);
			ret = -EBUSY;
			goto unlock;
		}
	}
	for (i = 0; i < req->n_spans; i++) {
		ret = xsie_check_live(req, &spans[i].probe, spans[i].label, "probe");
		if (!ret && spans[i].kind == X_SIE_DUAL)
			ret = xsie_check_live(req, &spans[i].capture, spans[i].label, "capture of");
		if (ret)
			goto unlock;
	}
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
		module_put(THIS_MODULE);
		REFUSE(req, "out of memory");
		ret = -ENOMEM;
		goto unlock;
	}
	for (i = 0; i < tx->n_consts && !ret; i++)
		ret = xsie_policy_get(&tx->consts[i], req->error, sizeof(req->error));
	if (!ret) {
		u64 t0 = ktime_get_mono_fast_ns();

		ret = xsie_register(req, tx);
		tx->attach_ns = ktime_get_mono_fast_ns() - t0;
	}
	if (!ret) {
		/* Armed but off: the updates start per the transition. */
		WRITE_ONCE(tx->armed, 1);
		ret = xsie_transition_start(tx, 1, req->error, sizeof(req->error));
	}
	if (ret) {
		xsie_transition_cancel(tx);
		xsie_unregister(tx);
		xsie_free_tx(tx);
		module_put(THIS_MODULE);
		goto unlock;
	}
	tx->id = xsie_next_id++;
	list_add_tail(&tx->node, &xsie_txs);
	req->tx_id = tx->id;
	pr_info("x_sie: transaction %u: %u const(s), %u span(s), %u safe span(s) attached\n", tx->id, tx->n_consts,
		tx->n_spans, tx->n_ss);
unlock:
	mutex_unlock(&xsie_lock);
out:
	if (ret)
		pr_info("x_sie: load refused: %s\n", req->error);
	kfree(consts);
	kvfree(spans);
	kvfree(ss);
	return ret;
}

static void xsie_detach(struct xsie_tx *tx)
{
	xsie_transition_cancel(tx);
	xsie_unregister(tx);
	list_del(&tx->node);
	pr_info("x_sie: transaction %u detached\n", tx->id);
	xsie_free_tx(tx);
	module_put(THIS_MODULE);
}

/*
 * Back to the compiled behaviour the way the load switched, then detach.
 * The switch back continues in the background when it times out: a retry
 * picks it up (the new behaviour is never restored half-way).
 */
static long xsie_revert(struct xsie_tx *tx, struct x_sie_unload *req)
{
	int ret;

	if (READ_ONCE(tx->phase) == X_SIE_PHASE_SWITCHING && xsie_transition_wait(tx, req->timeout_ms)) {
		REFUSE(req, "transaction %u is still switching to its new values (%u task(s) inside safe spans)",
		       tx->id, READ_ONCE(tx->inside));
		return -EBUSY;
	}
	if (READ_ONCE(tx->phase) == X_SIE_PHASE_ACTIVE) {
		ret = xsie_transition_start(tx, 0, req->error, sizeof(req->error));
		if (ret)
			return ret;
	}
	if (xsie_transition_wait(tx, req->timeout_ms)) {
		REFUSE(req, "%u task(s) still inside safe spans of transaction %u after %u ms; it keeps switching back: retry, or force",
		       READ_ONCE(tx->inside), tx->id, req->timeout_ms);
		return -EBUSY;
	}
	return 0;
}

long xsie_unload(struct x_sie_unload *req)
{
	struct xsie_tx *tx;
	long ret = -ENOENT;

	memset(req->error, 0, sizeof(req->error));
	if (req->abi_version != X_SIE_ABI_VERSION || req->force > 1)
		return -EINVAL;
	mutex_lock(&xsie_lock);
	list_for_each_entry(tx, &xsie_txs, node)
		if (tx->id == req->tx_id) {
			ret = req->force ? 0 : xsie_revert(tx, req);
			if (!ret)
				xsie_detach(tx);
			break;
		}
	if (ret == -ENOENT)
		REFUSE(req, "no active transaction %u", req->tx_id);
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

long xsie_status(struct x_sie_status *req)
{
	struct x_sie_span_status *out = NULL;
	struct x_sie_tx_status *txout = NULL;
	struct xsie_tx *tx;
	u32 n = 0, ntx = 0, cap = req->capacity, txcap = req->tx_capacity, i;
	long ret = 0;

	if (req->abi_version != X_SIE_ABI_VERSION || req->pad)
		return -EINVAL;
	cap = min_t(u32, cap, X_SIE_MAX_SPANS * 64);
	txcap = min_t(u32, txcap, 64);
	out = kvcalloc(max(cap, 1u), sizeof(*out), GFP_KERNEL);
	txout = kvcalloc(max(txcap, 1u), sizeof(*txout), GFP_KERNEL);
	if (!out || !txout) {
		kvfree(out);
		kvfree(txout);
		return -ENOMEM;
	}
	mutex_lock(&xsie_lock);
	list_for_each_entry(tx, &xsie_txs, node) {
		if (ntx < txcap) {
			u32 k;

			xsie_transition_status(tx, &txout[ntx]);
			for (k = 0; k < tx->n_spans; k++)
				txout[ntx].policy_runs += atomic64_read(&tx->spans[k].policy_runs);
		}
		ntx++;
		for (i = 0; i < tx->n_spans; i++, n++) {
			struct xsie_span *s = &tx->spans[i];
			struct x_sie_span_status *r;

			if (n >= cap)
				continue;
			r = &out[n];
			r->tx_id = tx->id;
			r->span_index = i;
			strscpy(r->const_name, tx->consts[s->const_index].req.name, sizeof(r->const_name));
			r->value = tx->consts[s->const_index].req.value;
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
			r->missed = s->probe.nmissed + (s->caps ? s->capture.nmissed : 0);
			r->probe_state = xsie_probe_state(&s->probe);
			r->capture_state = s->caps ? xsie_probe_state(&s->capture) : X_SIE_PROBE_NONE;
			r->kind = s->kind;
			r->policy = tx->consts[s->const_index].prog != NULL;
		}
	}
	mutex_unlock(&xsie_lock);
	req->n_spans = n;
	req->n_transactions = ntx;
	if (copy_to_user(u64_to_user_ptr(req->spans), out, min(n, cap) * sizeof(*out)) ||
	    copy_to_user(u64_to_user_ptr(req->txs), txout, min(ntx, txcap) * sizeof(*txout)))
		ret = -EFAULT;
	kvfree(out);
	kvfree(txout);
	return ret;
}
