/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Protocol numbers and datapath limits. vmlinux.h carries kernel types but
 * not UAPI macros, so the few we need are defined here, once.
 */
#ifndef SW_BPF_CONSTS_H
#define SW_BPF_CONSTS_H

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define ETH_P_8021Q	0x8100
#define ETH_P_8021AD	0x88A8

#define TC_ACT_UNSPEC	(-1)	/* no verdict: the next filter decides */
#define TC_ACT_OK	0
#define TC_ACT_SHOT	2

/* Address families (bpf_sk_lookup.family). */
#define AF_INET		2
#define AF_INET6	10

/* errno values returned by helpers and by spill_ctl (errno.h is userspace). */
#define ENOENT		2
#define EEXIST		17
#define EINVAL		22
#define EALREADY	114

#define IP_MF		0x2000	/* more fragments */
#define IP_OFFSET	0x1FFF	/* fragment offset, 8-byte units */

/* IPv6 next-header values (in6.h macros, absent from vmlinux.h). */
#define NEXTHDR_HOP	0
#define NEXTHDR_ROUTING	43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH	51
#define NEXTHDR_DEST	60

/* TCP flags byte (offset 13 of the header). */
#define TCP_FIN		0x01
#define TCP_SYN		0x02
#define TCP_RST		0x04
#define TCP_ACK		0x10

/*
 * Bytes a TC program pulls into the linear area when headers straddle it:
 * Ethernet + the largest IPv4 header (60) + a full TCP header (60), which
 * also covers IPv6 with short extension headers.
 */
#define SW_PARSE_PULL_LEN (14 + 60 + 60)

#endif /* SW_BPF_CONSTS_H */
