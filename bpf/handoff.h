/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * XDP mode's handoff: spill_xdp makes every decision, but only a TC program
 * can assign a packet to a socket, so spill_tc_steer acts on what spill_xdp
 * decided. Two ways to tell it, chosen by the loader (config.h, xdp_meta):
 *
 *  - metadata: spill_xdp leaves a SW_META_* word in front of the packet for
 *    the packets to steer; every other packet costs spill_tc_steer one read.
 *    Needs bpf_xdp_adjust_meta, which some kernels refuse at load and some
 *    drivers refuse at run time;
 *  - the flow table: spill_tc_steer parses the packet and reads the decision
 *    back from the flow entry spill_xdp just opened or followed: the same
 *    lookups as spill_xdp, and no state change (spill_xdp did those).
 *
 * A driver that refuses metadata at run time switches the node to the flow
 * table from that packet on (xdp_meta_refused), so no decision is lost.
 */
#ifndef SW_BPF_HANDOFF_H
#define SW_BPF_HANDOFF_H

#include "config.h"
#include "flow.h"
#include "nodeport.h"

/*
 * Set by spill_xdp the first time a driver refuses metadata; read by
 * spill_tc_steer and by the agent (status, log). Lives as long as the
 * loaded programs: a new agent learns it again at its first spill.
 */
bool xdp_meta_refused;

/* XDP: tell spill_tc_steer to steer this packet (v: a STEER* verdict). */
static __always_inline void xdp_signal(struct xdp_md *ctx, int v)
{
	void *meta;

	if (!xdp_meta)
		return;
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(__u32)))
		goto refused;
	meta = (void *)(long)ctx->data_meta;
	if (meta + sizeof(__u32) > (void *)(long)ctx->data)
		goto refused;
	*(__u32 *)meta = v == STEER ? SW_META_STEER :
			 v == STEER_HELD ? SW_META_HELD : SW_META_ORPHAN;
	return;
refused:
	xdp_meta_refused = true;
}

/* TC: the verdict spill_xdp left in the metadata; PASS if none. */
static __always_inline int meta_verdict(struct __sk_buff *skb)
{
	void *meta = (void *)(long)skb->data_meta;
	__u32 word;

	if (meta + sizeof(__u32) > (void *)(long)skb->data)
		return PASS;
	word = *(__u32 *)meta;
	return word == SW_META_STEER ? STEER :
	       word == SW_META_HELD ? STEER_HELD :
	       word == SW_META_ORPHAN ? STEER_IF_OWNED : PASS;
}

/* TC: does a packet without a word still need its verdict looked up? */
static __always_inline bool verdict_in_flow_table(void)
{
	return !xdp_meta || xdp_meta_refused;
}

/*
 * TC: the verdict spill_xdp reached for this packet, read back. A flow that
 * another CPU reopens between the two programs (a new connection on the
 * same client port, in that instant) gives this packet the new decision;
 * TCP retransmits the one packet that goes astray.
 */
static __always_inline int recorded_verdict(struct packet *p)
{
	struct sw_flow *f;

	if (!service_key(p))
		return PASS;
	f = lookup_flow(&p->key, flow_tag(&p->key));
	if (f)
		return verdict_of(f);
	return lookup_service(&p->key.svc) ? STEER_IF_OWNED : PASS;
}

#endif /* SW_BPF_HANDOFF_H */
