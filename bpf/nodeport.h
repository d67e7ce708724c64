/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NodePorts. A service's node_port N matches TCP to port N on any of the
 * node's own addresses, as kube-proxy matches NodePorts (`-m addrtype
 * --dst-type LOCAL`). Its services entry has no address: {0, N, tcp,
 * family}. A packet whose own address:port is no service's, to (or, for a
 * reply, from) one of the node's addresses on such a port, takes that key:
 * its VIP is zeroed, so its flow and its slot are the NodePort service's.
 * Steering still uses the packet's own tuple (packet.svc_addr).
 *
 * The node's addresses are the node_addrs map, which the agent keeps from
 * rtnetlink address events. Not bpf_fib_lookup: it answers
 * BPF_FIB_LKUP_RET_NOT_FWDED alike for a local address, a broadcast or
 * multicast one, and one with no route at all (any error it does not map
 * to blackhole, unreachable or prohibit), and BPF_FIB_LKUP_RET_FWD_DISABLED
 * without looking wherever forwarding is off on the interface
 * (net/core/filter.c, bpf_ipv4_fib_lookup and bpf_ipv6_fib_lookup); a hash
 * lookup also costs less than a route lookup.
 */
#ifndef SW_BPF_NODEPORT_H
#define SW_BPF_NODEPORT_H

#include "maps.h"
#include "parse.h"
#include "service.h"

/*
 * Set by the agent (in both instances of the programs) while a service has
 * a node_port: until then a packet that is no VIP's costs nothing more.
 */
bool node_ports;

static __always_inline bool node_address(const struct packet *p)
{
	struct sw_node_addr_key k = { .family = p->key.svc.family };

	__builtin_memcpy(k.addr, p->svc_addr, sizeof(k.addr));
	return bpf_map_lookup_elem(&node_addrs, &k) != NULL;
}

/*
 * False: no service has this packet (as far as the filter can tell).
 * True: p->key names the service that may: its own VIP:port's, or the
 * NodePort's on the node address it was sent to (from, for a reply).
 */
static __always_inline bool service_key(struct packet *p)
{
	struct sw_service_key np;

	if (maybe_service(&p->key.svc))
		return true;
	if (!node_ports)
		return false;
	np = p->key.svc;
	__builtin_memset(np.vip, 0, sizeof(np.vip));
	if (!maybe_service(&np) || !node_address(p))
		return false;
	p->key.svc = np;
	return true;
}

#endif /* SW_BPF_NODEPORT_H */
