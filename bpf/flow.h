/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow table: one entry per tracked connection, holding the decision
 * made at its first SYN. Every later packet follows that decision, whatever
 * happens to thresholds or remote health. A flow's slot is released exactly
 * once, by whoever sets SW_FLOW_RELEASED first: both FINs, an RST in either
 * direction, or the collector when the flow expires.
 */
#ifndef SW_FLOW_H
#define SW_FLOW_H

#include "maps.h"
#include "parse.h"
#include "service.h"

/* What the hook does with a packet after the flow logic. */
enum verdict {
	PASS,			/* let it through untouched */
	STEER,			/* a remote flow: assign it to the tunnel endpoint */
	STEER_IF_OWNED,		/* untracked: assign only if an endpoint socket has it */
};

static __always_inline int verdict_of(const struct sw_flow *f)
{
	return f->decision == SW_REMOTE ? STEER : PASS;
}

/*
 * Give the flow's slot back unless someone already did. The slot goes back
 * to the service instance it was taken from (epoch), never to a newer one.
 */
static __always_inline bool release_flow_once(const struct sw_flow_key *key,
					      struct sw_flow *f)
{
	struct sw_service *svc;

	if (__sync_fetch_and_or(&f->state, SW_FLOW_RELEASED) & SW_FLOW_RELEASED)
		return false;
	svc = lookup_service(&key->svc);
	if (svc && svc->epoch == f->svc_epoch)
		release_slot(svc, f);
	return true;
}

/* Follow the TCP flags of a tracked flow; release on RST or the second FIN. */
static __always_inline void track_tcp(const struct sw_flow_key *key,
				      struct sw_flow *f, __u8 flags,
				      enum direction dir, struct sw_stats *st)
{
	__u32 s = f->state, fin;

	if (flags & TCP_RST) {
		if (!(s & SW_FLOW_RST))
			__sync_fetch_and_or(&f->state, SW_FLOW_RST);
		if (!(s & SW_FLOW_RELEASED) && release_flow_once(key, f))
			st->released_rst++;
		return;
	}
	if (dir == FROM_CLIENT && !(s & SW_FLOW_ACKED) &&
	    (flags & (TCP_SYN | TCP_ACK)) == TCP_ACK)
		__sync_fetch_and_or(&f->state, SW_FLOW_ACKED);
	if (!(flags & TCP_FIN))
		return;
	fin = dir == FROM_CLIENT ? SW_FLOW_FIN_CLIENT : SW_FLOW_FIN_SERVER;
	if (s & fin)
		return;
	s = __sync_fetch_and_or(&f->state, fin) | fin;
	if ((s & (SW_FLOW_FIN_CLIENT | SW_FLOW_FIN_SERVER)) ==
		    (SW_FLOW_FIN_CLIENT | SW_FLOW_FIN_SERVER) &&
	    release_flow_once(key, f))
		st->released_fin++;
}

static __always_inline void new_flow(struct sw_flow *f, struct sw_service *svc,
				     void *ctx, const struct packet *p,
				     bool steerable, __u64 now)
{
	__builtin_memset(f, 0, sizeof(*f));
	f->created_ns = now;
	f->last_seen_ns = now;
	f->svc_epoch = svc->epoch;
	admit(svc, f, ctx, p, steerable);
}

/* First SYN of a connection: decide, take the slot, insert. */
static __always_inline int open_flow(void *ctx, const struct packet *p,
				     struct sw_service *svc, bool steerable,
				     struct sw_stats *st, __u64 now)
{
	struct sw_flow f, *existing;

	new_flow(&f, svc, ctx, p, steerable, now);
	if (bpf_map_update_elem(&flows, &p->key, &f, BPF_NOEXIST)) {
		release_slot(svc, &f);
		/* Another CPU opened the same flow first: follow its decision. */
		existing = bpf_map_lookup_elem(&flows, &p->key);
		if (existing)
			return verdict_of(existing);
		st->table_full++;
		return PASS;
	}
	count_admitted(svc, &f, st);
	return verdict_of(&f);
}

/*
 * A SYN on the tuple of a released flow is a new connection from a reused
 * port. The CPU whose compare-and-swap claims the entry decides afresh;
 * any other follows the entry as it finds it.
 */
static __always_inline int reopen_flow(void *ctx, const struct packet *p,
				       struct sw_service *svc, struct sw_flow *f,
				       __u32 seen, bool steerable,
				       struct sw_stats *st, __u64 now)
{
	struct sw_flow fresh;

	if (__sync_val_compare_and_swap(&f->state, seen, SW_FLOW_CLAIMED) != seen)
		return verdict_of(f);
	new_flow(&fresh, svc, ctx, p, steerable, now);
	*f = fresh;
	count_admitted(svc, &fresh, st);
	return verdict_of(&fresh);
}

#endif /* SW_FLOW_H */
