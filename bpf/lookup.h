/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kernel's listener lookup, for a steered connection's packet that
 * reached TCP with no socket to go to. spill_sk_lookup, attached to the
 * agent's network namespace, answers it with the tunnel endpoint's listener
 * (the endpoints map).
 *
 * TC settles every other case (steer.h); this one it cannot: a SYN that
 * reuses the port of a connection whose endpoint socket is in TIME_WAIT (the
 * endpoint closes first when the service does). TC finds that TIME_WAIT
 * socket on the packet's tuple and can only hand the SYN to it; the kernel
 * accepts a new SYN on a TIME_WAIT socket by passing it to a listener, which
 * it looks up on the packet's own address and port, the VIP's, where nothing
 * listens. Without an answer from here it sent an ACK the client reset: the
 * client connected only on its retransmitted SYN, and the flow, released by
 * the reset and opened again, counted twice. TC cannot pick the endpoint's
 * listener either: the TIME_WAIT socket still holds the tuple, so a request
 * socket made from the SYN is dropped as a duplicate. The kernel's own path
 * retires the TIME_WAIT socket first.
 */
#ifndef SW_BPF_LOOKUP_H
#define SW_BPF_LOOKUP_H

#include "consts.h"
#include "flow.h"
#include "maps.h"
#include "nodeport.h"
#include "steer.h"

/*
 * The lookup's tuple as a packet from the client (service_key wants one).
 * Context fields are read one by one, at constant offsets: the verifier
 * refuses a context pointer moved by a variable or handed to a function.
 */
static __always_inline void lookup_packet(const struct bpf_sk_lookup *ctx,
					  struct packet *p)
{
	struct sw_flow_key *k = &p->key;
	__u32 *local = (__u32 *)p->svc_addr, *remote = (__u32 *)k->client;

	if (ctx->family == AF_INET) {
		k->svc.family = SW_INET;
		local[0] = ctx->local_ip4;
		remote[0] = ctx->remote_ip4;
	} else {
		k->svc.family = SW_INET6;
		local[0] = ctx->local_ip6[0];
		local[1] = ctx->local_ip6[1];
		local[2] = ctx->local_ip6[2];
		local[3] = ctx->local_ip6[3];
		remote[0] = ctx->remote_ip6[0];
		remote[1] = ctx->remote_ip6[1];
		remote[2] = ctx->remote_ip6[2];
		remote[3] = ctx->remote_ip6[3];
	}
	__builtin_memcpy(k->svc.vip, p->svc_addr, sizeof(k->svc.vip));
	k->svc.port = ctx->local_port;
	k->svc.proto = IPPROTO_TCP;
	k->client_port = bpf_ntohs(ctx->remote_port);
}

/* Is this lookup for a connection steered to the endpoint? (p: its tuple) */
static __always_inline bool lookup_steered(const struct bpf_sk_lookup *ctx,
					   struct packet *p)
{
	struct sw_flow *f;

	if (ctx->protocol != IPPROTO_TCP)
		return false;
	lookup_packet(ctx, p);
	if (!service_key(p))
		return false;
	f = lookup_flow(&p->key, flow_tag(&p->key));
	return f && verdict_of(f) != PASS;
}

/* Answer the lookup with the endpoint's listener of its family, if any. */
static __always_inline void lookup_endpoint(struct bpf_sk_lookup *ctx,
					    const struct packet *p)
{
	struct bpf_sock *sk = endpoint_listener(p);

	if (!sk)
		return;
	bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
}

#endif /* SW_BPF_LOOKUP_H */
