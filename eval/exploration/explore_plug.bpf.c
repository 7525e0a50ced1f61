// SPDX-License-Identifier: GPL-2.0
// Online exploration (the paper's promised new capability): an X-tune that
// tries BLK_MAX_REQUEST_COUNT values one after another on the live
// workload, measures each with a metric taken in BPF itself (requests that
// reach the plug per second: every run of this program is one), and settles
// on the best. Nothing is rebuilt or rebooted, and every value it tries is
// one the proofs cover (the runtime refuses any other).
#include "x_tune.h"

char LICENSE[] SEC("license") = "GPL";

#define NCAND 5
#define EPOCH_NS 400000000ull	/* per candidate */
#define WARMUP_NS 100000000ull	/* of each epoch, not counted: the switch settles */

static const __s64 candidates[NCAND] = {4, 8, 16, 32, 64};

struct explore {
	__u64 epoch_start;	/* 0: not started */
	__u32 idx;		/* candidate being measured; NCAND: done */
	__u32 pad;
	__s64 best;
	__u64 runs[NCAND];	/* program runs in the counted part of each epoch */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct explore);
} explore SEC(".maps");

X_TUNE("BLK_MAX_REQUEST_COUNT")
int x_tune_BLK_MAX_REQUEST_COUNT(struct pt_regs *ctx)
{
	__u32 zero = 0, i;
	struct explore *e = bpf_map_lookup_elem(&explore, &zero);
	__u64 now = bpf_ktime_get_ns(), start;

	if (!e)
		return 0;
	start = e->epoch_start;
	if (!start) {
		/* First run: one CPU wins the start. */
		__sync_val_compare_and_swap(&e->epoch_start, 0, now);
		start = e->epoch_start;
	}
	i = e->idx;
	if (i < NCAND && now - start > EPOCH_NS &&
	    __sync_val_compare_and_swap(&e->epoch_start, start, now) == start) {
		/* This CPU closes the epoch: next candidate, or the verdict. */
		i++;
		if (i == NCAND) {
			__s64 best = candidates[0];
			__u64 most = e->runs[0];
			for (int k = 1; k < NCAND; k++)
				if (e->runs[k] > most) {
					most = e->runs[k];
					best = candidates[k];
				}
			e->best = best;
		}
		e->idx = i;
	}
	if (i >= NCAND) {
		x_set(ctx, e->best ? e->best : x_default());
		return 0;
	}
	if (now - e->epoch_start > WARMUP_NS)
		__sync_fetch_and_add(&e->runs[i], 1);
	x_set(ctx, candidates[i]);
	return 0;
}
