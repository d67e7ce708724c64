/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map definitions only. Names are what users see in bpftool and under the
 * pin directory. Keys and values live in include/spillway/abi.h.
 */
#ifndef SW_MAPS_H
#define SW_MAPS_H

#include "spillway/abi.h"
#include "spillway/defaults.h"

/*
 * Services by VIP:port/protocol. BPF_F_NO_PREALLOC: a deleted entry's memory
 * is freed after an RCU grace period instead of being handed straight to the
 * next insert, so a program still holding the old pointer never counts into
 * a different service.
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
 * Tracked connections. A plain hash, not an LRU: an LRU evicts entries
 * silently, and an evicted entry is a slot that is never given back and an
 * overflowed connection that loses its steering. Here an entry leaves only
 * through spill_ctl's collector, which releases its slot first; when the
 * table is full a new connection is admitted untracked (stats.table_full).
 * Capacity is set at load (default SW_DEFAULT_FLOW_CAPACITY).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SW_DEFAULT_FLOW_CAPACITY);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_flow_key);
	__type(value, struct sw_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flows SEC(".maps");

/* Remote clusters by id (1..SW_MAX_REMOTES-1): health set by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_MAX_REMOTES);
	__type(key, __u32);
	__type(value, struct sw_remote);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} remotes SEC(".maps");

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

#endif /* SW_MAPS_H */
