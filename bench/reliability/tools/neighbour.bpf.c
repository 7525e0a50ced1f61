// SPDX-License-Identifier: GPL-2.0
/* A third-party kprobe program, as a tracing tool would attach one: it only
 * counts its hits. bench/reliability/stress.sh puts it at x-sie.ko's own
 * probe sites while transactions come and go.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

SEC("kprobe")
int neighbour(void *ctx)
{
	__u32 k = 0;
	__u64 *n = bpf_map_lookup_elem(&hits, &k);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
