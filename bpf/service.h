/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A service's slots and the local-or-remote decision for a new connection.
 *
 * active_local is changed only with atomic adds. A new connection takes a
 * slot with one fetch-and-add and keeps it only if the value it replaced was
 * below max_connections, so SYNs racing on every CPU can never admit more
 * than max_connections locally (a loser undoes its add at once). The counter
 * itself may read max+1 for that instant; the number of admitted flows never
 * does. A local slot is provisional until the client's ACK (handshake.h).
 */
#ifndef SW_BPF_SERVICE_H
#define SW_BPF_SERVICE_H

#include "maps.h"
#include "handshake.h"
#include "steer.h"

static __always_inline struct sw_service *
lookup_service(const struct sw_service_key *key)
{
	return bpf_map_lookup_elem(&services, key);
}

/* The svc_filter bit of a VIP:port: the VIP's last word mixed with the port. */
static __always_inline __u32 filter_bit(const struct sw_service_key *key)
{
	const __u32 *vip = (const __u32 *)key->vip;
	__u32 last = key->family == SW_INET ? vip[0] : vip[3];

	return ((last ^ key->port) * 0x9e3779b1) >> (32 - SW_FILTER_BITS_LOG2);
}

static __always_inline __u64 *filter_word(__u32 bit)
{
	__u32 idx = bit / 64;

	return bpf_map_lookup_elem(&svc_filter, &idx);
}

/* False: certainly no service at this VIP:port. True: maybe one. */
static __always_inline bool maybe_service(const struct sw_service_key *key)
{
	__u32 bit = filter_bit(key);
	__u64 *word = filter_word(bit);

	return word && (*word & (1ull << (bit % 64)));
}

/*
 * Hysteresis: once a service overflows it keeps spilling until local active
 * falls below resume_below, then takes slots again. resume_below is clamped
 * to max_connections so a half-written configuration can never stall it.
 * The flag is settled (cleared once below) by a SYN, by a release and by a
 * change of threshold, so the map says what the next SYN will find.
 */
static __always_inline bool settle_overflowing(struct sw_service *svc,
					       __u32 active_local)
{
	if (!(svc->flags & SW_SVC_OVERFLOWING))
		return false;
	if (active_local >= sw_service_resume(svc))
		return true;
	__sync_fetch_and_and(&svc->flags, ~SW_SVC_OVERFLOWING);
	return false;
}

static __always_inline bool keeps_spilling(struct sw_service *svc)
{
	return settle_overflowing(svc, svc->active_local);
}

static __always_inline bool reserve_local_slot(struct sw_service *svc)
{
	__u32 before = __sync_fetch_and_add(&svc->active_local, 1);

	if (before < svc->cfg.max_connections)
		return true;
	__sync_fetch_and_sub(&svc->active_local, 1);
	if (!(svc->flags & SW_SVC_OVERFLOWING))
		__sync_fetch_and_or(&svc->flags, SW_SVC_OVERFLOWING);
	return false;
}

/* The first remote in the service's preference order that is healthy. */
static __always_inline __u32 first_healthy_remote(struct sw_service *svc)
{
#pragma unroll
	for (int i = 0; i < SW_MAX_OVERFLOW_REMOTES; i++) {
		__u32 id = svc->cfg.overflow_to[i];
		struct sw_remote *r;

		if (!id)
			break;
		r = bpf_map_lookup_elem(&remotes, &id);
		if (r && r->healthy)
			return id;
	}
	return 0;
}

/* Is an agent alive to carry a spill? Its heartbeat says so. */
static __always_inline bool agent_alive(__u64 now)
{
	__u32 zero = 0;
	struct sw_agent *a = bpf_map_lookup_elem(&agent, &zero);

	return a && a->heartbeat_ns && now < a->heartbeat_ns + SW_AGENT_TIMEOUT_NS;
}

/* Give back n local slots. */
static __always_inline void give_back_local(struct sw_service *svc, __u32 n)
{
	settle_overflowing(svc, __sync_fetch_and_sub(&svc->active_local, n) - n);
}

/* Give back the slots of handshakes unacknowledged for 1-2 ticks. */
static __always_inline void age_local_handshakes(struct sw_service *svc,
						 __u64 now)
{
	__u32 aged = age_handshakes(svc, now);

	if (!aged)
		return;
	__sync_fetch_and_add(&svc->handshakes_aged_total, aged);
	give_back_local(svc, aged);
}

/*
 * Give back the slot a flow took: its decision says which counter, unless
 * it fell back to local. state is the flow's state as the releaser's own
 * compare-and-swap found it, never a later read: a fallback landing in
 * between must not change which counter this release gives back to. An
 * unacknowledged handshake whose bucket aged holds no slot any more.
 */
static __always_inline void release_slot(struct sw_service *svc,
					 const struct sw_flow *f, __u32 state)
{
	if (f->decision == SW_REMOTE && !(state & SW_FLOW_LOCAL_FALLBACK))
		__sync_fetch_and_sub(&svc->active_remote, 1);
	else if ((state & (SW_FLOW_PROVISIONAL | SW_FLOW_ACKED)) !=
		 SW_FLOW_PROVISIONAL || handshake_end(svc, f->created_ns))
		give_back_local(svc, 1);
}

/*
 * The client acknowledged a provisional flow (the caller set SW_FLOW_ACKED
 * and found it unreleased): its slot counts for good from now on, taken
 * again if its bucket aged, whatever the threshold says (it was admitted).
 */
static __always_inline void confirm_slot(struct sw_service *svc,
					 const struct sw_flow *f)
{
	if (!handshake_end(svc, f->created_ns))
		__sync_fetch_and_add(&svc->active_local, 1);
}

/* A local slot taken at the SYN: provisional until the client's ACK. */
static __always_inline void take_local(struct sw_service *svc,
				       struct sw_flow *f, __u32 state)
{
	f->decision = SW_LOCAL;
	f->state |= state;
	if (handshake_begin(svc, f->created_ns))
		f->state |= SW_FLOW_PROVISIONAL;
}

/*
 * Decide where a new connection goes and take its slot. A spill needs a
 * healthy remote, a live agent and this node's tunnel endpoint listening;
 * all are asked only when a spill is due.
 */
static __always_inline void admit(struct sw_service *svc, struct sw_flow *f,
				  const struct packet *p, struct sw_stats *st)
{
	__u32 remote;

	age_local_handshakes(svc, f->created_ns);
	if (!keeps_spilling(svc) && reserve_local_slot(svc)) {
		take_local(svc, f, 0);
		return;
	}
	remote = first_healthy_remote(svc);
	if (remote && !agent_alive(f->created_ns)) {
		st->no_agent++;
		remote = 0;
	}
	if (remote && endpoint_ready(p)) {
		__sync_fetch_and_add(&svc->active_remote, 1);
		f->decision = SW_REMOTE;
		f->remote = remote;
		return;
	}
	/* Never drop or reset: no remote can take it, so it stays here. */
	__sync_fetch_and_add(&svc->active_local, 1);
	take_local(svc, f, SW_FLOW_UNAVAILABLE);
}

/* Totals, counted once the flow is in the table (an undone admit is not). */
static __always_inline void count_admitted(struct sw_service *svc,
					   const struct sw_flow *f,
					   struct sw_stats *st)
{
	if (f->decision == SW_REMOTE) {
		__sync_fetch_and_add(&svc->overflowed_total, 1);
		st->new_remote++;
	} else if (f->state & SW_FLOW_UNAVAILABLE) {
		__sync_fetch_and_add(&svc->overflow_unavailable_total, 1);
		st->overflow_unavailable++;
	} else {
		__sync_fetch_and_add(&svc->local_total, 1);
		st->new_local++;
	}
}

#endif /* SW_BPF_SERVICE_H */
