// SPDX-License-Identifier: GPL-2.0
/*
 * Checker and evaluator of update programs. The semantics are exactly those
 * of evaluate_update_expr (src/synth/update_expr.cpp): u64 arithmetic masked
 * to each node's width, booleans as 0/1, shifts by >= width give 0 (or the
 * sign for ashr).
 */
#include "x_sie_update.h"

#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/uaccess.h>
#else
#include <errno.h>
#include <stdio.h>	/* __always_inline comes from the build (CMakeLists.txt) */
#endif

#ifdef __KERNEL__
/*
 * One read of 1, 2, 4 or 8 bytes (x86 has efficient unaligned access, so
 * copy_from_kernel_nofault reads them with one load): the span's own read,
 * later. User addresses are refused there.
 */
static int x_sie_read(__u64 addr, unsigned int bytes, __u64 *val)
{
	*val = 0;	/* little-endian: the low bytes */
	return copy_from_kernel_nofault(val, (const void *)(unsigned long)addr, bytes) ? -EFAULT : 0;
}
#else
int (*x_sie_user_read)(__u64 addr, unsigned int bytes, __u64 *val);

static int x_sie_read(__u64 addr, unsigned int bytes, __u64 *val)
{
	*val = 0;
	return x_sie_user_read && !x_sie_user_read(addr, bytes, val) ? 0 : -EFAULT;
}
#endif

static __always_inline __u64 x_sie_mask(unsigned int w)
{
	return w >= 64 ? ~0ULL : ((1ULL << w) - 1);
}

static __always_inline __s64 x_sie_signed(__u64 v, unsigned int w)
{
	__u64 m;

	if (w >= 64)
		return (__s64)v;
	m = 1ULL << (w - 1);
	return (__s64)(((v & x_sie_mask(w)) ^ m) - m);
}

/*
 * Division and remainder of w-bit operands with SMT-LIB's meaning, the one
 * the proofs use: a zero divisor and MIN / -1 are defined results here, so
 * the probe handler never traps (#DE) whatever the program says.
 */
static __u64 x_sie_divide(__u8 op, __u64 a, __u64 b, unsigned int w)
{
	__u64 m = x_sie_mask(w);
	__s64 sa = x_sie_signed(a, w), sb = x_sie_signed(b, w);

	a &= m;
	b &= m;
	switch (op) {
	case X_SIE_OP_UDIV:
		return b ? (a / b) & m : m;
	case X_SIE_OP_UREM:
		return b ? (a % b) & m : a;
	case X_SIE_OP_SDIV:
		if (!sb)
			return sa < 0 ? 1 : m;
		if (sb == -1)
			return (0 - a) & m;
		return (__u64)(sa / sb) & m;
	default: /* X_SIE_OP_SREM */
		if (!sb)
			return a;
		if (sb == -1)
			return 0;
		return (__u64)(sa % sb) & m;
	}
}

/* Operands of each operation (a, b, c), and whether it uses arg and imm. */
static unsigned int x_sie_arity(unsigned int op)
{
	switch (op) {
	case X_SIE_OP_CONST: case X_SIE_OP_V: case X_SIE_OP_REG: case X_SIE_OP_FLAG:
	case X_SIE_OP_CAP: case X_SIE_OP_CAPFLAG: case X_SIE_OP_GSBASE:
		return 0;
	case X_SIE_OP_EXTRACT: case X_SIE_OP_ZEXT: case X_SIE_OP_SEXT: case X_SIE_OP_NOT:
	case X_SIE_OP_NEG: case X_SIE_OP_BNOT: case X_SIE_OP_LOAD:
		return 1;
	case X_SIE_OP_ITE:
		return 3;
	default:
		return 2;
	}
}

static int x_sie_uses_arg(unsigned int op)
{
	return op == X_SIE_OP_REG || op == X_SIE_OP_FLAG || op == X_SIE_OP_CAP || op == X_SIE_OP_CAPFLAG ||
	       op == X_SIE_OP_EXTRACT;
}

static int x_sie_flag_ok(unsigned int bit)
{
	return bit < 32 && (X_SIE_FLAGS_MASK & (1u << bit));
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)
#define CHECK(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)

static int x_sie_node_check(const struct x_sie_prog *p, unsigned int i, char *err, size_t errlen)
{
	const struct x_sie_node *n = &p->nodes[i];
	unsigned int op = n->op, w = n->width, k = x_sie_arity(op);
	unsigned int wa = 0, wb = 0, wc = 0;

	if (op < X_SIE_OP_CONST || op >= X_SIE_OP_END)
		FAIL("node %u: unknown operation %u", i, op);
	if (n->pad[0] || n->pad[1])
		FAIL("node %u: padding not zero", i);
	if (w < 1 || w > 64)
		FAIL("node %u: width %u outside 1..64", i, w);
	/* Operands come strictly before the node: one forward pass, no cycles. */
	if ((k >= 1 ? n->a >= i : n->a != 0) || (k >= 2 ? n->b >= i : n->b != 0) ||
	    (k >= 3 ? n->c >= i : n->c != 0))
		FAIL("node %u: operand not an earlier node (or unused operand not 0)", i);
	if (!x_sie_uses_arg(op) && n->arg)
		FAIL("node %u: unused arg not 0", i);
	if (op != X_SIE_OP_CONST && n->imm)
		FAIL("node %u: unused imm not 0", i);
	if (k >= 1)
		wa = p->nodes[n->a].width;
	if (k >= 2)
		wb = p->nodes[n->b].width;
	if (k >= 3)
		wc = p->nodes[n->c].width;

	switch (op) {
	case X_SIE_OP_CONST:
		CHECK(!(n->imm & ~x_sie_mask(w)), "node %u: constant wider than %u bits", i, w);
		break;
	case X_SIE_OP_V:
	case X_SIE_OP_GSBASE:
		CHECK(w == 64, "node %u: v and gsbase are 64 bits", i);
		break;
	case X_SIE_OP_LOAD:
		CHECK((w == 8 || w == 16 || w == 32 || w == 64) && wa == 64,
		      "node %u: a load of %u bits at a %u-bit address", i, w, wa);
		break;
	case X_SIE_OP_REG:
	case X_SIE_OP_CAP:
		CHECK(w == 64 && n->arg < X_SIE_NR_REGS, "node %u: a register is one of 16, 64 bits", i);
		CHECK(op != X_SIE_OP_CAP || (p->capture_mask & (1u << n->arg)),
		      "node %u: reads register %u, which is not captured", i, n->arg);
		break;
	case X_SIE_OP_FLAG:
	case X_SIE_OP_CAPFLAG:
		CHECK(w == 1 && x_sie_flag_ok(n->arg), "node %u: flag bit %u is not cf/pf/af/zf/sf/of", i, n->arg);
		CHECK(op != X_SIE_OP_CAPFLAG || (p->capture_mask & X_SIE_CAPTURE_FLAGS),
		      "node %u: reads a captured flag, but flags are not captured", i);
		break;
	case X_SIE_OP_EXTRACT:
		CHECK(n->arg + w <= wa, "node %u: extract of bits %u..%u from %u bits", i, n->arg, n->arg + w - 1, wa);
		break;
	case X_SIE_OP_ZEXT:
	case X_SIE_OP_SEXT:
		CHECK(wa <= w, "node %u: extension narrows %u to %u bits", i, wa, w);
		break;
	case X_SIE_OP_CONCAT:
		CHECK(wa + wb == w, "node %u: concat of %u and %u bits is not %u", i, wa, wb, w);
		break;
	case X_SIE_OP_NOT:
	case X_SIE_OP_NEG:
		CHECK(wa == w, "node %u: operand width %u, result %u", i, wa, w);
		break;
	case X_SIE_OP_ADD: case X_SIE_OP_SUB: case X_SIE_OP_MUL: case X_SIE_OP_AND: case X_SIE_OP_OR:
	case X_SIE_OP_XOR: case X_SIE_OP_SHL: case X_SIE_OP_LSHR: case X_SIE_OP_ASHR:
	case X_SIE_OP_UDIV: case X_SIE_OP_UREM: case X_SIE_OP_SDIV: case X_SIE_OP_SREM:
		CHECK(wa == w && wb == w, "node %u: operand widths %u, %u, result %u", i, wa, wb, w);
		break;
	case X_SIE_OP_ITE:
		CHECK(wa == 1 && wb == w && wc == w, "node %u: ite widths %u ? %u : %u -> %u", i, wa, wb, wc, w);
		break;
	case X_SIE_OP_EQ: case X_SIE_OP_ULT: case X_SIE_OP_ULE: case X_SIE_OP_SLT: case X_SIE_OP_SLE:
		CHECK(w == 1 && wa == wb, "node %u: comparison of %u and %u bits", i, wa, wb);
		break;
	case X_SIE_OP_BNOT:
		CHECK(w == 1 && wa == 1, "node %u: bnot of %u bits", i, wa);
		break;
	default:
		CHECK(w == 1 && wa == 1 && wb == 1, "node %u: boolean op on %u, %u bits", i, wa, wb);
		break;
	}
	return 0;
}

int x_sie_prog_check(const struct x_sie_prog *p, int has_capture, char *err, size_t errlen)
{
	__u32 regs_written = 0, flags_written = 0;
	unsigned int i;

	if (p->n_nodes < 1 || p->n_nodes > X_SIE_MAX_NODES)
		FAIL("%u nodes (1..%u allowed)", p->n_nodes, X_SIE_MAX_NODES);
	if (p->n_assigns < 1 || p->n_assigns > X_SIE_MAX_ASSIGNS)
		FAIL("%u assignments (1..%u allowed)", p->n_assigns, X_SIE_MAX_ASSIGNS);
	if (p->capture_mask & ~((X_SIE_CAPTURE_SWITCHES << 1) - 1))
		FAIL("capture mask 0x%x names no register, flags or switches", p->capture_mask);
	if (has_capture ? p->capture_mask == 0 : p->capture_mask != 0)
		FAIL("%s", has_capture ? "a dual span captures nothing" : "captures without a capture site");
	for (i = 0; i < p->n_nodes; i++)
		if (x_sie_node_check(p, i, err, errlen))
			return -1;
	for (i = 0; i < p->n_assigns; i++) {
		const struct x_sie_assign *a = &p->assigns[i];
		unsigned int wv, wa;

		if (a->value >= p->n_nodes || a->addr >= p->n_nodes)
			FAIL("assignment %u: node out of range", i);
		wv = p->nodes[a->value].width;
		wa = p->nodes[a->addr].width;
		switch (a->dest) {
		case X_SIE_DEST_REG:
			if (a->index >= X_SIE_NR_REGS || a->index == X_SIE_RSP)
				FAIL("assignment %u: register %u cannot be written", i, a->index);
			if (regs_written & (1u << a->index))
				FAIL("assignment %u: register %u written twice", i, a->index);
			regs_written |= 1u << a->index;
			if (wv != 64 || a->addr)
				FAIL("assignment %u: a register takes a 64-bit value", i);
			break;
		case X_SIE_DEST_FLAG:
			if (!x_sie_flag_ok(a->index))
				FAIL("assignment %u: flag bit %u cannot be written", i, a->index);
			if (flags_written & (1u << a->index))
				FAIL("assignment %u: flag bit %u written twice", i, a->index);
			flags_written |= 1u << a->index;
			if (wv != 1 || a->addr)
				FAIL("assignment %u: a flag takes a 1-bit value", i);
			break;
		case X_SIE_DEST_MEM8:
			if (a->index || wv != 8 || wa != 64)
				FAIL("assignment %u: mem8 takes an 8-bit value at a 64-bit address", i);
			break;
		default:
			FAIL("assignment %u: unknown destination %u", i, a->dest);
		}
	}
	for (i = p->n_nodes; i < X_SIE_MAX_NODES; i++) {
		const struct x_sie_node *n = &p->nodes[i];

		if (n->op || n->width || n->arg || n->a || n->b || n->c || n->pad[0] || n->pad[1] || n->imm)
			FAIL("node %u beyond n_nodes is not zero", i);
	}
	for (i = p->n_assigns; i < X_SIE_MAX_ASSIGNS; i++) {
		const struct x_sie_assign *a = &p->assigns[i];

		if (a->dest || a->index || a->value || a->addr)
			FAIL("assignment %u beyond n_assigns is not zero", i);
	}
	return 0;
}

#undef CHECK
#undef FAIL

int x_sie_prog_eval(const struct x_sie_prog *p, const struct x_sie_state *now, const struct x_sie_state *cap,
		    __u64 v, __u64 *s, struct x_sie_results *out)
{
	unsigned int i;

	for (i = 0; i < p->n_nodes && i < X_SIE_MAX_NODES; i++) {
		const struct x_sie_node *n = &p->nodes[i];
		unsigned int w = n->width;
		__u64 m = x_sie_mask(w), r;

		switch (n->op) {
		case X_SIE_OP_CONST:
			r = n->imm;
			break;
		case X_SIE_OP_V:
			r = v;
			break;
		case X_SIE_OP_REG:
			r = now->regs[n->arg];
			break;
		case X_SIE_OP_FLAG:
			r = (now->flags >> n->arg) & 1;
			break;
		case X_SIE_OP_CAP:
			r = cap ? cap->regs[n->arg] : 0;
			break;
		case X_SIE_OP_CAPFLAG:
			r = cap ? (cap->flags >> n->arg) & 1 : 0;
			break;
		case X_SIE_OP_EXTRACT:
			r = (s[n->a] >> n->arg) & m;
			break;
		case X_SIE_OP_ZEXT:
			r = s[n->a] & m;
			break;
		case X_SIE_OP_SEXT:
			r = (__u64)x_sie_signed(s[n->a], p->nodes[n->a].width) & m;
			break;
		case X_SIE_OP_CONCAT:
			r = ((s[n->a] << p->nodes[n->b].width) | s[n->b]) & m;
			break;
		case X_SIE_OP_NOT:
			r = ~s[n->a] & m;
			break;
		case X_SIE_OP_NEG:
			r = (0 - s[n->a]) & m;
			break;
		case X_SIE_OP_ADD:
			r = (s[n->a] + s[n->b]) & m;
			break;
		case X_SIE_OP_SUB:
			r = (s[n->a] - s[n->b]) & m;
			break;
		case X_SIE_OP_MUL:
			r = (s[n->a] * s[n->b]) & m;
			break;
		case X_SIE_OP_AND:
			r = s[n->a] & s[n->b] & m;
			break;
		case X_SIE_OP_OR:
			r = (s[n->a] | s[n->b]) & m;
			break;
		case X_SIE_OP_XOR:
			r = (s[n->a] ^ s[n->b]) & m;
			break;
		case X_SIE_OP_SHL:
			r = s[n->b] >= w ? 0 : (s[n->a] << s[n->b]) & m;
			break;
		case X_SIE_OP_LSHR:
			r = s[n->b] >= w ? 0 : (s[n->a] >> s[n->b]) & m;
			break;
		case X_SIE_OP_ASHR:
			r = (__u64)(x_sie_signed(s[n->a], w) >> (s[n->b] >= w ? w - 1 : s[n->b])) & m;
			break;
		case X_SIE_OP_UDIV:
		case X_SIE_OP_UREM:
		case X_SIE_OP_SDIV:
		case X_SIE_OP_SREM:
			r = x_sie_divide(n->op, s[n->a], s[n->b], w);
			break;
		case X_SIE_OP_ITE:
			r = s[n->a] ? s[n->b] : s[n->c];
			break;
		case X_SIE_OP_EQ:
			r = s[n->a] == s[n->b];
			break;
		case X_SIE_OP_ULT:
			r = s[n->a] < s[n->b];
			break;
		case X_SIE_OP_ULE:
			r = s[n->a] <= s[n->b];
			break;
		case X_SIE_OP_SLT:
			r = x_sie_signed(s[n->a], p->nodes[n->a].width) < x_sie_signed(s[n->b], p->nodes[n->b].width);
			break;
		case X_SIE_OP_SLE:
			r = x_sie_signed(s[n->a], p->nodes[n->a].width) <= x_sie_signed(s[n->b], p->nodes[n->b].width);
			break;
		case X_SIE_OP_BNOT:
			r = s[n->a] ^ 1;
			break;
		case X_SIE_OP_BAND:
			r = s[n->a] & s[n->b];
			break;
		case X_SIE_OP_BOR:
			r = s[n->a] | s[n->b];
			break;
		case X_SIE_OP_BXOR:
			r = s[n->a] ^ s[n->b];
			break;
		case X_SIE_OP_LOAD:
			if (x_sie_read(s[n->a], w / 8, &r))
				return -EFAULT;
			r &= m;
			break;
		case X_SIE_OP_GSBASE:
			r = now->gs_base;
			break;
		default:
			r = 0;
			break;	/* unreachable: checked at load */
		}
		s[i] = r;
	}
	for (i = 0; i < p->n_assigns && i < X_SIE_MAX_ASSIGNS; i++) {
		out->value[i] = s[p->assigns[i].value];
		out->addr[i] = p->assigns[i].dest == X_SIE_DEST_MEM8 ? s[p->assigns[i].addr] : 0;
	}
	return 0;
}

void x_sie_prog_apply(const struct x_sie_prog *p, const struct x_sie_results *r, struct x_sie_state *st)
{
	unsigned int i;

	for (i = 0; i < p->n_assigns && i < X_SIE_MAX_ASSIGNS; i++) {
		const struct x_sie_assign *a = &p->assigns[i];

		if (a->dest == X_SIE_DEST_REG)
			st->regs[a->index] = r->value[i];
		else if (a->dest == X_SIE_DEST_FLAG)
			st->flags = (st->flags & ~(1ULL << a->index)) | ((r->value[i] & 1) << a->index);
	}
}

#ifdef __KERNEL__
/* Runs inside kprobe handlers: must never itself be probed. */
NOKPROBE_SYMBOL(x_sie_read);
NOKPROBE_SYMBOL(x_sie_prog_eval);
NOKPROBE_SYMBOL(x_sie_prog_apply);
#endif
