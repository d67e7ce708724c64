// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark-only programs, never attached to an interface.
 *
 * bench_xdp_floor is the yardstick `make bench` divides by: the least an XDP
 * program that counts packets does (one array lookup, one atomic add).
 * bench_*_empty do nothing: what the kernel's test loop itself costs per run,
 * which every figure includes (see doc/benchmark.md).
 *
 * BPF_PROG_TEST_RUN with `repeat` runs a program on the same buffer again and
 * again, so paths that need the packet to change between runs go through a
 * wrapper that tail-calls the program under test (slot 0 of xdp_target or
 * tc_target):
 *  - bench_*_new_flow: a new source address and port each run, so every run
 *    is the first SYN of a new connection (IPv4 test packets);
 *  - bench_xdp_reset_meta: drops the metadata word the previous run left.
 * A wrapper around bench_*_floor measures the wrapper alone, so its cost can
 * be taken out.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "consts.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Ethernet + IPv4 without options: where the addresses and ports sit. */
#define SADDR_OFF (14 + 12)
#define SPORT_OFF (14 + 20)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bench_count SEC(".maps");

/* One per program type: a program array serves programs of one type. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xdp_target SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tc_target SEC(".maps");

/* Flows made so far; the userspace side starts each batch where it likes. */
__u32 next_flow;

static __always_inline int count(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&bench_count, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

SEC("xdp")
int bench_xdp_empty(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

SEC("tc")
int bench_tc_empty(struct __sk_buff *skb)
{
	(void)skb;
	return TC_ACT_OK;
}

SEC("sk_lookup")
int bench_sk_lookup_empty(struct bpf_sk_lookup *ctx)
{
	(void)ctx;
	return SK_PASS;
}

SEC("xdp")
int bench_xdp_floor(struct xdp_md *ctx)
{
	(void)ctx;
	count();
	return XDP_PASS;
}

SEC("tc")
int bench_tc_floor(struct __sk_buff *skb)
{
	(void)skb;
	count();
	return TC_ACT_OK;
}

/* Give the frame the next (client address, port): 64512 ports per address. */
static __always_inline int new_flow(void *data, void *end)
{
	__u32 n = __sync_fetch_and_add(&next_flow, 1);
	__be16 *sport = data + SPORT_OFF;
	__be16 *saddr_lo = data + SADDR_OFF + 2;

	if ((void *)(sport + 1) > end)
		return -1;
	*sport = bpf_htons(1024 + n % 64512);
	*saddr_lo = bpf_htons(n / 64512);
	return 0;
}

SEC("xdp")
int bench_xdp_new_flow(struct xdp_md *ctx)
{
	if (new_flow((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &xdp_target, 0);
	return XDP_ABORTED;
}

SEC("tc")
int bench_tc_new_flow(struct __sk_buff *skb)
{
	if (new_flow((void *)(long)skb->data, (void *)(long)skb->data_end))
		return TC_ACT_SHOT;
	bpf_tail_call(skb, &tc_target, 0);
	return TC_ACT_SHOT;
}

SEC("xdp")
int bench_xdp_reset_meta(struct xdp_md *ctx)
{
	long meta_len = (long)ctx->data - (long)ctx->data_meta;

	if (meta_len > 0 && bpf_xdp_adjust_meta(ctx, (int)meta_len))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &xdp_target, 0);
	return XDP_ABORTED;
}
