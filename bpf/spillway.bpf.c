// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The spillway datapath. Each program reads top-down: count, parse, look up
 * the service, follow or open the flow, steer. The logic lives in the
 * headers, one concern each; this file only orchestrates.
 *
 * Attach modes (per interface, on the interface facing the clients):
 *   tc:  spill_tc_in (ingress) + spill_tc_out (egress)
 *   xdp: spill_xdp + spill_tc_steer (ingress) + spill_tc_out (egress)
 * spill_tc_out sees the service's side of each connection (its FIN, RST).
 * spill_tc_bridge: at the ingress of a bridge whose ports are attached.
 * spill_sk_lookup: the listener lookup of the agent's network namespace
 * (bpf_link, held by the agent).
 * spill_ctl is run by userspace (BPF_PROG_TEST_RUN), never attached.
 * The loader loads spill_xdp and spill_tc_steer only for xdp mode.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "consts.h"
#include "config.h"
#include "maps.h"
#include "parse.h"
#include "stats.h"
#include "service.h"
#include "nodeport.h"
#include "flow.h"
#include "steer.h"
#include "control.h"
#include "handoff.h"
#include "lookup.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Refresh the idle clock; the coarse clock ticks per jiffy, so rarely. */
static __always_inline void touch(struct sw_flow *f, __u64 now)
{
	if (f->last_seen_ns != now)
		f->last_seen_ns = now;
}

/*
 * A packet from a client: follow its flow, or open one on a first SYN. An
 * established packet needs only its flow; the service is looked up for
 * packets without one (and for a SYN reusing a released flow's port).
 */
static __always_inline int process_from_client(struct packet *p,
					       struct sw_stats *st)
{
	bool new_syn = (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
	struct sw_service *svc;
	struct sw_flow *f;
	__u32 tag, s = 0;
	__u64 now;

	if (!service_key(p))
		return PASS;
	now = bpf_ktime_get_coarse_ns();
	tag = flow_tag(&p->key);
	f = lookup_flow(&p->key, tag);
	if (f) {
		s = f->state;
		if (!new_syn || (s & (SW_FLOW_RELEASED | SW_FLOW_CLAIMED)) !=
				SW_FLOW_RELEASED) {
			touch(f, now);
			track_tcp(&p->key, f, tag, p->tcp_flags, FROM_CLIENT, st);
			return verdict_of(f);
		}
	}
	svc = lookup_service(&p->key.svc);
	if (!svc)
		return PASS;
	if (f)
		return reopen_flow(p, svc, f, tag, s, st, now);
	if (new_syn)
		return open_flow(p, svc, tag, st, now);
	/* Opened before we were attached (or long expired). */
	st->untracked++;
	return STEER_IF_OWNED;
}

/* A packet from the service (or the endpoint) back to a client. */
static __always_inline void process_from_service(struct packet *p,
						 struct sw_stats *st)
{
	struct sw_flow *f;
	__u32 tag;

	if (!service_key(p))
		return;
	tag = flow_tag(&p->key);
	f = lookup_flow(&p->key, tag);
	if (!f)
		return;
	touch(f, bpf_ktime_get_coarse_ns());
	track_tcp(&p->key, f, tag, p->tcp_flags, FROM_SERVICE, st);
}

/* Parse an skb, pulling headers into the linear area if they straddle it. */
static __always_inline int parse_skb(struct __sk_buff *skb, enum direction dir,
				     struct packet *p)
{
	__u32 pull = skb->len < SW_PARSE_PULL_LEN ? skb->len : SW_PARSE_PULL_LEN;
	int r;

	r = parse_packet((void *)(long)skb->data, (void *)(long)skb->data_end,
			 dir, p);
	if (!parse_truncated(r) || skb->data_end - skb->data >= pull)
		return r;
	if (bpf_skb_pull_data(skb, pull))
		return r;
	return parse_packet((void *)(long)skb->data,
			    (void *)(long)skb->data_end, dir, p);
}

static __always_inline void steer_and_count(struct __sk_buff *skb,
					    const struct packet *p, int v,
					    struct sw_stats *st)
{
	if (v == STEER_HELD) {
		tc_mark(skb);
		st->steered++;
		return;
	}
	switch (tc_steer(skb, p, v == STEER_IF_OWNED)) {
	case STEERED_HELD:
		if (v == STEER)
			note_endpoint_holds(p, st);
		/* fallthrough */
	case STEERED:
		if (v == STEER)
			st->steered++;
		else
			st->orphans_steered++;
		break;
	case STEER_NO_ENDPOINT:
		/* Untracked and not ours: the common, silent case. */
		if (v == STEER)
			st->steer_no_endpoint++;
		break;
	case STEER_REFUSED:
		st->steer_refused++;
		break;
	}
}

/* A parse result: true for a TCP packet to act on, else counted by kind. */
static __always_inline bool parsed(struct sw_stats *st, int r,
				   const struct packet *p)
{
	if (r != PARSE_OK) {
		count_parse_result(st, r);
		return false;
	}
	count_unusual(st, p);
	return true;
}

static __always_inline bool agent_bypass(struct __sk_buff *skb,
					 struct sw_stats *st)
{
	if (!bypass_mark || skb->mark != bypass_mark)
		return false;
	st->agent_bypass++;
	return true;
}

SEC("xdp")
int spill_xdp(struct xdp_md *ctx)
{
	struct sw_stats *st = stats_this_cpu();
	struct packet p;
	int v;

	if (!st)
		return XDP_PASS;
	st->packets++;
	if (!parsed(st, parse_packet((void *)(long)ctx->data,
				     (void *)(long)ctx->data_end, FROM_CLIENT,
				     &p), &p))
		return XDP_PASS;
	p.ifindex = ctx->ingress_ifindex;
	v = process_from_client(&p, st);
	if (v != PASS)
		xdp_signal(ctx, v);
	return XDP_PASS;
}

SEC("tc")
int spill_tc_in(struct __sk_buff *skb)
{
	struct sw_stats *st = stats_this_cpu();
	struct packet p;
	int v;

	if (!st)
		return TC_ACT_OK;
	st->packets++;
	if (agent_bypass(skb, st) ||
	    !parsed(st, parse_skb(skb, FROM_CLIENT, &p), &p))
		return TC_ACT_OK;
	p.ifindex = skb->ingress_ifindex;
	v = process_from_client(&p, st);
	if (v != PASS)
		steer_and_count(skb, &p, v, st);
	return TC_ACT_OK;
}

/* XDP mode's TC half: steer what spill_xdp decided to steer (handoff.h). */
SEC("tc")
int spill_tc_steer(struct __sk_buff *skb)
{
	int v = meta_verdict(skb);
	struct sw_stats *st;
	struct packet p;

	if (v == PASS && !verdict_in_flow_table())
		return TC_ACT_OK;
	st = stats_this_cpu();
	if (!st || parse_skb(skb, FROM_CLIENT, &p) != PARSE_OK)
		return TC_ACT_OK;
	if (v == PASS)
		v = recorded_verdict(&p);
	if (v != PASS)
		steer_and_count(skb, &p, v, st);
	return TC_ACT_OK;
}

/*
 * At a bridge above attached ports (a bridge CNI's cni0): a packet a port
 * steered comes up through the bridge, where br_netfilter (the bridge-nf-
 * call-iptables Kubernetes requires) drops the socket the port assigned
 * (setup_pre_routing: skb_orphan, "because of tproxy"). Its mark survives:
 * assign it again here, past br_netfilter, on the bridge's way to TCP.
 * Other packets go on to the bridge's next filter, if any. Where the agent
 * attached spill_sk_lookup, the kernel's listener lookup finds the endpoint
 * for such a packet anyway (doc/deployment.md); this keeps steering where
 * it could not be attached.
 */
SEC("tc")
int spill_tc_bridge(struct __sk_buff *skb)
{
	struct sw_stats *st;
	struct packet p;

	if (skb->mark != steer_mark)
		return TC_ACT_UNSPEC;
	st = stats_this_cpu();
	if (!st || parse_skb(skb, FROM_CLIENT, &p) != PARSE_OK)
		return TC_ACT_OK;
	/* The port counted it steered; count only what fails now. */
	switch (tc_steer(skb, &p, false)) {
	case STEER_NO_ENDPOINT:
		st->steer_no_endpoint++;
		break;
	case STEER_REFUSED:
		st->steer_refused++;
		break;
	}
	return TC_ACT_OK;
}

SEC("tc")
int spill_tc_out(struct __sk_buff *skb)
{
	struct sw_stats *st = stats_this_cpu();
	struct packet p;

	if (!st)
		return TC_ACT_OK;
	st->packets++;
	if (agent_bypass(skb, st) ||
	    !parsed(st, parse_skb(skb, FROM_SERVICE, &p), &p))
		return TC_ACT_OK;
	process_from_service(&p, st);
	return TC_ACT_OK;
}

/*
 * A TCP packet no socket holds, in the agent's namespace: a steered
 * connection's goes to the endpoint's listener (lookup.h says when TC could
 * not assign it). Every other lookup goes on as if we were not here.
 */
SEC("sk_lookup")
int spill_sk_lookup(struct bpf_sk_lookup *ctx)
{
	struct packet p = {};

	if (lookup_steered(ctx, &p))
		lookup_endpoint(ctx, &p);
	return SK_PASS;
}

SEC("syscall")
int spill_ctl(struct sw_ctl *req)
{
	switch (req->op) {
	case SW_CTL_SERVICE_SET:
		req->err = service_set(&req->service.key, &req->service.cfg);
		break;
	case SW_CTL_COLLECT:
		req->err = collect(req);
		break;
	case SW_CTL_FLOW_FALLBACK:
		req->err = flow_fall_back(&req->flow.key);
		break;
	case SW_CTL_SERVICE_ADD:
		req->err = service_add(&req->add.key, &req->add.delta);
		break;
	case SW_CTL_LINK_GONE:
		req->err = link_gone(req);
		break;
	default:
		req->err = -EINVAL;
	}
	return 0;
}
