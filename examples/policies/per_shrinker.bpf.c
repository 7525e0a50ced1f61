// SPDX-License-Identifier: GPL-2.0
// Per-object decisions (paper Appendix D): SHRINK_BATCH per shrinker. The
// X-tune runs at do_shrink_slab's critical span, where %rsi still holds the
// shrinker being scanned: shrinkers that declare seeks == 7 (the lab's test
// shrinker) are scanned in batches of 32; every other shrinker keeps the
// compiled batch (no x_set: the runtime leaves the code alone).
//   kx load examples/policies/per_shrinker.bpf.c
#include "x_tune.h"

char LICENSE[] SEC("license") = "GPL";

X_TUNE("SHRINK_BATCH")
int x_tune_SHRINK_BATCH(struct pt_regs *ctx)
{
	struct shrinker *s = (struct shrinker *)PT_REGS_PARM2(ctx);

	if (BPF_CORE_READ(s, seeks) == 7)
		x_set(ctx, 32);
	return 0;
}
