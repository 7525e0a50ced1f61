// SPDX-License-Identifier: GPL-2.0
// Per-flow decisions (paper Fig. 7 and Appendix D): CUBIC's HyStart delay
// thresholds per connection. The X-tunes run at cubictcp_acked's critical
// spans, where %rbx holds the socket (cubictcp_acked moves it there from
// %rdi in its prologue; %rdi is reused by then): long-RTT flows (smoothed RTT
// above 20 ms) get a threshold floor three times the default (12 ms: its
// proven range ends below the compiled ceiling of 16 ms) and a ceiling eight
// times it, so queueing delay that is small against their RTT does not end
// slow start early; short flows keep the compiled thresholds.
//   kx load examples/policies/per_flow_hystart.bpf.c
#include "x_tune.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline int long_rtt(struct pt_regs *ctx)
{
	struct tcp_sock *tp = (struct tcp_sock *)ctx->bx;

	return (BPF_CORE_READ(tp, srtt_us) >> 3) > 20000;	/* srtt_us holds 8x the RTT */
}

X_TUNE("HYSTART_DELAY_MIN")
int x_tune_HYSTART_DELAY_MIN(struct pt_regs *ctx)
{
	if (long_rtt(ctx))
		x_set(ctx, 3 * x_default());
	return 0;
}

X_TUNE("HYSTART_DELAY_MAX")
int x_tune_HYSTART_DELAY_MAX(struct pt_regs *ctx)
{
	if (long_rtt(ctx))
		x_set(ctx, 8 * x_default());
	return 0;
}
