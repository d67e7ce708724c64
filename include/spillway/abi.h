/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one definition of everything the datapath (bpf/) and userspace (user/)
 * share: map keys and values, state bits and the control-program request.
 *
 * Every map is BTF-typed, so `bpftool map dump pinned DIR/MAP` prints these
 * field names. Addresses are byte arrays in network order (10.96.0.10 dumps as
 * [10,96,0,10,0,...]); ports are in host order so they dump as plain numbers.
 */
#ifndef SPILLWAY_ABI_H
#define SPILLWAY_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/*
 * Layout version of the pinned maps. Bump it on any change to a struct in
 * this file or to a map's type, key, value or flags, and teach
 * user/datapath/upgrade.c to carry the old layout's maps over: an agent upgrades the
 * layouts it knows and refuses any other instead of reading it wrongly.
 */
#define SW_LAYOUT_VERSION 3

/* Remote clusters a service may spill to, in order of preference. */
#define SW_MAX_OVERFLOW_REMOTES 4
/* Size of the remotes map; remote id 0 is never used and means "none". */
#define SW_MAX_REMOTES 256
/*
 * Client addresses the clients map remembers (an LRU: beyond this, the
 * least recently seen are forgotten, and a link that goes then releases
 * only the flows of the clients still remembered).
 */
#define SW_MAX_CLIENTS 65536
/* Size of the services map. */
#define SW_MAX_SERVICES 65536
#define SW_MAX_VIPS_PER_NAME 8	/* addresses a service's name may give it */
/*
 * svc_filter map: 2^20 bits (128 KiB), 64 to a word. With 10,000 services
 * about 1% of other traffic passes it and pays a flow and service lookup.
 */
#define SW_FILTER_BITS_LOG2 20
#define SW_FILTER_WORDS ((1u << SW_FILTER_BITS_LOG2) / 64)
/*
 * IPv6 extension headers walked before giving up on a packet. Real traffic
 * to a service carries none or one; a longer chain is passed untouched and
 * counted as ipv6_ext_unsupported.
 */
#define SW_MAX_IPV6_EXT 4

enum sw_family {
	SW_INET = 4,
	SW_INET6 = 6,
};

/* services map key: one entry per VIP:port/protocol. */
struct sw_service_key {
	__u8 vip[16];		/* IPv4 in the first 4 bytes, the rest zero */
	__u16 port;		/* host byte order */
	__u8 proto;		/* IPPROTO_TCP */
	__u8 family;		/* enum sw_family */
} __attribute__((aligned(4)));

/* What the agent configures for a service; the datapath only reads it. */
struct sw_service_config {
	__u32 max_connections;	/* local active connections allowed */
	__u32 resume_below;	/* while overflowing, spill until local active < this */
	__u8 overflow_to[SW_MAX_OVERFLOW_REMOTES]; /* remote ids by preference, 0 ends */
};

/* Service state bits (sw_service.flags), changed with atomic operations. */
#define SW_SVC_OVERFLOWING (1U << 0)	/* spilling new connections (hysteresis) */

/* services map value. */
struct sw_service {
	struct sw_service_config cfg;
	/* Live state below: written by the datapath only, atomically. */
	__u32 flags;
	__u32 active_local;	/* connections holding a local slot */
	__u32 active_remote;	/* connections steered to a remote */
	__u64 local_total;	/* new connections admitted with a local slot */
	__u64 overflowed_total;	/* new connections steered to a remote */
	__u64 overflow_unavailable_total; /* should have spilled, no remote could: kept local */
	__u64 local_fallback_total; /* spilled, but the remote would not take it: served here */
	/*
	 * Set when the entry is created. A flow remembers the epoch it was
	 * counted in, so removing and re-adding a service never releases an
	 * old flow's slot into the new entry's counters.
	 */
	__u64 epoch;
	/*
	 * Local handshakes the client has not acknowledged yet, one bucket per
	 * tick of SW_HANDSHAKE_TICK_SHIFT (bucket = tick & 1), each word the
	 * tick (high 32 bits) and how many are still unacknowledged (low 32).
	 * A bucket two ticks old gives its slots back (bpf/handshake.h).
	 */
	__u64 handshakes[2];
	__u64 handshakes_aged_total; /* local slots given back unacknowledged after 1-2 ticks */
};

/*
 * Whether a service spills its next new connection: local active at the
 * threshold, or the service overflowing (SW_SVC_OVERFLOWING) and local
 * active not yet below resume_below (clamped to max_connections). One rule
 * for the datapath, which decides by it, and for status, metrics and top,
 * which report it: a service is "overflowing" exactly while this holds,
 * not until its next SYN.
 */
static inline __u32 sw_service_resume(const struct sw_service *s)
{
	return s->cfg.resume_below < s->cfg.max_connections ?
	       s->cfg.resume_below : s->cfg.max_connections;
}

static inline int sw_service_spills_next(const struct sw_service *s)
{
	return s->active_local >= s->cfg.max_connections ||
	       ((s->flags & SW_SVC_OVERFLOWING) &&
		s->active_local >= sw_service_resume(s));
}

/* The decision made once, at a flow's first SYN. */
enum sw_decision {
	SW_LOCAL = 1,
	SW_REMOTE = 2,
};

/* Flow state bits (sw_flow.state). Bits are only ever added, except when an
 * entry is claimed (SW_FLOW_CLAIMED) to be reused or deleted. */
#define SW_FLOW_ACKED		(1U << 0) /* the client acknowledged: handshake done */
#define SW_FLOW_FIN_CLIENT	(1U << 1)
#define SW_FLOW_FIN_SERVER	(1U << 2)
#define SW_FLOW_RST		(1U << 3)
#define SW_FLOW_RELEASED	(1U << 4) /* the slot went back, exactly once */
#define SW_FLOW_UNAVAILABLE	(1U << 5) /* should have spilled, kept local */
#define SW_FLOW_CLAIMED		(1U << 6) /* one CPU is reusing or deleting the entry */
/* Spilled, but the remote would not take it (a refused CONNECT, no gateway
 * connection): the agent serves it locally. Still steered to the agent's
 * endpoint; holds a local slot, not a remote one. */
#define SW_FLOW_LOCAL_FALLBACK	(1U << 7)
/* A local slot taken at the SYN, also counted in its tick's handshake
 * bucket until the client's first ACK (bpf/handshake.h). */
#define SW_FLOW_PROVISIONAL	(1U << 8)
/* A remote flow an endpoint socket holds (the kernel found it once): its
 * packets are only marked, the kernel's own demux finds the socket. */
#define SW_FLOW_ENDPOINT	(1U << 9)

/*
 * A local handshake counts toward max_connections for one to two ticks of
 * 2^28 ns (268-537 ms) without the client's ACK, then no more until it
 * comes: spoofed SYNs, never acknowledged, cannot hold slots. A real
 * handshake takes one round trip.
 */
#define SW_HANDSHAKE_TICK_SHIFT 28

/*
 * endpoints map keys (a SOCKMAP the agent fills with its tunnel endpoint's
 * listeners, one per family; bpf/steer.h, spill_sk_lookup).
 */
enum sw_endpoint_slot {
	SW_ENDPOINT_IPV4 = 0,
	SW_ENDPOINT_IPV6 = 1,
	SW_ENDPOINT_SLOTS = 2,
};

/* flows map key: the client side of a connection to a service. */
struct sw_flow_key {
	struct sw_service_key svc;
	__u8 client[16];
	__u16 client_port;	/* host byte order */
	__u16 pad;		/* always zero */
} __attribute__((aligned(4)));

/* flows map value. Times are bpf_ktime_get_coarse_ns (CLOCK_MONOTONIC_COARSE). */
struct sw_flow {
	__u64 created_ns;	/* first SYN */
	__u64 last_seen_ns;	/* last packet, either direction */
	__u64 svc_epoch;	/* sw_service.epoch the slot was taken from */
	/*
	 * state and tag change together, by compare-and-swap on the 8 bytes
	 * they share. A hash map recycles a deleted entry at once, so a CPU
	 * that still holds a pointer to it must not touch the connection that
	 * owns it now: tag, a hash of the key, says which connection owns it.
	 */
	__u32 state;		/* SW_FLOW_* bits; 8-byte aligned, tag follows */
	__u32 tag;
	enum sw_decision decision;
	__u32 remote;		/* remote id when SW_REMOTE, else 0 */
};

#define SW_REMOTE_NAME_MAX 64

/* remotes map value (array index = remote id). */
struct sw_remote {
	__u32 healthy;		/* 1: may take new overflow; set by the agent */
	char name[SW_REMOTE_NAME_MAX];	/* "" when the id is free */
};

/*
 * agent map value (one entry): the agent's heartbeat. New connections spill
 * only while it is fresh (SW_AGENT_TIMEOUT_NS): an agent that died or hangs
 * cannot carry them, so they are admitted locally instead.
 */
struct sw_agent {
	__u64 heartbeat_ns;	/* CLOCK_MONOTONIC_COARSE */
	__u32 pid;
	__u32 pad;
};

#define SW_AGENT_HEARTBEAT_NS 1000000000ull	/* the agent beats every second */
#define SW_AGENT_TIMEOUT_NS 3000000000ull	/* three missed beats: gone */

/* layout map value (one entry): the layout version the pinned maps have. */
struct sw_layout {
	__u32 version;
};

/*
 * stats map value: per-CPU counters, summed by readers. The first group is
 * what happened to connections; the second counts input the datapath passed
 * untouched because it was not ours or not clear, one counter per kind.
 */
struct sw_stats {
	__u64 packets;			/* every packet seen by an attached program */
	__u64 new_local;		/* first SYNs admitted with a local slot */
	__u64 new_remote;		/* first SYNs steered to a remote */
	__u64 overflow_unavailable;	/* first SYNs kept local: no remote could take them */
	__u64 table_full;		/* first SYNs passed untracked: flow table full */
	__u64 no_agent;			/* spills kept local: no live agent heartbeat */
	__u64 untracked;		/* non-SYN VIP packets of flows not in the table */
	__u64 steered;			/* packets assigned to the tunnel endpoint */
	__u64 steer_no_endpoint;	/* remote flow packets: no endpoint socket */
	__u64 steer_refused;		/* the kernel refused the assignment */
	__u64 state_contention;		/* a flow state change gave up: must stay 0 */
	__u64 orphans_steered;		/* untracked packets of a live endpoint socket */
	__u64 released_fin;
	__u64 released_rst;
	__u64 released_half_open;	/* by the collector: handshake never finished */
	__u64 released_idle;		/* by the collector: idle too long */
	__u64 agent_bypass;		/* packets carrying the agent's bypass mark */
	__u64 not_ip;
	__u64 not_tcp;
	__u64 vlan;
	__u64 truncated_eth;
	__u64 truncated_ip;
	__u64 truncated_ipv6;
	__u64 truncated_tcp;
	__u64 bad_ip_version;
	__u64 bad_ihl;
	__u64 bad_ip_len;
	__u64 ip_options;		/* valid, handled: counted because unusual */
	__u64 fragments;
	__u64 ipv6_ext_headers;		/* valid, walked: counted because unusual */
	__u64 ipv6_ext_unsupported;	/* too many or unknown extension headers */
	__u64 bad_tcp_doff;
	__u64 bad_tcp_flags;		/* SYN with FIN or RST */
};

/*
 * XDP mode: spill_xdp makes every decision, but only TC can assign a packet
 * to a socket. Where the kernel and the driver allow XDP metadata it leaves
 * one of these words in front of a packet to steer and spill_tc_steer acts
 * on it; elsewhere spill_tc_steer reads the decision from the flow table
 * (bpf/handoff.h).
 */
#define SW_META_STEER	0x53574c31	/* a remote flow: assign to the endpoint */
#define SW_META_ORPHAN	0x53574c32	/* untracked: assign if an endpoint socket has it */
#define SW_META_HELD	0x53574c33	/* a remote flow an endpoint socket holds: mark it */

/* Requests to the control program (spill_ctl, run with BPF_PROG_TEST_RUN). */
enum sw_ctl_op {
	SW_CTL_SERVICE_SET = 1,	/* create a service or change its configuration in place */
	SW_CTL_COLLECT = 2,	/* expire flows and release their slots */
	SW_CTL_FLOW_FALLBACK = 3, /* a spilled flow's slot moves to local (SW_FLOW_LOCAL_FALLBACK) */
	SW_CTL_SERVICE_ADD = 4,	/* add to a service's live counters (layout upgrades) */
	SW_CTL_LINK_GONE = 5,	/* release the flows of clients last seen on a link */
};

/*
 * SW_CTL_SERVICE_ADD: what to add to each live counter of the service
 * instance `epoch`, atomically (the datapath counts alongside).
 */
struct sw_service_delta {
	__u64 epoch;
	__s32 active_local;
	__s32 active_remote;
	__s64 local_total;
	__s64 overflowed_total;
	__s64 overflow_unavailable_total;
	__s64 local_fallback_total;
};

struct sw_collect_params {
	__u64 now_ns;		/* CLOCK_MONOTONIC_COARSE, as the datapath's stamps */
	__u64 half_open_ns;	/* handshake not finished after this: expire */
	__u64 idle_ns;		/* no packet for this long: expire */
	__u64 closed_ns;	/* keep released flows this long for late packets */
};

struct sw_collect_result {
	__u64 scanned;
	__u64 expired_half_open;
	__u64 expired_idle;
	__u64 removed_closed;
};

/*
 * clients map: the interface each client address opened its last flow
 * through. A pod's address arrives on the pod's host-side link; when that
 * link goes (the pod was deleted, and its connections with its namespace,
 * with no FIN or RST) SW_CTL_LINK_GONE releases the flows of its clients.
 */
struct sw_client_key {
	__u8 addr[16];
	__u8 family;		/* enum sw_family */
	__u8 pad[3];		/* always zero */
};

/*
 * node_addrs map: the node's own addresses (every address of every link in
 * the agent's network namespace), kept by the agent. A NodePort matches
 * its port on any of them (bpf/nodeport.h).
 */
struct sw_node_addr_key {
	__u8 addr[16];
	__u8 family;		/* enum sw_family */
	__u8 pad[3];		/* always zero */
};
/* Size of the node_addrs map: a node has an IPv6 link-local address on
 * every pod's host-side veth, so hundreds are common. */
#define SW_MAX_NODE_ADDRS 16384

struct sw_ctl {
	__u32 op;		/* enum sw_ctl_op */
	__s32 err;		/* out: 0 or a negative errno */
	union {
		struct {
			struct sw_service_key key;
			struct sw_service_config cfg;
		} service;
		struct {
			struct sw_collect_params params;
			struct sw_collect_result result;
		} collect;
		struct {
			struct sw_flow_key key;
		} flow;
		struct {
			struct sw_service_key key;
			struct sw_service_delta delta;
		} add;
		struct {
			__u32 ifindex;
			__u32 released;	/* out: flows released */
		} link;
	};
};

#endif /* SPILLWAY_ABI_H */
