/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Steering overflowed connections to this node's tunnel endpoint, without
 * rewriting a byte: at TC ingress the packet is assigned to the endpoint's
 * socket (bpf_sk_assign) and marked, and a policy route on the mark delivers
 * it locally. The endpoint's listener is the one the agent put in the
 * endpoints map; the datapath spills only while there is one. The endpoint
 * is an IP_TRANSPARENT listener, so the accepted socket's local address is
 * the VIP:port the client dialled and its peer is the client: the endpoint
 * learns both from getsockname/getpeername, and the client sees every reply
 * come from VIP:port.
 *
 * Why this and not NAT to the endpoint plus reverse NAT on egress: no
 * checksum rewriting, no second map keyed by 4-tuple to keep in step, no
 * reply path to intercept, and the kernel's TCP stack does the rest.
 *
 * Only a connection's first packets need a socket lookup here: once one
 * finds the endpoint socket holding the connection, the flow says so
 * (SW_FLOW_ENDPOINT) and its later packets are only marked. The policy
 * route delivers them locally and the kernel's own demux finds that socket
 * by the packet's tuple, as for any local connection. Not before: the
 * handshake's last ACK may need the listener (a SYN cookie to check), and
 * the kernel would look for a listener on the VIP's port, not the
 * endpoint's.
 */
#ifndef SW_BPF_STEER_H
#define SW_BPF_STEER_H

#include "config.h"
#include "maps.h"
#include "parse.h"

/*
 * The packet's own tuple as bpf_sk_lookup wants it (network order): its
 * address on the wire, not the key's (a NodePort's key has none).
 */
static __always_inline __u32 socket_tuple(const struct packet *p,
					  struct bpf_sock_tuple *t)
{
	const struct sw_flow_key *k = &p->key;

	if (k->svc.family == SW_INET) {
		__builtin_memcpy(&t->ipv4.saddr, k->client, 4);
		__builtin_memcpy(&t->ipv4.daddr, p->svc_addr, 4);
		t->ipv4.sport = bpf_htons(k->client_port);
		t->ipv4.dport = bpf_htons(k->svc.port);
		return sizeof(t->ipv4);
	}
	__builtin_memcpy(t->ipv6.saddr, k->client, 16);
	__builtin_memcpy(t->ipv6.daddr, p->svc_addr, 16);
	t->ipv6.sport = bpf_htons(k->client_port);
	t->ipv6.dport = bpf_htons(k->svc.port);
	return sizeof(t->ipv6);
}

/* The endpoint's listener of the packet's family (the endpoints map). */
static __always_inline struct bpf_sock *endpoint_listener(const struct packet *p)
{
	__u32 slot = p->key.svc.family == SW_INET ? SW_ENDPOINT_IPV4 :
						    SW_ENDPOINT_IPV6;

	return bpf_map_lookup_elem(&endpoints, &slot);
}

/*
 * Is the agent's tunnel endpoint listening? It puts its listeners in the
 * endpoints map once spill_sk_lookup is attached (lookup.h), and a listener
 * leaves the map when it closes (the agent stopped). Not a listener lookup
 * on the endpoint's port: that would take any socket there for ours, and
 * run the kernel's listener lookup, spill_sk_lookup included.
 */
static __always_inline bool endpoint_ready(const struct packet *p)
{
	struct bpf_sock *sk = endpoint_listener(p);

	if (!sk)
		return false;
	bpf_sk_release(sk);
	return true;
}

enum steer_result {
	STEERED_HELD,		/* to the endpoint socket holding the connection */
	STEERED,		/* to the endpoint's listener */
	STEER_NO_ENDPOINT,	/* no endpoint socket to give the packet to */
	STEER_REFUSED,		/* bpf_sk_assign said no */
};

/* A connection an endpoint socket holds: the mark routes it locally. */
static __always_inline void tc_mark(struct __sk_buff *skb)
{
	skb->mark = steer_mark;
}

/*
 * Assign a packet to the endpoint. A connection the endpoint already holds
 * (established, or half-open in its SYN queue) is found on the packet's own
 * tuple and keeps its socket; only a packet with no socket yet goes to the
 * listener. owned_only: the flow is untracked, so assign it only if an
 * endpoint socket already owns it, never to the listener.
 */
static __always_inline int tc_steer(struct __sk_buff *skb,
				    const struct packet *p, bool owned_only)
{
	struct bpf_sock_tuple t = {};
	int steered = STEERED_HELD;
	struct bpf_sock *sk;
	__u32 size = socket_tuple(p, &t);
	long err;

	sk = bpf_skc_lookup_tcp(skb, &t, size, BPF_F_CURRENT_NETNS, 0);
	if (sk && sk->state == BPF_TCP_LISTEN) {
		bpf_sk_release(sk);
		sk = NULL;
	}
	if (!sk && !owned_only) {
		sk = endpoint_listener(p);
		steered = STEERED;
	}
	if (!sk)
		return STEER_NO_ENDPOINT;
	err = bpf_sk_assign(skb, sk, 0);
	bpf_sk_release(sk);
	if (err)
		return STEER_REFUSED;
	tc_mark(skb);
	return steered;
}

#endif /* SW_BPF_STEER_H */
