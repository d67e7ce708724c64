/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing: Ethernet -> IPv4/IPv6 (options, extension headers) -> TCP.
 * Fills the flow key of a packet or says, with one result per kind, why the
 * packet is not one we act on. Nothing here writes to the packet.
 */
#ifndef SW_BPF_PARSE_H
#define SW_BPF_PARSE_H

#include "consts.h"
#include "spillway/abi.h"

enum parse_result {
	PARSE_OK = 0,
	PARSE_NOT_IP,
	PARSE_NOT_TCP,
	PARSE_VLAN,
	PARSE_TRUNCATED_ETH,
	PARSE_TRUNCATED_IP,
	PARSE_TRUNCATED_IPV6,
	PARSE_TRUNCATED_TCP,
	PARSE_BAD_IP_VERSION,
	PARSE_BAD_IHL,
	PARSE_BAD_IP_LEN,
	PARSE_FRAGMENT,
	PARSE_IPV6_EXT_UNSUPPORTED,
	PARSE_BAD_TCP_DOFF,
	PARSE_BAD_TCP_FLAGS,
};

/* Valid but unusual headers, counted when the packet parses. */
#define PKT_IP_OPTIONS	(1U << 0)
#define PKT_IPV6_EXT	(1U << 1)

/*
 * Which side of the connection sent the packet: the client (towards the
 * VIP, seen at ingress) or the service (from the VIP, seen at egress). The
 * flow key is the same for both.
 */
enum direction {
	FROM_CLIENT,
	FROM_SERVICE,
};

struct packet {
	/*
	 * The flow key: the service's VIP:port and the client. For a NodePort
	 * the VIP is all zero (bpf/nodeport.h): svc_addr keeps the address.
	 */
	struct sw_flow_key key;
	__u8 svc_addr[16];	/* the service side's address on the wire */
	__u8 tcp_flags;
	__u8 unusual;		/* PKT_* */
	__u32 ifindex;		/* the link it came in on (set by the program) */
};

static __always_inline void copy_addrs(struct packet *p, const void *src,
				       const void *dst, __u32 len,
				       enum direction dir)
{
	if (dir == FROM_CLIENT) {
		__builtin_memcpy(p->key.client, src, len);
		__builtin_memcpy(p->key.svc.vip, dst, len);
		__builtin_memcpy(p->svc_addr, dst, len);
	} else {
		__builtin_memcpy(p->key.client, dst, len);
		__builtin_memcpy(p->key.svc.vip, src, len);
		__builtin_memcpy(p->svc_addr, src, len);
	}
}

static __always_inline int parse_tcp(void *l4, void *end, __u32 l4_len,
				     enum direction dir, struct packet *p)
{
	struct tcphdr *tcp = l4;

	if ((void *)(tcp + 1) > end)
		return PARSE_TRUNCATED_TCP;
	if (tcp->doff < 5)
		return PARSE_BAD_TCP_DOFF;
	if (l4 + tcp->doff * 4 > end)
		return PARSE_TRUNCATED_TCP;
	if (l4_len < tcp->doff * 4)
		return PARSE_BAD_IP_LEN;

	p->tcp_flags = ((__u8 *)tcp)[13];
	if ((p->tcp_flags & TCP_SYN) && (p->tcp_flags & (TCP_FIN | TCP_RST)))
		return PARSE_BAD_TCP_FLAGS;

	p->key.svc.proto = IPPROTO_TCP;
	if (dir == FROM_CLIENT) {
		p->key.client_port = bpf_ntohs(tcp->source);
		p->key.svc.port = bpf_ntohs(tcp->dest);
	} else {
		p->key.client_port = bpf_ntohs(tcp->dest);
		p->key.svc.port = bpf_ntohs(tcp->source);
	}
	return PARSE_OK;
}

static __always_inline int parse_ipv4(void *l3, void *end, enum direction dir,
				      struct packet *p)
{
	struct iphdr *ip = l3;
	__u32 hlen, tot_len;

	if ((void *)(ip + 1) > end)
		return PARSE_TRUNCATED_IP;
	if (ip->version != 4)
		return PARSE_BAD_IP_VERSION;
	if (ip->ihl < 5)
		return PARSE_BAD_IHL;
	hlen = ip->ihl * 4;
	tot_len = bpf_ntohs(ip->tot_len);
	if (tot_len < hlen)
		return PARSE_BAD_IP_LEN;
	if (l3 + hlen > end)
		return PARSE_TRUNCATED_IP;
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return PARSE_FRAGMENT;
	if (ip->protocol != IPPROTO_TCP)
		return PARSE_NOT_TCP;
	if (hlen > sizeof(*ip))
		p->unusual |= PKT_IP_OPTIONS;

	p->key.svc.family = SW_INET;
	copy_addrs(p, &ip->saddr, &ip->daddr, 4, dir);
	return parse_tcp(l3 + hlen, end, tot_len - hlen, dir, p);
}

static __always_inline int parse_ipv6(void *l3, void *end, enum direction dir,
				      struct packet *p)
{
	struct ipv6hdr *ip6 = l3;
	struct ipv6_opt_hdr *ext;
	__u32 off = sizeof(*ip6), len;
	__u8 next;

	if ((void *)(ip6 + 1) > end)
		return PARSE_TRUNCATED_IPV6;
	if (ip6->version != 6)
		return PARSE_BAD_IP_VERSION;
	next = ip6->nexthdr;
	len = bpf_ntohs(ip6->payload_len);

#pragma unroll
	for (int i = 0; i <= SW_MAX_IPV6_EXT; i++) {
		__u32 ext_len;

		if (next == IPPROTO_TCP) {
			if (len < off - sizeof(*ip6))
				return PARSE_BAD_IP_LEN;
			p->key.svc.family = SW_INET6;
			copy_addrs(p, &ip6->saddr, &ip6->daddr, 16, dir);
			return parse_tcp(l3 + off, end,
					 len - (off - sizeof(*ip6)), dir, p);
		}
		if (next == NEXTHDR_FRAGMENT)
			return PARSE_FRAGMENT;
		if (next != NEXTHDR_HOP && next != NEXTHDR_ROUTING &&
		    next != NEXTHDR_DEST && next != NEXTHDR_AUTH)
			return PARSE_NOT_TCP;
		if (i == SW_MAX_IPV6_EXT)
			break;

		ext = l3 + off;
		if ((void *)(ext + 1) > end)
			return PARSE_TRUNCATED_IPV6;
		if (next == NEXTHDR_AUTH)
			ext_len = (ext->hdrlen + 2) * 4;
		else
			ext_len = (ext->hdrlen + 1) * 8;
		next = ext->nexthdr;
		off += ext_len;
		p->unusual |= PKT_IPV6_EXT;
	}
	return PARSE_IPV6_EXT_UNSUPPORTED;
}

/*
 * Parse one frame. dir says which side sent it, so that the key names the
 * service and the client the same way in both directions.
 */
static __always_inline int parse_packet(void *data, void *end,
					enum direction dir, struct packet *p)
{
	struct ethhdr *eth = data;

	__builtin_memset(p, 0, sizeof(*p));
	if ((void *)(eth + 1) > end)
		return PARSE_TRUNCATED_ETH;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(eth + 1, end, dir, p);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(eth + 1, end, dir, p);
	if (eth->h_proto == bpf_htons(ETH_P_8021Q) ||
	    eth->h_proto == bpf_htons(ETH_P_8021AD))
		return PARSE_VLAN;
	return PARSE_NOT_IP;
}

static __always_inline bool parse_truncated(int r)
{
	return r == PARSE_TRUNCATED_ETH || r == PARSE_TRUNCATED_IP ||
	       r == PARSE_TRUNCATED_IPV6 || r == PARSE_TRUNCATED_TCP;
}

#endif /* SW_BPF_PARSE_H */
