/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Building test packets: Ethernet + IPv4/IPv6 + TCP with correct checksums,
 * and checking the checksums of any frame independently of the datapath.
 */
#ifndef SW_TEST_PKT_H
#define SW_TEST_PKT_H

#include <stdbool.h>
#include <linux/types.h>

#define PKT_MAX 512

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

struct pkt {
	__u8 data[PKT_MAX];
	__u32 len;
	__u32 l3;		/* offset of the IP header */
	__u32 l4;		/* offset of the TCP header */
};

struct tcp_spec {
	int family;		/* 4 or 6 */
	const char *src, *dst;
	__u16 sport, dport;
	__u8 flags;		/* TH_* */
	__u16 payload;		/* bytes of payload */
	__u8 ip_options;	/* IPv4: bytes of options (multiple of 4, <= 40) */
	__u8 ipv6_ext;		/* IPv6: destination-options headers before TCP */
};

/* A valid frame as described; aborts the test program on a bad spec. */
void pkt_tcp(struct pkt *p, const struct tcp_spec *s);

/* Recompute the IPv4 header and TCP checksums into the frame. */
void pkt_fix_checksums(struct pkt *p);

/* Do the IPv4 header and TCP checksums of the frame verify? */
bool pkt_checksums_ok(const __u8 *frame, __u32 len);

#endif /* SW_TEST_PKT_H */
