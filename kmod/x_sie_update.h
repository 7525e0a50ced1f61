/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The update program's checker and evaluator (paper §3.4: the indirection
 * that makes the state at a critical span's exit what the new value would
 * have produced). Plain C, compiled into x-sie.ko and into kx's unit tests,
 * so the tests exercise the very evaluator the kprobe handler runs.
 */
#ifndef X_SIE_UPDATE_H
#define X_SIE_UPDATE_H

#include "x_sie_uapi.h"

#ifdef __KERNEL__
#include <linux/stddef.h>
#else
#include <stddef.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The registers and flags an update reads (at the probe, or captured). */
struct x_sie_state {
	__u64 regs[X_SIE_NR_REGS];
	__u64 flags;
	__u64 gs_base;	/* the per-CPU base (probe only) */
	__u64 switches;	/* the task's context switches (capture only) */
};

/* Per assignment: its value and, for MEM8, the address. */
struct x_sie_results {
	__u64 value[X_SIE_MAX_ASSIGNS];
	__u64 addr[X_SIE_MAX_ASSIGNS];
};

/*
 * Checks every field of a program against the update language: known
 * operations, operands strictly before their node (so no loops), widths
 * consistent as the reference evaluator assumes, registers and flags it may
 * touch, captures only on dual spans. 0 if valid; else -1 and a reason in err.
 */
int x_sie_prog_check(const struct x_sie_prog *p, int has_capture, char *err, size_t errlen);

/*
 * Evaluates every assignment on `now` (the state at the probe), `cap` (the
 * captured state; may be NULL when the program reads no capture) and v, in
 * one forward pass over the nodes. `scratch` holds X_SIE_MAX_NODES values.
 * Bounded: at most X_SIE_MAX_NODES steps, each LOAD one read that cannot
 * fault (copy_from_kernel_nofault), no other calls. 0, or -EFAULT when a
 * LOAD faulted: then `out` is unset and the update must not run.
 */
int x_sie_prog_eval(const struct x_sie_prog *p, const struct x_sie_state *now, const struct x_sie_state *cap,
		    __u64 v, __u64 *scratch, struct x_sie_results *out);

#ifndef __KERNEL__
/*
 * What a LOAD reads outside the kernel (the unit tests): 0 and the value,
 * or non-zero for a fault. NULL: every read faults.
 */
extern int (*x_sie_user_read)(__u64 addr, unsigned int bytes, __u64 *val);
#endif

/* Writes the REG and FLAG results into s (MEM8 writes are the caller's). */
void x_sie_prog_apply(const struct x_sie_prog *p, const struct x_sie_results *r, struct x_sie_state *s);

#ifdef __cplusplus
}
#endif

#endif /* X_SIE_UPDATE_H */
