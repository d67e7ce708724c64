/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow table: one entry per tracked connection, holding the decision
 * made at its first SYN. Every later packet follows that decision, whatever
 * happens to thresholds or remote health. A flow's slot is released exactly
 * once, by whoever sets SW_FLOW_RELEASED first: both FINs, an RST in either
 * direction, or the collector when the flow expires.
 *
 * A hash map recycles a deleted entry at once (with or without
 * preallocation), so a CPU may hold a pointer to an entry that another
 * connection owns by now. Every state change is therefore a compare-and-swap
 * on {state, tag} that expects this connection's tag; a recycled entry is
 * left alone. Reads of the other fields (the decision) may see the new owner
 * for that one packet, never its state.
 */
#ifndef SW_BPF_FLOW_H
#define SW_BPF_FLOW_H

#include "maps.h"
#include "parse.h"
#include "service.h"

/* What the hook does with a packet after the flow logic. */
enum verdict {
	PASS,			/* let it through untouched */
	STEER,			/* a remote flow: assign it to the tunnel endpoint */
	STEER_HELD,		/* a remote flow an endpoint socket holds: mark it */
	STEER_IF_OWNED,		/* untracked: assign only if an endpoint socket has it */
};

/*
 * Compare-and-swap attempts before a state change gives up. Each failed
 * attempt means another CPU changed the word, and every change adds a bit
 * (seven) or claims the entry once, so a flow's state changes at most about
 * ten times in its life; giving up is counted (state_contention) and has
 * never been seen.
 */
#define FLOW_CAS_TRIES 16

static __always_inline int verdict_of(const struct sw_flow *f)
{
	if (f->decision != SW_REMOTE)
		return PASS;
	return f->state & SW_FLOW_ENDPOINT ? STEER_HELD : STEER;
}

/* Which connection owns an entry: a hash of its key, never 0. */
static __always_inline __u32 flow_tag(const struct sw_flow_key *k)
{
	const __u32 *w = (const __u32 *)k;
	__u32 h = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*k) / sizeof(__u32)); i++)
		h = (h ^ w[i]) * 0x9e3779b1;	/* golden-ratio multiply */
	return h | 1;
}

/* The packet's flow entry, unless the entry now belongs to another flow. */
static __always_inline struct sw_flow *lookup_flow(const struct sw_flow_key *key,
						   __u32 tag)
{
	struct sw_flow *f = bpf_map_lookup_elem(&flows, key);

	return f && f->tag == tag ? f : NULL;
}

/* {state, tag} as one word for compare-and-swap (bpfel: state is the low half). */
typedef __u64 __attribute__((may_alias)) state_tag_t;
_Static_assert(__builtin_offsetof(struct sw_flow, state) % 8 == 0 &&
	       __builtin_offsetof(struct sw_flow, tag) ==
	       __builtin_offsetof(struct sw_flow, state) + 4,
	       "state and tag must share one aligned 8-byte word");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "bpfel only");

static __always_inline state_tag_t *state_tag_of(struct sw_flow *f)
{
	return (state_tag_t *)&f->state;
}

static __always_inline __u64 state_tag(__u32 state, __u32 tag)
{
	return (__u64)tag << 32 | state;
}

/*
 * Add bits to the state of the entry owned by tag. Returns false if the
 * entry belongs to another connection now; else *before is the state the
 * bits were added to.
 */
static __always_inline bool flow_add(struct sw_flow *f, __u32 tag, __u32 bits,
				     __u32 *before, struct sw_stats *st)
{
#pragma unroll
	for (int i = 0; i < FLOW_CAS_TRIES; i++) {
		__u64 old = *state_tag_of(f);
		__u32 state = (__u32)old;

		if ((__u32)(old >> 32) != tag)
			return false;
		*before = state;
		if ((state & bits) == bits ||
		    __sync_val_compare_and_swap(state_tag_of(f), old,
						state_tag(state | bits, tag)) == old)
			return true;
	}
	__sync_fetch_and_add(&st->state_contention, 1);
	return false;
}

/* Take the entry from state `seen` for ourselves (to reuse or delete it). */
static __always_inline bool flow_claim(struct sw_flow *f, __u32 tag,
				       __u32 seen, __u32 claimed)
{
	__u64 old = state_tag(seen, tag);

	return __sync_val_compare_and_swap(state_tag_of(f), old,
					   state_tag(claimed, tag)) == old;
}

/*
 * Give the flow's slot back unless someone already did. The slot goes back
 * to the service instance it was taken from (epoch), never to a newer one.
 * The fields that say where are read before the compare-and-swap: until it
 * lands the entry is this connection's (only a released entry is reused or
 * deleted), right after it another CPU may delete and reuse it.
 */
static __always_inline bool release_flow_once(const struct sw_flow_key *key,
					      struct sw_flow *f, __u32 tag,
					      struct sw_stats *st)
{
	struct sw_flow seen = *f;
	struct sw_service *svc;
	__u32 before;

	if (!flow_add(f, tag, SW_FLOW_RELEASED, &before, st) ||
	    (before & SW_FLOW_RELEASED))
		return false;
	svc = lookup_service(&key->svc);
	if (svc && svc->epoch == seen.svc_epoch)
		release_slot(svc, &seen, before);
	return true;
}

/*
 * The client's first ACK: the handshake finished. A provisional slot counts
 * for good from now on (handshake.h), unless the flow was released first.
 */
static __always_inline void acknowledge(const struct sw_flow_key *key,
					struct sw_flow *f, __u32 tag,
					struct sw_stats *st)
{
	struct sw_flow seen = *f;	/* see release_flow_once */
	struct sw_service *svc;
	__u32 before;

	if (!flow_add(f, tag, SW_FLOW_ACKED, &before, st) ||
	    (before & (SW_FLOW_ACKED | SW_FLOW_RELEASED | SW_FLOW_PROVISIONAL)) !=
		    SW_FLOW_PROVISIONAL)
		return;
	svc = lookup_service(&key->svc);
	if (svc && svc->epoch == seen.svc_epoch)
		confirm_slot(svc, &seen);
}

/* Follow the TCP flags of a tracked flow; release on RST or the second FIN. */
static __always_inline void track_tcp(const struct sw_flow_key *key,
				      struct sw_flow *f, __u32 tag, __u8 flags,
				      enum direction dir, struct sw_stats *st)
{
	__u32 s = f->state, fin, before;

	if (flags & TCP_RST) {
		if (!(s & SW_FLOW_RELEASED) &&
		    flow_add(f, tag, SW_FLOW_RST, &before, st) &&
		    release_flow_once(key, f, tag, st))
			st->released_rst++;
		return;
	}
	if (dir == FROM_CLIENT && !(s & SW_FLOW_ACKED) &&
	    (flags & (TCP_SYN | TCP_ACK)) == TCP_ACK)
		acknowledge(key, f, tag, st);
	if (!(flags & TCP_FIN))
		return;
	fin = dir == FROM_CLIENT ? SW_FLOW_FIN_CLIENT : SW_FLOW_FIN_SERVER;
	if ((s & fin) || !flow_add(f, tag, fin, &before, st))
		return;
	if (((before | fin) & (SW_FLOW_FIN_CLIENT | SW_FLOW_FIN_SERVER)) ==
		    (SW_FLOW_FIN_CLIENT | SW_FLOW_FIN_SERVER) &&
	    release_flow_once(key, f, tag, st))
		st->released_fin++;
}

static __always_inline void new_flow(struct sw_flow *f, struct sw_service *svc,
				     const struct packet *p,
				     __u32 tag, __u64 now, struct sw_stats *st)
{
	__builtin_memset(f, 0, sizeof(*f));
	f->created_ns = now;
	f->last_seen_ns = now;
	f->svc_epoch = svc->epoch;
	f->tag = tag;
	admit(svc, f, p, st);
}

static __always_inline void client_key(struct sw_client_key *c,
				       const struct sw_flow_key *key)
{
	__builtin_memset(c, 0, sizeof(*c));
	__builtin_memcpy(c->addr, key->client, sizeof(c->addr));
	c->family = key->svc.family;
}

/*
 * Remember the link a client opens flows through (a lookup; a write only
 * when it changed), so the flows go when the link goes (link_gone).
 */
static __always_inline void note_client_link(const struct packet *p)
{
	struct sw_client_key c;
	__u32 *seen;

	if (!p->ifindex)
		return;
	client_key(&c, &p->key);
	seen = bpf_map_lookup_elem(&clients, &c);
	if (!seen || *seen != p->ifindex)
		bpf_map_update_elem(&clients, &c, &p->ifindex, BPF_ANY);
}

/*
 * An endpoint socket holds this remote flow now (bpf/steer.h): its later
 * packets are only marked. Looked up again, as the socket lookup that
 * found it was the flow's first since: one more lookup, once.
 */
static __always_inline void note_endpoint_holds(const struct packet *p,
						struct sw_stats *st)
{
	__u32 tag = flow_tag(&p->key), before;
	struct sw_flow *f = lookup_flow(&p->key, tag);

	if (f && f->decision == SW_REMOTE)
		flow_add(f, tag, SW_FLOW_ENDPOINT, &before, st);
}

/* First SYN of a connection: decide, take the slot, insert. */
static __always_inline int open_flow(const struct packet *p,
				     struct sw_service *svc, __u32 tag,
				     struct sw_stats *st, __u64 now)
{
	struct sw_flow f, *existing;

	new_flow(&f, svc, p, tag, now, st);
	if (bpf_map_update_elem(&flows, &p->key, &f, BPF_NOEXIST)) {
		release_slot(svc, &f, f.state);
		/* Another CPU opened the same flow first: follow its decision. */
		existing = bpf_map_lookup_elem(&flows, &p->key);
		if (existing)
			return verdict_of(existing);
		st->table_full++;
		return PASS;
	}
	count_admitted(svc, &f, st);
	note_client_link(p);
	return verdict_of(&f);
}

/*
 * A SYN on the tuple of a released flow is a new connection from a reused
 * port. The CPU whose compare-and-swap claims the entry decides afresh;
 * any other follows the entry as it finds it.
 */
static __always_inline int reopen_flow(const struct packet *p,
				       struct sw_service *svc, struct sw_flow *f,
				       __u32 tag, __u32 seen,
				       struct sw_stats *st, __u64 now)
{
	struct sw_flow fresh;

	if (!flow_claim(f, tag, seen, SW_FLOW_CLAIMED))
		return verdict_of(f);
	new_flow(&fresh, svc, p, tag, now, st);
	f->created_ns = fresh.created_ns;
	f->last_seen_ns = fresh.last_seen_ns;
	f->svc_epoch = fresh.svc_epoch;
	f->decision = fresh.decision;
	f->remote = fresh.remote;
	/* Last, and as a barrier: the entry is open again once this lands. */
	__sync_lock_test_and_set(state_tag_of(f), state_tag(fresh.state, tag));
	count_admitted(svc, &fresh, st);
	note_client_link(p);
	return verdict_of(&fresh);
}

#endif /* SW_BPF_FLOW_H */
