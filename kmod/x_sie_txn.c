// SPDX-License-Identifier: GPL-2.0
/*
 * Transactions (paper §3.6): the consts of one load are attached together or
 * not at all, a const belongs to at most one active transaction, and the
 * module cannot be removed while a transaction is active.
 *
 * A load checks everything before touching the kernel: every field of the
 * request, then the live bytes at every probed address against what the
 * debug vmlinux has there (a kprobe or patch already present shows up as a
 * difference). Only then are kprobes registered; any failure unregisters
 * what was registered. Updates start when the whole transaction is armed.
 */
#include <linux/kernel.h>
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
	if (!site->addr || site->len < 1 || site->len > X_SIE_MAX_INSN || !xsie_zero(site->pad, sizeof(site->pad)) ||
	    !xsie_zero(site->bytes + site->len, sizeof(site->bytes) - site->len)) {
		REFUSE(req, "span %u: malformed %s site", i, what);
		return -EINVAL;
	}
	return 0;
}

/* Every field of the request, before anything else happens. */
static int xsie_validate(struct x_sie_load *req, const struct x_sie_const *consts, const struct x_sie_span *spans)
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
	if (!memcmp(live, site->bytes, site->len))
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

static struct xsie_tx *xsie_build_tx(const struct x_sie_load *req, struct x_sie_const *consts,
				     const struct x_sie_span *spans)
{
	struct xsie_tx *tx = kzalloc(sizeof(*tx), GFP_KERNEL);
	u32 i;

	if (!tx)
		return NULL;
	tx->n_consts = req->n_consts;
	tx->n_spans = req->n_spans;
	tx->consts = consts;
	tx->spans = kvcalloc(req->n_spans, sizeof(*tx->spans), GFP_KERNEL);
	if (!tx->spans)
		goto fail;
	for (i = 0; i < req->n_spans; i++) {
		struct xsie_span *s = &tx->spans[i];

		s->tx = tx;
		s->index = i;
		s->const_index = spans[i].const_index;
		s->kind = spans[i].kind;
		s->value = consts[s->const_index].value;
		memcpy(s->label, spans[i].label, sizeof(s->label));
		s->prog = spans[i].prog;
		atomic64_set(&s->hits, 0);
		atomic64_set(&s->skipped, 0);
		atomic64_set(&s->captures, 0);
		atomic64_set(&s->faults, 0);
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
	tx->consts = NULL;	/* the caller still owns them */
	xsie_free_tx(tx);
	return NULL;
}

static struct xsie_tx *xsie_find_const(const char *name)
{
	struct xsie_tx *tx;
	u32 i;

	list_for_each_entry(tx, &xsie_txs, node)
		for (i = 0; i < tx->n_consts; i++)
			if (!strcmp(tx->consts[i].name, name))
				return tx;
	return NULL;
}

long xsie_load(struct x_sie_load *req)
{
	struct x_sie_const *consts = NULL;
	struct x_sie_span *spans = NULL;
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
	    req->n_spans > X_SIE_MAX_SPANS) {
		REFUSE(req, "%u consts and %u spans: 1..%u and 1..%u allowed", req->n_consts, req->n_spans,
		       X_SIE_MAX_CONSTS, X_SIE_MAX_SPANS);
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
	ret = xsie_validate(req, consts, spans);
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
	/* Held while the transaction is active: rmmod is refused. */
	if (!try_module_get(THIS_MODULE)) {
		REFUSE(req, "the module is being removed");
		ret = -ENODEV;
		goto unlock;
	}
	tx = xsie_build_tx(req, consts, spans);
	if (!tx) {
		module_put(THIS_MODULE);
		REFUSE(req, "out of memory");
		ret = -ENOMEM;
		goto unlock;
	}
	consts = NULL;	/* owned by tx */
	ret = xsie_register(req, tx);
	if (ret) {
		xsie_unregister(tx);
		xsie_free_tx(tx);
		module_put(THIS_MODULE);
		goto unlock;
	}
	tx->id = xsie_next_id++;
	list_add_tail(&tx->node, &xsie_txs);
	WRITE_ONCE(tx->armed, 1);
	req->tx_id = tx->id;
	pr_info("x_sie: transaction %u: %u const(s), %u span(s) attached\n", tx->id, tx->n_consts, tx->n_spans);
unlock:
	mutex_unlock(&xsie_lock);
out:
	if (ret)
		pr_info("x_sie: load refused: %s\n", req->error);
	kfree(consts);
	kvfree(spans);
	return ret;
}

static void xsie_detach(struct xsie_tx *tx)
{
	xsie_unregister(tx);
	list_del(&tx->node);
	pr_info("x_sie: transaction %u detached\n", tx->id);
	xsie_free_tx(tx);
	module_put(THIS_MODULE);
}

long xsie_unload(u32 id)
{
	struct xsie_tx *tx;
	long ret = -ENOENT;

	mutex_lock(&xsie_lock);
	list_for_each_entry(tx, &xsie_txs, node)
		if (tx->id == id) {
			xsie_detach(tx);
			ret = 0;
			break;
		}
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
	struct xsie_tx *tx;
	u32 n = 0, ntx = 0, cap = req->capacity, i;
	long ret = 0;

	if (req->abi_version != X_SIE_ABI_VERSION)
		return -EINVAL;
	if (cap > X_SIE_MAX_SPANS * 64)
		cap = X_SIE_MAX_SPANS * 64;
	if (cap) {
		out = kvcalloc(cap, sizeof(*out), GFP_KERNEL);
		if (!out)
			return -ENOMEM;
	}
	mutex_lock(&xsie_lock);
	list_for_each_entry(tx, &xsie_txs, node) {
		ntx++;
		for (i = 0; i < tx->n_spans; i++, n++) {
			struct xsie_span *s = &tx->spans[i];
			struct x_sie_span_status *r;

			if (n >= cap)
				continue;
			r = &out[n];
			r->tx_id = tx->id;
			r->span_index = i;
			strscpy(r->const_name, tx->consts[s->const_index].name, sizeof(r->const_name));
			r->value = s->value;
			strscpy(r->label, s->label, sizeof(r->label));
			r->probe_addr = (unsigned long)s->probe.addr;
			r->capture_addr = s->caps ? (unsigned long)s->capture.addr : 0;
			r->hits = atomic64_read(&s->hits);
			r->skipped = atomic64_read(&s->skipped);
			r->captures = atomic64_read(&s->captures);
			r->faults = atomic64_read(&s->faults);
			r->missed = s->probe.nmissed + (s->caps ? s->capture.nmissed : 0);
			r->probe_state = xsie_probe_state(&s->probe);
			r->capture_state = s->caps ? xsie_probe_state(&s->capture) : X_SIE_PROBE_NONE;
			r->kind = s->kind;
		}
	}
	mutex_unlock(&xsie_lock);
	req->n_spans = n;
	req->n_transactions = ntx;
	if (out && copy_to_user(u64_to_user_ptr(req->spans), out, min(n, cap) * sizeof(*out)))
		ret = -EFAULT;
	kvfree(out);
	return ret;
}
