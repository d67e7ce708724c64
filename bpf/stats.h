/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters: one lookup per packet, then plain increments. */
#ifndef SW_BPF_STATS_H
#define SW_BPF_STATS_H

#include "maps.h"
#include "parse.h"

static __always_inline struct sw_stats *stats_this_cpu(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

/* Count why a packet was passed without being looked at further. */
static __always_inline void count_parse_result(struct sw_stats *st, int r)
{
	switch (r) {
	case PARSE_NOT_IP:		st->not_ip++; break;
	case PARSE_NOT_TCP:		st->not_tcp++; break;
	case PARSE_VLAN:		st->vlan++; break;
	case PARSE_TRUNCATED_ETH:	st->truncated_eth++; break;
	case PARSE_TRUNCATED_IP:	st->truncated_ip++; break;
	case PARSE_TRUNCATED_IPV6:	st->truncated_ipv6++; break;
	case PARSE_TRUNCATED_TCP:	st->truncated_tcp++; break;
	case PARSE_BAD_IP_VERSION:	st->bad_ip_version++; break;
	case PARSE_BAD_IHL:		st->bad_ihl++; break;
	case PARSE_BAD_IP_LEN:		st->bad_ip_len++; break;
	case PARSE_FRAGMENT:		st->fragments++; break;
	case PARSE_IPV6_EXT_UNSUPPORTED: st->ipv6_ext_unsupported++; break;
	case PARSE_BAD_TCP_DOFF:	st->bad_tcp_doff++; break;
	case PARSE_BAD_TCP_FLAGS:	st->bad_tcp_flags++; break;
	}
}

static __always_inline void count_unusual(struct sw_stats *st,
					  const struct packet *p)
{
	if (p->unusual & PKT_IP_OPTIONS)
		st->ip_options++;
	if (p->unusual & PKT_IPV6_EXT)
		st->ipv6_ext_headers++;
}

#endif /* SW_BPF_STATS_H */
