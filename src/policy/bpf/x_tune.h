/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernelx X-tune API for eBPF policies (paper §3.6, Figure 6).
 *
 * An X-tune is one kprobe program per perf-const, marked X_TUNE("ID"). The
 * runtime (x-sie.ko) runs it at each of the const's critical spans, on the
 * registers of the probed instruction, just before the proven update: the
 * value it passes to x_set() is the value the update applies for this run
 * of the span. Calling nothing keeps the compiled behaviour for this run; a
 * value outside the range the updates are proven for is refused (counted,
 * compiled behaviour kept). Policies never write kernel state: the module
 * does the one write the proof allows.
 *
 * Everything else is plain CO-RE BPF: read kernel state with BPF_CORE_READ,
 * keep state in maps, use app hints from maps user space fills. The program
 * runs in the probed context (often with interrupts off): keep it short.
 */
#ifndef KX_X_TUNE_H
#define KX_X_TUNE_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* Same layout as struct x_sie_slot in kmod/x_sie_uapi.h (kx checks the size at load). */
struct x_tune_slot {
	__u64 value;
	__u64 dflt;
	__u32 set;
	__u32 done;
};

/* One slot per CPU: the module fills dflt/done before each run and reads value/set after. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct x_tune_slot);
} x_sie_slot SEC(".maps");

/* The section kx load maps to the const ID (a kprobe program; kx never attaches it). */
#define X_TUNE(id) SEC("kprobe/x_tune/" id)

static __always_inline struct x_tune_slot *x__slot(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&x_sie_slot, &zero);
}

/* Use `value` for this run of the span (V, or T for a const compiled non-linearly). */
static __always_inline void x_set(struct pt_regs *ctx, __s64 value)
{
	struct x_tune_slot *s = x__slot();

	(void)ctx;
	if (s) {
		s->value = (__u64)value;
		s->set = 1;
	}
}

/* The const's compiled value. */
static __always_inline __s64 x_default(void)
{
	struct x_tune_slot *s = x__slot();

	return s ? (__s64)s->dflt : 0;
}

/* True once every task runs under the policy (the transition is complete). */
static __always_inline int x_transition_done(void)
{
	struct x_tune_slot *s = x__slot();

	return s ? (int)s->done : 0;
}

#endif /* KX_X_TUNE_H */
