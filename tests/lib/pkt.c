// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"

static void put16(__u8 *b, __u16 v)
{
	b[0] = v >> 8;
	b[1] = v & 0xff;
}

static void put32(__u8 *b, __u32 v)
{
	put16(b, v >> 16);
	put16(b + 2, v & 0xffff);
}

static __u16 get16(const __u8 *b)
{
	return (__u16)(b[0] << 8 | b[1]);
}

/* RFC 1071 one's-complement sum, folded, not inverted. */
static __u32 sum16(const __u8 *b, __u32 len, __u32 sum)
{
	for (__u32 i = 0; i + 1 < len; i += 2)
		sum += get16(b + i);
	if (len & 1)
		sum += b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static void die(const char *what)
{
	fprintf(stderr, "pkt: bad test packet spec: %s\n", what);
	abort();
}

/* Pseudo-header sum for the TCP checksum. */
static __u32 pseudo_sum(const __u8 *frame, __u32 l3, __u32 l4_len, int family)
{
	__u8 ph[40] = {};

	if (family == 4) {
		memcpy(ph, frame + l3 + 12, 8);
		ph[9] = 6;
		put16(ph + 10, l4_len);
		return sum16(ph, 12, 0);
	}
	memcpy(ph, frame + l3 + 8, 32);
	put32(ph + 32, l4_len);
	ph[39] = 6;
	return sum16(ph, 40, 0);
}

void pkt_fix_checksums(struct pkt *p)
{
	__u8 *f = p->data;
	int family = f[p->l3] >> 4;
	__u32 l4_len = p->len - p->l4;

	if (family == 4) {
		__u32 ihl = (f[p->l3] & 0xf) * 4;

		put16(f + p->l3 + 10, 0);
		put16(f + p->l3 + 10, ~sum16(f + p->l3, ihl, 0) & 0xffff);
	}
	put16(f + p->l4 + 16, 0);
	put16(f + p->l4 + 16,
	      ~sum16(f + p->l4, l4_len, pseudo_sum(f, p->l3, l4_len, family)) &
		      0xffff);
}

void pkt_tcp(struct pkt *p, const struct tcp_spec *s)
{
	__u8 *f = p->data, *ip, *tcp;
	__u32 iphl, ext = s->ipv6_ext * 8, tcphl = 20;

	memset(p, 0, sizeof(*p));
	if (s->ip_options % 4 || s->ip_options > 40)
		die("ip_options");
	/* Ethernet: fixed locally administered MACs. */
	memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	put16(f + 12, s->family == 4 ? 0x0800 : 0x86dd);
	p->l3 = 14;
	ip = f + p->l3;
	if (s->family == 4) {
		iphl = 20 + s->ip_options;
		p->l4 = p->l3 + iphl;
		p->len = p->l4 + tcphl + s->payload;
		if (p->len > PKT_MAX)
			die("too long");
		ip[0] = 0x40 | iphl / 4;
		put16(ip + 2, p->len - p->l3);
		put16(ip + 4, 0x1234);
		put16(ip + 6, 0x4000);	/* DF */
		ip[8] = 64;
		ip[9] = 6;
		if (inet_pton(AF_INET, s->src, ip + 12) != 1 ||
		    inet_pton(AF_INET, s->dst, ip + 16) != 1)
			die("IPv4 address");
		memset(ip + 20, 1, s->ip_options);	/* NOPs */
	} else {
		p->l4 = p->l3 + 40 + ext;
		p->len = p->l4 + tcphl + s->payload;
		if (p->len > PKT_MAX)
			die("too long");
		ip[0] = 0x60;
		put16(ip + 4, p->len - p->l3 - 40);
		ip[6] = s->ipv6_ext ? 60 : 6;	/* destination options */
		ip[7] = 64;
		if (inet_pton(AF_INET6, s->src, ip + 8) != 1 ||
		    inet_pton(AF_INET6, s->dst, ip + 24) != 1)
			die("IPv6 address");
		for (int i = 0; i < s->ipv6_ext; i++) {
			__u8 *h = ip + 40 + i * 8;

			h[0] = i + 1 < s->ipv6_ext ? 60 : 6;
			h[1] = 0;		/* 8 bytes */
			h[2] = 1;		/* PadN option */
			h[3] = 4;
		}
	}
	tcp = f + p->l4;
	put16(tcp, s->sport);
	put16(tcp + 2, s->dport);
	put32(tcp + 4, 1000);
	put32(tcp + 8, s->flags & TH_ACK ? 2000 : 0);
	tcp[12] = (tcphl / 4) << 4;
	tcp[13] = s->flags;
	put16(tcp + 14, 65535);
	for (__u32 i = 0; i < s->payload; i++)
		tcp[tcphl + i] = (__u8)i;
	pkt_fix_checksums(p);
}

bool pkt_checksums_ok(const __u8 *f, __u32 len)
{
	__u32 l3 = 14, l4, l4_len;
	int family;

	if (len < l3 + 20)
		return false;
	family = f[l3] >> 4;
	if (family == 4) {
		__u32 ihl = (f[l3] & 0xf) * 4;

		if (sum16(f + l3, ihl, 0) != 0xffff)
			return false;
		l4 = l3 + ihl;
	} else {
		__u8 next = f[l3 + 6];

		l4 = l3 + 40;
		while (next == 60) {
			next = f[l4];
			l4 += (f[l4 + 1] + 1) * 8;
		}
	}
	if (len < l4 + 20)
		return false;
	l4_len = len - l4;
	return sum16(f + l4, l4_len, pseudo_sum(f, l3, l4_len, family)) == 0xffff;
}
