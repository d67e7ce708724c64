/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map definitions only. Names are what users see in bpftool and under the
 * pin directory. Keys and values live in include/spillway/abi.h.
 */
#ifndef SW_BPF_MAPS_H
#define SW_BPF_MAPS_H

#include "spillway/abi.h"
#include "spillway/defaults.h"

/*
 * Services by VIP:port/protocol. Not preallocated: the map is mostly empty.
 * (Either way a deleted entry may be recycled while a program still holds
 * it; the epoch keeps a release from reaching a service's next instance.)
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SW_MAX_SERVICES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_service_key);
	__type(value, struct sw_service);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} services SEC(".maps");

/*
 * A one-hash Bloom filter of the services' VIP:port (SW_FILTER_WORDS): a clear bit
 * means "no service here" for the cost of an array read, so traffic that is
 * not ours skips every hash lookup, and a packet with a set bit can look its
 * flow up before its service. Set by spill_ctl with the service; a bit left
 * set after a service is removed only costs lookups, never correctness.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_FILTER_WORDS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svc_filter SEC(".maps");

/*
 * Tracked connections. A plain hash, not an LRU: an LRU evicts entries
 * silently, and an evicted entry is a slot that is never given back and an
 * overflowed connection that loses its steering. Here an entry leaves only
 * through spill_ctl's collector, which releases its slot first; when the
 * table is full a new connection is admitted untracked (stats.table_full).
 * Preallocated: inserting into a BPF_F_NO_PREALLOC map cost ~1 us per new
 * connection here against ~0.3 us (see `make bench`). Capacity is set at
 * load (default SW_DEFAULT_FLOW_CAPACITY).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SW_DEFAULT_FLOW_CAPACITY);
	__type(key, struct sw_flow_key);
	__type(value, struct sw_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flows SEC(".maps");

/*
 * The link each client address opened its last flow through (abi.h,
 * sw_client_key). An LRU: a forgotten client costs only the prompt release
 * of its flows when its link goes; the idle timeout still releases them.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SW_MAX_CLIENTS);
	__type(key, struct sw_client_key);
	__type(value, __u32);		/* ifindex */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} clients SEC(".maps");

/*
 * The node's own addresses, for NodePorts (bpf/nodeport.h): written by the
 * agent from rtnetlink address events, read by the datapath.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SW_MAX_NODE_ADDRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_node_addr_key);
	__type(value, __u32);		/* 1: the node has it */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} node_addrs SEC(".maps");

/*
 * The tunnel endpoint's listeners (enum sw_endpoint_slot), for
 * spill_sk_lookup. Not pinned: it holds the running agent's sockets, and a
 * socket leaves it when it closes.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, SW_ENDPOINT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} endpoints SEC(".maps");

/* Remote clusters by id (1..SW_MAX_REMOTES-1): health set by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_MAX_REMOTES);
	__type(key, __u32);
	__type(value, struct sw_remote);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} remotes SEC(".maps");

/* The agent's heartbeat (one entry, key 0). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_agent);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agent SEC(".maps");

/* Per-CPU event and input counters (one entry, key 0). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stats SEC(".maps");

/* The layout version of the pinned maps (one entry, key 0). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_layout);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} layout SEC(".maps");

#endif /* SW_BPF_MAPS_H */
