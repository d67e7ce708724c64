// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet-level tests of the datapath through BPF_PROG_TEST_RUN: packets are
 * built here, run through the real programs in the real kernel, and the
 * verdict, the bytes that come out (checksums verified independently) and
 * the maps are checked. Most scenarios run six times, IPv4 and IPv6 through
 * each way in: TC; XDP with the handoff the kernel offers (metadata where
 * bpf_xdp_adjust_meta loads); XDP with the flow-table handoff forced.
 *
 * The suite runs in a network namespace of its own (unshare), where it
 * listens as the tunnel endpoint so that spills can be steered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>

#include "spillway/abi.h"
#include "spillway/defaults.h"
#include "spillway.skel.h"
#include "lib/clock.h"
#include "lib/addr.h"
#include "lib/util.h"
#include "datapath/control.h"
#include "datapath/datapath.h"
#include "datapath/lookup.h"
#include "harness.h"
#include "pkt.h"
#include "datapath/probe.h"
#include "sandbox.h"
#include "datapath/upgrade.h"

enum hook { HOOK_TC, HOOK_XDP };

struct variant {
	enum hook hook;
	int family;
	enum sw_handoff handoff;	/* XDP: how spill_tc_steer learns */
};

static const struct variant tc4 = { HOOK_TC, 4, SW_HANDOFF_AUTO },
			    tc6 = { HOOK_TC, 6, SW_HANDOFF_AUTO };
static const struct variant xdp4 = { HOOK_XDP, 4, SW_HANDOFF_AUTO },
			    xdp6 = { HOOK_XDP, 6, SW_HANDOFF_AUTO };
static const struct variant xdpflow4 = { HOOK_XDP, 4, SW_HANDOFF_FLOW_TABLE },
			    xdpflow6 = { HOOK_XDP, 6, SW_HANDOFF_FLOW_TABLE };

#define VIP4 "10.96.0.10"
#define VIP6 "fd00:96::10"
#define CLIENT4 "10.0.0.2"
#define CLIENT6 "fd00:1::2"
#define OTHER4 "10.96.0.99"
#define OTHER6 "fd00:96::99"
#define PORT 80
#define REMOTE 1
/* A NodePort: NODE_PORT on the node's addresses (node_addrs: NODE4, NODE6). */
#define NODE4 "192.168.7.10"
#define NODE6 "fd00:7::10"
#define NODE_PORT 30080

/* The tunnel endpoint's listeners (enter_sandbox), by enum sw_endpoint_slot. */
static int endpoint[2];

/* Everything one case made; torn down after every case, failed or not. */
static struct {
	const struct variant *v;
	struct sw_datapath dp;
	bool loaded;
	struct sw_service_key svc;
	__u32 ingress_ifindex;	/* the link client packets come in on (0: none) */
	const char *addr;	/* the service side's address (NULL: vip()) */
	__u16 port;		/* the service side's port (0: PORT) */
} fx;

/* What came out of the ingress hook for one packet. */
enum outcome {
	OUT_PASS,		/* untouched, not steered */
	OUT_STEER,		/* steered to the tunnel endpoint */
	OUT_STEER_IF_OWNED,	/* XDP: asked TC to steer it if a socket owns it */
};

static const char *vip(void)
{
	return fx.v->family == 4 ? VIP4 : VIP6;
}

static const char *client(void)
{
	return fx.v->family == 4 ? CLIENT4 : CLIENT6;
}

static const char *node_addr(void)
{
	return fx.v->family == 4 ? NODE4 : NODE6;
}

/* Where the test's packets go: the VIP, or a node address for a NodePort. */
static const char *svc_addr(void)
{
	return fx.addr ? fx.addr : vip();
}

static __u16 svc_port(void)
{
	return fx.port ? fx.port : PORT;
}

/* Stand in for the agent: spills need a fresh heartbeat. */
static void heartbeat(__u64 now)
{
	struct sw_error e = {};

	CHECK(!sw_agent_heartbeat(&fx.dp, now, &e), "%s", e.msg);
}

/*
 * What an agent does after opening the datapath: XDP mode's programs, and
 * the endpoint's listeners in the endpoints map (spill_sk_lookup).
 */
static int load_rest(struct sw_error *e)
{
	int err = 0;

	if (fx.v->hook == HOOK_XDP)
		err = sw_datapath_load_xdp(&fx.dp, e);
	return err ? err : sw_datapath_lookup_endpoint(&fx.dp, endpoint, e);
}

static void load(const struct variant *v, const struct sw_datapath_opts *o)
{
	struct sw_datapath_opts d;
	struct sw_error e = {};
	char dir[SW_PIN_DIR_MAX];

	if (!o) {
		sw_datapath_opts_init(&d);
		o = &d;
	}
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/%s", test_unique("dp"));
	d = *o;
	d.pin_dir = dir;
	d.handoff = v->handoff;
	fx.v = v;
	CHECK(!sw_datapath_open(&fx.dp, &d, &e), "%s", e.msg);
	fx.loaded = true;
	CHECK(!load_rest(&e), "%s", e.msg);
	heartbeat(0);
}

static void set_service(__u32 max, __u32 resume)
{
	struct sw_service_config cfg = { .max_connections = max,
					 .resume_below = resume,
					 .overflow_to = { REMOTE } };
	struct sw_error e = {};

	CHECK(!sw_service_key_make(&fx.svc, vip(), PORT));
	CHECK(!sw_service_set(&fx.dp, &fx.svc, &cfg, &e), "%s", e.msg);
}

static void set_remote(__u32 id, bool healthy)
{
	struct sw_error e = {};

	CHECK(!sw_remote_set(&fx.dp, id, NULL, healthy, &e), "%s", e.msg);
}

/* Load the datapath and configure the service with a healthy remote. */
static void start(const struct variant *v, __u32 max, __u32 resume)
{
	load(v, NULL);
	set_service(max, resume);
	set_remote(REMOTE, true);
}

static void teardown(void)
{
	struct sw_error e = {};
	char dir[SW_PIN_DIR_MAX];

	if (!fx.loaded)
		return;
	snprintf(dir, sizeof(dir), "%s", fx.dp.pin_dir);
	sw_datapath_close(&fx.dp);
	if (sw_down(dir, &e))
		fprintf(stderr, "    teardown: %s\n", e.msg);
	memset(&fx, 0, sizeof(fx));
}

static struct sw_service service(void)
{
	struct sw_service s = {};

	CHECK(!sw_service_get(&fx.dp, &fx.svc, &s), "service not in the map");
	return s;
}

static struct sw_stats stats(void)
{
	struct sw_stats st;
	struct sw_error e = {};

	CHECK(!sw_stats_read(&fx.dp, &st, &e), "%s", e.msg);
	return st;
}

static struct spillway_bpf *skel(void)
{
	return fx.dp.skel;
}

/* XDP mode's programs (spill_xdp, spill_tc_steer): a second instance. */
static struct spillway_bpf *xdp(void)
{
	CHECK(fx.dp.xdp, "XDP mode's programs are not loaded");
	return fx.dp.xdp;
}

/* Does spill_tc_steer read decisions from the flow table now? */
static bool handoff_by_flow_table(void)
{
	return fx.dp.handoff == SW_HANDOFF_FLOW_TABLE ||
	       sw_datapath_meta_refused(&fx.dp);
}

static int fd_of(struct bpf_program *p)
{
	return bpf_program__fd(p);
}

/*
 * BPF_PROG_TEST_RUN builds a TC skb only around a whole IP header (it
 * refuses shorter IPv4 and IPv6 frames with EINVAL before any program runs);
 * such frames reach the same parser through XDP.
 */
static bool tc_test_run_refuses(const __u8 *frame, __u32 len)
{
	__u16 proto = len >= 14 ? frame[12] << 8 | frame[13] : 0;

	return (proto == 0x0800 && len < 14 + 20) ||
	       (proto == 0x86dd && len < 14 + 40);
}

/*
 * Run a program on a frame and return its verdict. The datapath never
 * rewrites a byte: whatever the program, the frame must come out exactly as
 * it went in. XDP says "steer" with a metadata word, or, with the flow-table
 * handoff, says nothing and spill_tc_steer (run here next, as the kernel
 * would) finds the decision. TC steers with bpf_sk_assign, which
 * BPF_PROG_TEST_RUN refuses (its skb is not at TC ingress): a steer is an
 * assignment made or refused, seen in the counters (tests/bpf/test_veth.c
 * sees real assignments on a real interface).
 */
static enum outcome run_frame(int fd, enum hook hook, const __u8 *frame,
			      __u32 len, __u32 mark)
{
	struct sw_stats before = stats(), after;
	__u8 out[PKT_MAX + 64];
	struct __sk_buff skb = { .mark = mark,
				 .ingress_ifindex = fx.ingress_ifindex };
	struct xdp_md md = { .data_end = len,
			     .ingress_ifindex = fx.ingress_ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len,
		    .data_out = out, .data_size_out = sizeof(out));
	__u32 meta = 0, meta_len;

	if (hook == HOOK_TC) {
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
		o.ctx_out = &skb;
		o.ctx_size_out = sizeof(skb);
	} else if (fx.ingress_ifindex) {
		o.ctx_in = &md;		/* the device must exist: lo */
		o.ctx_size_in = sizeof(md);
	}
	CHECK(!bpf_prog_test_run_opts(fd, &o), "test_run: %s", strerror(errno));
	CHECK_EQ(o.retval, hook == HOOK_XDP ? XDP_PASS : TC_ACT_OK);
	/* XDP's data_out starts with the metadata the program left. */
	meta_len = o.data_size_out - len;
	CHECK(meta_len == 0 || (hook == HOOK_XDP && meta_len == 4),
	      "%u bytes of metadata", meta_len);
	CHECK(!memcmp(out + meta_len, frame, len), "the frame was modified");
	if (hook == HOOK_XDP) {
		memcpy(&meta, out, meta_len);
		CHECK(!meta || meta == SW_META_STEER || meta == SW_META_ORPHAN,
		      "unknown metadata word %#x", meta);
		CHECK(!meta || fx.dp.handoff == SW_HANDOFF_METADATA,
		      "a metadata word with the %s handoff",
		      sw_handoff_name(fx.dp.handoff));
		if (!meta && handoff_by_flow_table() &&
		    !tc_test_run_refuses(frame, len))
			return run_frame(fd_of(xdp()->progs.spill_tc_steer),
					 HOOK_TC, frame, len, mark);
		return meta == SW_META_STEER ? OUT_STEER :
		       meta == SW_META_ORPHAN ? OUT_STEER_IF_OWNED : OUT_PASS;
	}
	CHECK(skb.mark == mark, "mark %#x without an assignment", skb.mark);
	after = stats();
	return after.steered + after.steer_refused >
			       before.steered + before.steer_refused ?
		       OUT_STEER : OUT_PASS;
}

static int ingress_fd(void)
{
	return fd_of(fx.v->hook == HOOK_XDP ? xdp()->progs.spill_xdp
					    : skel()->progs.spill_tc_in);
}

/* A packet of the connection from client port cport, either direction. */
static void conn_packet(struct pkt *p, __u16 cport, __u8 flags,
			bool from_service)
{
	struct tcp_spec s = { .family = fx.v->family, .src = client(),
			      .dst = svc_addr(), .sport = cport,
			      .dport = svc_port(), .flags = flags };

	if (from_service) {
		s.src = svc_addr();
		s.dst = client();
		s.sport = svc_port();
		s.dport = cport;
	}
	pkt_tcp(p, &s);
	CHECK(pkt_checksums_ok(p->data, p->len), "test packet checksum");
}

/* Client -> VIP:PORT through the ingress hook of the variant. */
static enum outcome from_client(__u16 cport, __u8 flags)
{
	struct pkt p;

	conn_packet(&p, cport, flags, false);
	return run_frame(ingress_fd(), fx.v->hook, p.data, p.len, 0);
}

/* VIP:PORT -> client through spill_tc_out (both modes use it). */
static void from_service(__u16 cport, __u8 flags)
{
	struct pkt p;

	conn_packet(&p, cport, flags, true);
	CHECK_EQ(run_frame(fd_of(skel()->progs.spill_tc_out), HOOK_TC, p.data,
			   p.len, 0), OUT_PASS);
}

static struct sw_flow_key flow_key(__u16 cport)
{
	struct sw_flow_key k = { .svc = fx.svc, .client_port = cport };
	__u8 family;

	CHECK(!sw_addr_parse(client(), k.client, &family));
	return k;
}

static bool flow_get(__u16 cport, struct sw_flow *f)
{
	struct sw_flow_key k = flow_key(cport);

	return !bpf_map_lookup_elem(bpf_map__fd(skel()->maps.flows), &k, f);
}

static struct sw_flow flow(__u16 cport)
{
	struct sw_flow f;

	CHECK(flow_get(cport, &f), "no flow for client port %u", cport);
	return f;
}

/* Count flows; stop (nonzero) once *stop_at have been seen, 0: never. */
struct walked {
	__u32 n, stop_at;
	__u8 seen[65536 / 8];	/* client ports */
};

static int count_flow(void *arg, const struct sw_flow_key *key,
		      const struct sw_flow *f)
{
	struct walked *w = arg;
	__u16 port = key->client_port;
	__u8 bit = 1 << (port & 7), *byte = &w->seen[port >> 3];

	(void)f;
	CHECK(!(*byte & bit), "port %u walked twice", port);
	*byte |= bit;
	return ++w->n == w->stop_at;
}

static __u32 flow_count(void)
{
	struct walked w = {};
	struct sw_error e = {};

	CHECK(!sw_flows_walk(&fx.dp, count_flow, &w, &e), "%s", e.msg);
	return w.n;
}

/* A first SYN: new connection from cport. */
static enum outcome syn(__u16 cport)
{
	return from_client(cport, TH_SYN);
}

/* A full handshake from the client's side: SYN then ACK. */
static enum outcome connect_from(__u16 cport)
{
	enum outcome o = syn(cport);

	CHECK_EQ(from_client(cport, TH_ACK), o);
	return o;
}

static void check_counts(__u32 local, __u32 remote)
{
	struct sw_service s = service();

	CHECK_EQ(s.active_local, local);
	CHECK_EQ(s.active_remote, remote);
}

static struct sw_collect_result collect_at(__u64 now)
{
	struct sw_collect_params p = {
		.now_ns = now,
		.half_open_ns = SW_DEFAULT_HALF_OPEN_TIMEOUT_S * 1000000000ull,
		.idle_ns = SW_DEFAULT_IDLE_TIMEOUT_S * 1000000000ull,
		.closed_ns = SW_DEFAULT_CLOSED_LINGER_S * 1000000000ull,
	};
	struct sw_collect_result r;
	struct sw_error e = {};

	CHECK(!sw_collect(&fx.dp, &p, &r, &e), "%s", e.msg);
	return r;
}

#define SEC_NS 1000000000ull

/* ------------------------------------------------------------------------
 * Threshold, hysteresis, stickiness
 */

static void test_threshold(const void *arg)
{
	struct sw_stats st;
	struct sw_service s;

	start(arg, 3, 0);
	for (__u16 port = 1; port <= 3; port++)
		CHECK_EQ(connect_from(port), OUT_PASS);	/* below and at */
	check_counts(3, 0);
	CHECK(!(service().flags & SW_SVC_OVERFLOWING));
	CHECK_EQ(connect_from(4), OUT_STEER);		/* above: spills */
	CHECK_EQ(connect_from(5), OUT_STEER);
	check_counts(3, 2);

	s = service();
	CHECK(s.flags & SW_SVC_OVERFLOWING);
	CHECK_EQ(s.local_total, 3);
	CHECK_EQ(s.overflowed_total, 2);
	CHECK_EQ(s.overflow_unavailable_total, 0);
	CHECK_EQ(flow(1).decision, SW_LOCAL);
	CHECK_EQ(flow(3).decision, SW_LOCAL);
	CHECK_EQ(flow(4).decision, SW_REMOTE);
	CHECK_EQ(flow(4).remote, REMOTE);
	CHECK(flow(4).state & SW_FLOW_ACKED);
	st = stats();
	CHECK_EQ(st.new_local, 3);
	CHECK_EQ(st.new_remote, 2);
	CHECK_EQ(flow_count(), 5);
}

static void test_hysteresis(const void *arg)
{
	struct sw_service s;

	start(arg, 4, 2);
	for (__u16 port = 1; port <= 4; port++)
		CHECK_EQ(connect_from(port), OUT_PASS);
	CHECK_EQ(connect_from(5), OUT_STEER);

	from_client(1, TH_RST);			/* local active 3: still >= 2 */
	check_counts(3, 1);
	CHECK_EQ(connect_from(6), OUT_STEER);
	from_client(2, TH_RST);			/* 2: still >= 2 */
	CHECK_EQ(connect_from(7), OUT_STEER);
	CHECK(service().flags & SW_SVC_OVERFLOWING);
	from_client(3, TH_RST);			/* 1: below resume_below */
	check_counts(1, 3);
	/* Settled by the release itself: the map says what a SYN will find. */
	s = service();
	CHECK(!(s.flags & SW_SVC_OVERFLOWING) && !sw_service_spills_next(&s));
	CHECK_EQ(connect_from(8), OUT_PASS);
	CHECK_EQ(connect_from(9), OUT_PASS);	/* slots again up to max */
	CHECK_EQ(connect_from(10), OUT_PASS);
	CHECK_EQ(connect_from(11), OUT_STEER);
	check_counts(4, 4);
}

/* A raised threshold settles an overflowing service at once. */
static void test_threshold_raised_settles(const void *arg)
{
	struct sw_service s;

	start(arg, 2, 0);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_PASS);
	CHECK_EQ(connect_from(3), OUT_STEER);
	s = service();
	CHECK((s.flags & SW_SVC_OVERFLOWING) && sw_service_spills_next(&s));
	set_service(5, 0);
	s = service();
	CHECK(!(s.flags & SW_SVC_OVERFLOWING) && !sw_service_spills_next(&s));
	CHECK_EQ(connect_from(4), OUT_PASS);
}

static void test_no_hysteresis_by_default(const void *arg)
{
	start(arg, 2, 0);
	CHECK_EQ(service().cfg.resume_below, 2);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_PASS);
	CHECK_EQ(connect_from(3), OUT_STEER);
	from_service(1, TH_RST);
	CHECK_EQ(connect_from(4), OUT_PASS);	/* room at once */
	check_counts(2, 1);
}

static void test_sticky(const void *arg)
{
	__u64 created;

	start(arg, 1, 0);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_STEER);
	created = flow(2).created_ns;

	set_service(10, 0);				/* raise: room now */
	CHECK_EQ(syn(2), OUT_STEER);			/* SYN retransmit */
	CHECK_EQ(from_client(2, TH_ACK | TH_PSH), OUT_STEER);
	CHECK_EQ(from_client(1, TH_ACK | TH_PSH), OUT_PASS);
	CHECK_EQ(connect_from(3), OUT_PASS);

	set_service(1, 0);				/* lower below active */
	set_remote(REMOTE, false);			/* and lose the remote */
	CHECK_EQ(from_client(2, TH_ACK), OUT_STEER);
	CHECK_EQ(syn(2), OUT_STEER);
	CHECK_EQ(from_client(3, TH_ACK), OUT_PASS);
	CHECK_EQ(from_client(1, TH_ACK), OUT_PASS);
	check_counts(2, 1);
	CHECK_EQ(flow(2).created_ns, created);	/* never re-decided */
	CHECK_EQ(stats().new_remote, 1);
}

/* ------------------------------------------------------------------------
 * No remote can take it: admitted locally, never dropped
 */

static void test_unavailable_remote_down(const void *arg)
{
	start(arg, 2, 0);
	set_remote(REMOTE, false);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_PASS);
	CHECK_EQ(connect_from(3), OUT_PASS);	/* over, but nowhere to go */
	check_counts(3, 0);
	CHECK(flow(3).state & SW_FLOW_UNAVAILABLE);
	CHECK_EQ(flow(3).decision, SW_LOCAL);
	CHECK_EQ(service().overflow_unavailable_total, 1);
	CHECK_EQ(stats().overflow_unavailable, 1);

	set_remote(REMOTE, true);		/* back: spill resumes */
	CHECK_EQ(connect_from(4), OUT_STEER);
	check_counts(3, 1);
	from_client(3, TH_RST);			/* releases a local slot */
	check_counts(2, 1);
}

/* The endpoint's listeners gone from the endpoints map (they closed). */
static void endpoint_gone(void)
{
	int map = bpf_map__fd(skel()->maps.endpoints);

	for (__u32 slot = 0; slot < SW_ENDPOINT_SLOTS; slot++)
		CHECK(!bpf_map_delete_elem(map, &slot), "%s", strerror(errno));
}

static void test_unavailable_no_endpoint(const void *arg)
{
	/* No endpoint in the map: as if no agent were running. */
	load(arg, NULL);
	endpoint_gone();
	set_service(1, 0);
	set_remote(REMOTE, true);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_PASS);
	check_counts(2, 0);
	CHECK(flow(2).state & SW_FLOW_UNAVAILABLE);
}

/* No live agent (its heartbeat is stale): nothing can carry a spill. */
static void test_unavailable_no_agent(const void *arg)
{
	start(arg, 1, 0);
	CHECK_EQ(connect_from(1), OUT_PASS);
	heartbeat(sw_now_ns() - SW_AGENT_TIMEOUT_NS - 1000000000ull);
	CHECK_EQ(connect_from(2), OUT_PASS);
	check_counts(2, 0);
	CHECK(flow(2).state & SW_FLOW_UNAVAILABLE);
	CHECK_EQ(stats().no_agent, 1);
	heartbeat(0);				/* it is back */
	CHECK_EQ(connect_from(3), OUT_STEER);
}

static void test_remote_order(const void *arg)
{
	struct sw_service_config cfg = { .max_connections = 1,
					 .overflow_to = { 7, 3, 9 } };
	struct sw_error e = {};

	load(arg, NULL);
	CHECK(!sw_service_key_make(&fx.svc, vip(), PORT));
	CHECK(!sw_service_set(&fx.dp, &fx.svc, &cfg, &e), "%s", e.msg);
	set_remote(3, true);
	set_remote(9, true);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_STEER);
	CHECK_EQ(flow(2).remote, 3);		/* 7 is not healthy */
	set_remote(7, true);
	CHECK_EQ(connect_from(3), OUT_STEER);
	CHECK_EQ(flow(3).remote, 7);		/* first healthy in order */
	CHECK_EQ(flow(2).remote, 3);		/* old flow keeps its remote */
}

/* ------------------------------------------------------------------------
 * Release: exactly once, by FINs, RST or expiry
 */

static void test_release_fin(const void *arg)
{
	start(arg, 1, 0);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_STEER);

	CHECK_EQ(from_client(1, TH_FIN | TH_ACK), OUT_PASS);
	check_counts(1, 1);			/* one FIN is a half-close */
	from_service(1, TH_FIN | TH_ACK);
	check_counts(0, 1);
	CHECK(flow(1).state & SW_FLOW_RELEASED);

	from_service(2, TH_FIN | TH_ACK);	/* the service closes first */
	check_counts(0, 1);
	CHECK_EQ(from_client(2, TH_FIN | TH_ACK), OUT_STEER);
	check_counts(0, 0);
	/* The last ACK still reaches the endpoint that owns the connection. */
	CHECK_EQ(from_client(2, TH_ACK), OUT_STEER);
	CHECK_EQ(stats().released_fin, 2);
}

static void test_release_rst(const void *arg)
{
	start(arg, 2, 0);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_PASS);
	CHECK_EQ(connect_from(3), OUT_STEER);
	CHECK_EQ(connect_from(4), OUT_STEER);

	CHECK_EQ(from_client(1, TH_RST), OUT_PASS);
	from_service(2, TH_RST | TH_ACK);
	CHECK_EQ(from_client(3, TH_RST), OUT_STEER);	/* the endpoint must see it */
	from_service(4, TH_RST);
	check_counts(0, 0);
	CHECK_EQ(stats().released_rst, 4);
	CHECK(flow(1).state & SW_FLOW_RST);
}

static void test_release_exactly_once(const void *arg)
{
	struct sw_collect_result r;

	start(arg, 2, 0);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_PASS);
	CHECK_EQ(connect_from(3), OUT_STEER);
	check_counts(2, 1);

	for (int i = 0; i < 3; i++) {
		from_client(1, TH_RST);
		from_service(1, TH_RST);
		from_client(2, TH_FIN | TH_ACK);
		from_service(2, TH_FIN | TH_ACK);
		from_client(2, TH_RST);
		from_client(3, TH_FIN | TH_ACK);
		from_service(3, TH_RST);
		from_service(3, TH_FIN | TH_ACK);
	}
	check_counts(0, 0);			/* not -1, -2: exactly once */
	CHECK_EQ(stats().released_rst + stats().released_fin, 3);

	/* Expiry of released flows releases nothing again. */
	r = collect_at(sw_now_ns() + 100 * SW_DEFAULT_IDLE_TIMEOUT_S * SEC_NS);
	CHECK_EQ(r.removed_closed, 3);
	CHECK_EQ(r.expired_idle + r.expired_half_open, 0);
	check_counts(0, 0);
	CHECK_EQ(flow_count(), 0);
}

/* ------------------------------------------------------------------------
 * Local fallback: the remote refused a spilled flow, the agent serves it here
 */

static int fall_back(__u16 cport)
{
	struct sw_flow_key k = flow_key(cport);
	struct sw_error e = {};

	return sw_flow_fall_back(&fx.dp, &k, &e);
}

static void test_local_fallback(const void *arg)
{
	struct sw_collect_result r;

	start(arg, 1, 0);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_STEER);
	CHECK_EQ(connect_from(3), OUT_STEER);
	check_counts(1, 2);

	CHECK_EQ(fall_back(2), 0);		/* the slot moves to local */
	check_counts(2, 1);
	CHECK(flow(2).state & SW_FLOW_LOCAL_FALLBACK);
	CHECK_EQ(flow(2).decision, SW_REMOTE);
	/* Its packets still go to the agent, which now serves it. */
	CHECK_EQ(from_client(2, TH_ACK | TH_PSH), OUT_STEER);
	CHECK_EQ(fall_back(2), -EALREADY);	/* moved once only */
	CHECK_EQ(fall_back(1), -EINVAL);	/* a local flow has no remote slot */
	CHECK_EQ(fall_back(9), -ENOENT);	/* no such flow */
	check_counts(2, 1);
	CHECK_EQ(service().local_fallback_total, 1);

	/* Released once, from the local count. */
	from_client(2, TH_FIN | TH_ACK);
	from_service(2, TH_FIN | TH_ACK);
	from_client(2, TH_RST);
	check_counts(1, 1);

	/* Ended before the move: the remote slot went back, nothing moves. */
	from_client(3, TH_RST);
	check_counts(1, 0);
	CHECK_EQ(fall_back(3), -ENOENT);
	check_counts(1, 0);

	/* Expiry gives a fallen-back flow's slot back to local too. */
	CHECK_EQ(connect_from(4), OUT_STEER);
	CHECK_EQ(fall_back(4), 0);
	check_counts(2, 0);
	r = collect_at(sw_now_ns() + (SW_DEFAULT_IDLE_TIMEOUT_S + 1) * SEC_NS);
	CHECK_EQ(r.expired_idle, 2);
	check_counts(0, 0);
	CHECK_EQ(service().local_fallback_total, 2);
}

static void test_expire_half_open(const void *arg)
{
	struct sw_collect_result r;
	__u64 created;

	start(arg, 2, 0);
	CHECK_EQ(syn(1), OUT_PASS);		/* SYN only: half-open */
	CHECK_EQ(connect_from(2), OUT_PASS);	/* handshake finished */
	CHECK_EQ(syn(3), OUT_STEER);		/* half-open, remote */
	created = flow(3).created_ns;

	r = collect_at(created + (SW_DEFAULT_HALF_OPEN_TIMEOUT_S - 1) * SEC_NS);
	CHECK_EQ(r.expired_half_open, 0);
	/* The unacknowledged local handshake stopped counting long ago. */
	check_counts(1, 1);
	CHECK_EQ(service().handshakes_aged_total, 1);

	r = collect_at(created + (SW_DEFAULT_HALF_OPEN_TIMEOUT_S + 1) * SEC_NS);
	CHECK_EQ(r.scanned, 3);
	CHECK_EQ(r.expired_half_open, 2);
	CHECK_EQ(r.expired_idle, 0);
	check_counts(1, 0);
	CHECK(!flow_get(1, &(struct sw_flow){}));
	CHECK(!flow_get(3, &(struct sw_flow){}));
	CHECK_EQ(flow(2).decision, SW_LOCAL);
	CHECK_EQ(stats().released_half_open, 2);
	/* A SYN flood cannot pin the service in overflow: room is back. */
	CHECK_EQ(connect_from(4), OUT_PASS);
}

/* Past two handshake ticks: every bucket the flows so far are in has aged. */
static void wait_handshakes_aged(void)
{
	usleep((2ull << SW_HANDSHAKE_TICK_SHIFT) / 1000 + 20000);
}

/*
 * SYNs that are never acknowledged (spoofed) hold their slots for one to
 * two handshake ticks, not until the half-open timeout: the threshold is
 * exact for handshakes under way, and room is back once they are stale.
 */
static void test_handshake_aged(const void *arg)
{
	start(arg, 2, 0);
	CHECK_EQ(syn(1), OUT_PASS);
	CHECK_EQ(syn(2), OUT_PASS);
	CHECK_EQ(syn(3), OUT_STEER);		/* exact while they are young */
	check_counts(2, 1);
	CHECK(flow(1).state & SW_FLOW_PROVISIONAL);
	wait_handshakes_aged();
	CHECK_EQ(syn(4), OUT_PASS);		/* 1 and 2 gave their slots back */
	check_counts(1, 1);
	CHECK_EQ(service().handshakes_aged_total, 2);
	CHECK_EQ(syn(1), OUT_PASS);		/* a retransmit follows its flow */
	CHECK_EQ(from_client(1, TH_ACK), OUT_PASS);	/* a late ACK: counts again */
	check_counts(2, 1);
	CHECK_EQ(syn(5), OUT_STEER);		/* 1 acknowledged + 4 young */
	CHECK_EQ(from_client(2, TH_RST), OUT_PASS);	/* it held nothing */
	check_counts(2, 2);
	CHECK_EQ(from_client(1, TH_RST), OUT_PASS);
	check_counts(1, 2);
	CHECK_EQ(from_client(4, TH_ACK), OUT_PASS);	/* in time: counts on */
	wait_handshakes_aged();
	CHECK_EQ(connect_from(6), OUT_PASS);
	CHECK_EQ(syn(7), OUT_STEER);		/* 4 and 6 hold the two slots */
	check_counts(2, 3);
	CHECK_EQ(service().handshakes_aged_total, 2);
	CHECK_EQ(from_client(4, TH_RST), OUT_PASS);
	CHECK_EQ(from_client(6, TH_RST), OUT_PASS);
	check_counts(0, 3);
	CHECK_EQ(stats().state_contention, 0);
}

/* The collector ages handshakes too, so status is right without new SYNs. */
static void test_handshake_aged_by_collector(const void *arg)
{
	struct sw_service s;

	start(arg, 1, 0);
	CHECK_EQ(syn(1), OUT_PASS);
	s = service();
	CHECK(sw_service_spills_next(&s));
	collect_at(flow(1).created_ns + (2ull << SW_HANDSHAKE_TICK_SHIFT));
	s = service();
	CHECK(!sw_service_spills_next(&s));
	check_counts(0, 0);
	CHECK_EQ(service().handshakes_aged_total, 1);
	CHECK_EQ(from_client(1, TH_ACK), OUT_PASS);
	check_counts(1, 0);
}

static void test_expire_idle(const void *arg)
{
	struct sw_collect_result r;
	__u64 seen;

	start(arg, 1, 0);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_STEER);
	seen = flow(2).last_seen_ns;

	r = collect_at(seen + (SW_DEFAULT_IDLE_TIMEOUT_S - 1) * SEC_NS);
	CHECK_EQ(r.expired_idle, 0);
	r = collect_at(seen + (SW_DEFAULT_IDLE_TIMEOUT_S + 1) * SEC_NS);
	CHECK_EQ(r.expired_idle, 2);
	check_counts(0, 0);
	CHECK_EQ(flow_count(), 0);
	CHECK_EQ(stats().released_idle, 2);
}

static void test_closed_linger(const void *arg)
{
	struct sw_collect_result r;

	start(arg, 0, 0);			/* everything spills */
	CHECK_EQ(connect_from(1), OUT_STEER);
	from_client(1, TH_FIN | TH_ACK);
	from_service(1, TH_FIN | TH_ACK);
	check_counts(0, 0);

	r = collect_at(flow(1).last_seen_ns +
		       (SW_DEFAULT_CLOSED_LINGER_S - 1) * SEC_NS);
	CHECK_EQ(r.removed_closed, 0);
	CHECK_EQ(from_client(1, TH_ACK), OUT_STEER);	/* late packet */
	r = collect_at(flow(1).last_seen_ns +
		       (SW_DEFAULT_CLOSED_LINGER_S + 1) * SEC_NS);
	CHECK_EQ(r.removed_closed, 1);
	CHECK_EQ(flow_count(), 0);
	check_counts(0, 0);
}

static void test_port_reuse(const void *arg)
{
	struct sw_flow before, after;

	start(arg, 1, 0);
	CHECK_EQ(connect_from(1), OUT_PASS);
	from_client(1, TH_RST);
	before = flow(1);
	CHECK(before.state & SW_FLOW_RELEASED);
	CHECK_EQ(connect_from(2), OUT_PASS);	/* takes the only slot */

	/* Same client port again: a new connection, decided afresh. */
	CHECK_EQ(connect_from(1), OUT_STEER);
	after = flow(1);
	CHECK_EQ(after.decision, SW_REMOTE);
	CHECK(!(after.state & SW_FLOW_RELEASED));
	check_counts(1, 1);
	CHECK_EQ(service().local_total, 2);
	CHECK_EQ(service().overflowed_total, 1);
}

static void test_service_readded(const void *arg)
{
	struct sw_error e = {};

	start(arg, 5, 0);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK(!sw_service_delete(&fx.dp, &fx.svc, &e), "%s", e.msg);
	set_service(5, 0);			/* a new instance, count 0 */
	check_counts(0, 0);
	from_client(1, TH_RST);			/* the old flow goes */
	check_counts(0, 0);			/* not -1 */
	CHECK_EQ(connect_from(2), OUT_PASS);
	check_counts(1, 0);
}

/*
 * A hash map recycles a deleted entry at once: a CPU still holding it must
 * not touch the connection that owns it now. Stage that: connection 1's key
 * holds an entry owned (tagged) by connection 2.
 */
static void test_recycled_entry(const void *arg)
{
	struct sw_flow_key k1;
	struct sw_flow owned_by_2;
	int fd;

	start(arg, 5, 0);
	k1 = flow_key(1);
	CHECK_EQ(connect_from(2), OUT_PASS);
	owned_by_2 = flow(2);
	fd = bpf_map__fd(skel()->maps.flows);
	CHECK(!bpf_map_update_elem(fd, &k1, &owned_by_2, BPF_NOEXIST));

	from_client(1, TH_RST);
	from_client(1, TH_FIN | TH_ACK);
	from_service(1, TH_FIN | TH_ACK);
	from_service(1, TH_RST);
	check_counts(1, 0);			/* connection 2's slot is kept */
	CHECK_EQ(flow(1).state, owned_by_2.state);
	CHECK_EQ(flow(1).tag, owned_by_2.tag);
	CHECK_EQ(stats().untracked, 2);		/* seen as not tracked */
	CHECK_EQ(stats().state_contention, 0);

	from_client(2, TH_RST);			/* its owner still releases it */
	check_counts(0, 0);
}

/* ------------------------------------------------------------------------
 * The flow table is full: admitted untracked, nothing leaks
 */

static void test_table_overfill(const void *arg)
{
	struct sw_datapath_opts o;
	struct sw_collect_result r;
	enum { CAP = 16 };

	sw_datapath_opts_init(&o);
	o.flow_capacity = CAP;
	load(arg, &o);
	set_service(CAP / 2, 0);
	set_remote(REMOTE, true);

	for (__u16 port = 1; port <= CAP + 8; port++)
		syn(port);
	CHECK_EQ(flow_count(), CAP);
	CHECK_EQ(stats().table_full, 8);
	/* Counts are exactly the tracked flows: 8 local, 8 remote. */
	check_counts(CAP / 2, CAP / 2);
	CHECK_EQ(service().local_total + service().overflowed_total, CAP);

	for (__u16 port = 1; port <= CAP + 8; port++)
		from_client(port, TH_RST);
	check_counts(0, 0);
	r = collect_at(sw_now_ns() + 2 * SW_DEFAULT_CLOSED_LINGER_S * SEC_NS);
	CHECK_EQ(r.removed_closed, CAP);
	CHECK_EQ(flow_count(), 0);

	/* Room again: new connections are tracked and counted. */
	CHECK_EQ(connect_from(100), OUT_PASS);
	check_counts(1, 0);
	CHECK_EQ(flow_count(), 1);
}

/*
 * The flow table read as `spillway flows` reads it: in batches, each flow
 * once, and no further than the reader wants.
 */
static void test_flows_walk(const void *arg)
{
	enum { FLOWS = 3 * SW_FLOWS_WALK_BATCH + 17 };
	struct sw_error e = {};
	struct walked w = {};

	start(arg, FLOWS, 0);
	for (__u16 port = 1; port <= FLOWS; port++)
		CHECK_EQ(syn(port), OUT_PASS);
	CHECK_EQ(flow_count(), FLOWS);
	CHECK_EQ(service().active_local, FLOWS);
	for (__u32 stop_at = 1; stop_at <= FLOWS; stop_at += SW_FLOWS_WALK_BATCH - 1) {
		memset(&w, 0, sizeof(w));
		w.stop_at = stop_at;
		CHECK(!sw_flows_walk(&fx.dp, count_flow, &w, &e), "%s", e.msg);
		CHECK_EQ(w.n, stop_at);
	}
}

/*
 * A pod is deleted: its connections vanish with its network namespace and
 * no FIN or RST reaches the datapath. When its link goes, the flows of the
 * clients last seen on that link are released at once; a link that went
 * with other clients releases nothing of these.
 */
static void test_release_link_gone(const void *arg)
{
	struct sw_error e = {};
	__u32 released = 7;

	start(arg, 4, 0);
	fx.ingress_ifindex = 1;		/* lo: XDP's test run wants a device */
	for (__u16 port = 1; port <= 6; port++)
		syn(port);
	check_counts(4, 2);
	CHECK(!sw_link_gone(&fx.dp, 2, &released, &e), "%s", e.msg);
	CHECK_EQ(released, 0);
	check_counts(4, 2);
	CHECK(!sw_link_gone(&fx.dp, 1, &released, &e), "%s", e.msg);
	CHECK_EQ(released, 6);
	check_counts(0, 0);
	CHECK(flow(1).state & SW_FLOW_RELEASED);
	CHECK(!sw_link_gone(&fx.dp, 1, &released, &e), "%s", e.msg);
	CHECK_EQ(released, 0);			/* once */
	check_counts(0, 0);
	/* The service is back to normal: the next connection is local. */
	CHECK_EQ(syn(7), OUT_PASS);
	check_counts(1, 0);
	fx.ingress_ifindex = 0;
}

/* ------------------------------------------------------------------------
 * Not ours: untouched
 */

static void test_not_a_vip(const void *arg)
{
	struct tcp_spec s;
	struct pkt p;
	struct sw_stats st;

	start(arg, 1, 0);
	s = (struct tcp_spec){ .family = fx.v->family, .src = client(),
			       .dst = fx.v->family == 4 ? OTHER4 : OTHER6,
			       .sport = 1, .dport = PORT, .flags = TH_SYN };
	pkt_tcp(&p, &s);
	CHECK_EQ(run_frame(ingress_fd(), fx.v->hook, p.data, p.len, 0), OUT_PASS);
	s.dst = vip();
	s.dport = PORT + 1;			/* the VIP, another port */
	pkt_tcp(&p, &s);
	CHECK_EQ(run_frame(ingress_fd(), fx.v->hook, p.data, p.len, 0), OUT_PASS);
	CHECK_EQ(flow_count(), 0);
	check_counts(0, 0);
	st = stats();
	CHECK_EQ(st.packets, 2);
	CHECK_EQ(st.new_local + st.new_remote + st.untracked, 0);
}

/* ------------------------------------------------------------------------
 * NodePorts: NODE_PORT on any of the node's addresses (bpf/nodeport.h)
 */

/*
 * Load, with a NodePort service {no vip, NODE_PORT} of threshold max, the
 * node's address in node_addrs, and NodePort matching on (as the agent
 * does while a service has a node_port). Packets go to the node address.
 */
static void start_node_port(const void *arg, __u32 max, bool on)
{
	struct sw_service_config cfg = { .max_connections = max,
					 .overflow_to = { REMOTE } };
	struct sw_node_addr_key node = {};
	struct sw_error e = {};

	load(arg, NULL);
	set_remote(REMOTE, true);
	CHECK(!sw_addr_parse(node_addr(), node.addr, &node.family));
	CHECK(!sw_node_addrs_set(&fx.dp, &node, 1, &e), "%s", e.msg);
	memset(&fx.svc, 0, sizeof(fx.svc));
	fx.svc.port = NODE_PORT;
	fx.svc.proto = IPPROTO_TCP;
	fx.svc.family = node.family;
	CHECK(!sw_service_set(&fx.dp, &fx.svc, &cfg, &e), "%s", e.msg);
	sw_datapath_node_ports(&fx.dp, on);
	fx.addr = node_addr();
	fx.port = NODE_PORT;
}

static void test_node_port_threshold(const void *arg)
{
	start_node_port(arg, 2, true);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_PASS);
	check_counts(2, 0);
	CHECK_EQ(connect_from(3), OUT_STEER);		/* past it: spills */
	check_counts(2, 1);
	/* The flows are the NodePort's: keyed without the node's address. */
	CHECK_EQ(flow(1).decision, SW_LOCAL);
	CHECK_EQ(flow(3).decision, SW_REMOTE);
	CHECK(flow(3).state & SW_FLOW_ACKED);
	CHECK_EQ(flow_count(), 3);
	CHECK_EQ(service().overflowed_total, 1);
}

/* Replies (spill_tc_out) come from the node's address: they release. */
static void test_node_port_release(const void *arg)
{
	start_node_port(arg, 1, true);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_STEER);
	CHECK_EQ(connect_from(3), OUT_STEER);

	CHECK_EQ(from_client(1, TH_FIN | TH_ACK), OUT_PASS);
	from_service(1, TH_FIN | TH_ACK);
	check_counts(0, 2);
	from_service(2, TH_RST);
	check_counts(0, 1);
	from_service(3, TH_FIN | TH_ACK);
	CHECK_EQ(from_client(3, TH_FIN | TH_ACK), OUT_STEER);
	check_counts(0, 0);
	CHECK_EQ(stats().released_fin, 2);
	CHECK_EQ(stats().released_rst, 1);
}

/* The NodePort's port on an address that is not the node's: not ours. */
static void test_node_port_not_local(const void *arg)
{
	start_node_port(arg, 1, true);
	fx.addr = fx.v->family == 4 ? OTHER4 : OTHER6;
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_PASS);
	from_service(1, TH_FIN | TH_ACK);
	CHECK_EQ(flow_count(), 0);
	check_counts(0, 0);
	CHECK_EQ(stats().untracked, 0);
}

/*
 * The kernel's listener lookup (spill_sk_lookup, bpf/lookup.h) for a
 * client port, to the service side's address and port: the cookie of the
 * socket it selected, 0 for none.
 */
static __u64 listener_lookup(__u16 cport, const char *local, __u16 lport)
{
	struct bpf_sk_lookup ctx = {
		.family = fx.v->family == 4 ? AF_INET : AF_INET6,
		.protocol = IPPROTO_TCP,
		.remote_port = htons(cport),
		.local_port = lport,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &ctx,
		    .ctx_size_out = sizeof(ctx));
	int af = ctx.family;

	CHECK(inet_pton(af, client(), af == AF_INET ? (void *)&ctx.remote_ip4 :
						      (void *)ctx.remote_ip6) == 1);
	CHECK(inet_pton(af, local, af == AF_INET ? (void *)&ctx.local_ip4 :
						   (void *)ctx.local_ip6) == 1);
	CHECK(!bpf_prog_test_run_opts(fd_of(skel()->progs.spill_sk_lookup), &o),
	      "test_run: %s", strerror(errno));
	return ctx.cookie;
}

static __u64 endpoint_cookie(void)
{
	int fd = endpoint[fx.v->family == 4 ? SW_ENDPOINT_IPV4 : SW_ENDPOINT_IPV6];
	socklen_t len = sizeof(__u64);
	__u64 cookie = 0;

	CHECK(!getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len), "%s",
	      strerror(errno));
	return cookie;
}

/*
 * A steered connection's lookup is answered with the endpoint's listener
 * (what a SYN reusing the port of an endpoint socket in TIME_WAIT needs);
 * a local connection's, one with no flow and one to another address are
 * left alone.
 */
static void test_listener_lookup(const void *arg)
{
	struct sw_error e = {};
	const char *other;

	start(arg, 1, 0);
	other = fx.v->family == 4 ? OTHER4 : OTHER6;
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_STEER);
	CHECK(endpoint_cookie() != 0);
	CHECK_EQ(listener_lookup(2, vip(), PORT), endpoint_cookie());
	CHECK_EQ(listener_lookup(1, vip(), PORT), 0);
	CHECK_EQ(listener_lookup(3, vip(), PORT), 0);
	CHECK_EQ(listener_lookup(2, other, PORT), 0);
	CHECK_EQ(listener_lookup(2, vip(), PORT + 1), 0);
	/* load() attached it; again: the map takes the sockets again. */
	CHECK(!sw_datapath_lookup_endpoint(&fx.dp, endpoint, &e), "%s", e.msg);
	CHECK_EQ(listener_lookup(2, vip(), PORT), endpoint_cookie());
}

/* A NodePort's steered connection: its flow is keyed without the address. */
static void test_node_port_listener_lookup(const void *arg)
{
	start_node_port(arg, 1, true);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_STEER);
	CHECK_EQ(listener_lookup(2, node_addr(), NODE_PORT), endpoint_cookie());
	CHECK_EQ(listener_lookup(1, node_addr(), NODE_PORT), 0);
	CHECK_EQ(listener_lookup(2, fx.v->family == 4 ? OTHER4 : OTHER6,
				 NODE_PORT), 0);
}

/*
 * `spillway check --kernel`: every feature every node needs is found here
 * (and on the 6.1 guest), the datapath being loadable on both; a probe
 * that got its program wrong would say "no".
 */
static void test_probe_every_node(const void *arg)
{
	(void)arg;
	for (int f = 0; f < SW_FEATURE_COUNT; f++)
		if (!sw_feature_info(f)->xdp_only)
			CHECK_EQ(sw_probe(f), SW_PRESENT);
}

/* Matching off (no service has a node_port, as the agent sees it): nothing. */
static void test_node_port_off(const void *arg)
{
	start_node_port(arg, 1, false);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_PASS);
	CHECK_EQ(flow_count(), 0);
	check_counts(0, 0);
}

/* The node's addresses follow the agent's list: one removed is not matched. */
static void test_node_port_address_gone(const void *arg)
{
	struct sw_error e = {};

	start_node_port(arg, 1, true);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK(!sw_node_addrs_set(&fx.dp, NULL, 0, &e), "%s", e.msg);
	CHECK_EQ(connect_from(2), OUT_PASS);
	check_counts(1, 0);
	CHECK_EQ(flow_count(), 1);
}

static void test_untracked(const void *arg)
{
	enum outcome expect;

	start(arg, 1, 0);
	/*
	 * XDP's metadata asks TC to steer it only if an endpoint socket owns
	 * it; by the flow table, TC finds no socket owns it, as in TC mode.
	 */
	expect = fx.v->hook == HOOK_XDP && !handoff_by_flow_table() ?
			 OUT_STEER_IF_OWNED : OUT_PASS;
	CHECK_EQ(from_client(1, TH_ACK), expect);
	CHECK_EQ(from_client(1, TH_FIN | TH_ACK), expect);
	CHECK_EQ(from_client(2, TH_RST), expect);
	from_service(1, TH_FIN | TH_ACK);
	CHECK_EQ(stats().untracked, 3);
	CHECK_EQ(flow_count(), 0);
	check_counts(0, 0);
	/* The next SYN still finds its slot: no release happened. */
	CHECK_EQ(connect_from(3), OUT_PASS);
	CHECK_EQ(connect_from(4), OUT_STEER);
}

/*
 * A driver that refuses XDP metadata at run time: spill_xdp says so
 * (xdp_meta_refused) and spill_tc_steer turns to the flow table, so a
 * packet that reaches it without a word is still steered.
 */
static void test_meta_refused(const void *arg)
{
	int tc_steer;
	struct pkt p;

	start(arg, 0, 0);			/* every connection spills */
	CHECK_EQ(connect_from(1), OUT_STEER);
	tc_steer = fd_of(xdp()->progs.spill_tc_steer);
	conn_packet(&p, 1, TH_ACK, false);
	CHECK_EQ(run_frame(tc_steer, HOOK_TC, p.data, p.len, 0),
		 fx.dp.handoff == SW_HANDOFF_FLOW_TABLE ? OUT_STEER : OUT_PASS);
	CHECK(!sw_datapath_meta_refused(&fx.dp));
	xdp()->bss->xdp_meta_refused = true;	/* as spill_xdp sets it */
	CHECK(sw_datapath_meta_refused(&fx.dp));
	CHECK_EQ(run_frame(tc_steer, HOOK_TC, p.data, p.len, 0), OUT_STEER);
	CHECK_EQ(connect_from(2), OUT_STEER);
	check_counts(0, 2);
}

static void test_agent_bypass_mark(const void *arg)
{
	struct pkt p;

	start(arg, 0, 0);
	conn_packet(&p, 1, TH_SYN, false);
	CHECK_EQ(run_frame(fd_of(skel()->progs.spill_tc_in), HOOK_TC, p.data,
			   p.len, SW_DEFAULT_BYPASS_MARK), OUT_PASS);
	conn_packet(&p, 1, TH_FIN, true);
	CHECK_EQ(run_frame(fd_of(skel()->progs.spill_tc_out), HOOK_TC, p.data,
			   p.len, SW_DEFAULT_BYPASS_MARK), OUT_PASS);
	CHECK_EQ(stats().agent_bypass, 2);
	CHECK_EQ(flow_count(), 0);
}

/*
 * spill_tc_bridge, at a bridge above attached ports, acts on what a port
 * steered (the steer mark) and nothing else: other packets go on to the
 * bridge's next filter (TC_ACT_UNSPEC), uncounted; a steered one is assigned
 * again (refused here, as run_frame says) and ends there (TC_ACT_OK). It
 * opens no flow and changes no count: the port did both.
 */
static int bridge_run(const struct pkt *p, __u32 mark)
{
	struct __sk_buff skb = { .mark = mark };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->data,
		    .data_size_in = p->len, .ctx_in = &skb,
		    .ctx_size_in = sizeof(skb));

	CHECK(!bpf_prog_test_run_opts(fd_of(skel()->progs.spill_tc_bridge), &o),
	      "test_run: %s", strerror(errno));
	return (int)o.retval;
}

static void test_bridge_steered_only(const void *arg)
{
	struct sw_stats before, after;
	struct pkt p;

	start(arg, 0, 0);
	conn_packet(&p, 1, TH_SYN, false);
	before = stats();
	CHECK_EQ(bridge_run(&p, 0), TC_ACT_UNSPEC);
	after = stats();
	CHECK(!memcmp(&before, &after, sizeof(before)), "counted");
	CHECK_EQ(bridge_run(&p, SW_DEFAULT_STEER_MARK), TC_ACT_OK);
	after = stats();
	CHECK_EQ(after.steer_refused, before.steer_refused + 1);
	after.steer_refused = before.steer_refused;
	CHECK(!memcmp(&before, &after, sizeof(before)), "counted more");
	CHECK_EQ(flow_count(), 0);
	check_counts(0, 0);
}

static void test_unusual_headers(const void *arg)
{
	struct tcp_spec s;
	struct pkt p;

	start(arg, 1, 0);
	s = (struct tcp_spec){ .family = fx.v->family, .src = client(),
			       .dst = vip(), .sport = 1, .dport = PORT,
			       .flags = TH_SYN, .ip_options = 8, .ipv6_ext = 2 };
	pkt_tcp(&p, &s);
	CHECK_EQ(run_frame(ingress_fd(), fx.v->hook, p.data, p.len, 0), OUT_PASS);
	s.sport = 2;
	pkt_tcp(&p, &s);
	CHECK_EQ(run_frame(ingress_fd(), fx.v->hook, p.data, p.len, 0), OUT_STEER);
	CHECK_EQ(flow(1).decision, SW_LOCAL);
	CHECK_EQ(flow(2).decision, SW_REMOTE);
	if (fx.v->family == 4)
		CHECK_EQ(stats().ip_options, 2);
	else
		CHECK_EQ(stats().ipv6_ext_headers, 2);
	/* Zero-length and non-empty payloads alike. */
	s.sport = 1;
	s.flags = TH_ACK | TH_PSH;
	s.payload = 100;
	pkt_tcp(&p, &s);
	CHECK_EQ(run_frame(ingress_fd(), fx.v->hook, p.data, p.len, 0), OUT_PASS);
	CHECK(flow(1).state & SW_FLOW_ACKED);
}

/* ------------------------------------------------------------------------
 * Malformed and unusual input: passed untouched, counted by kind
 */

static void put16(struct pkt *p, __u32 off, __u16 v)
{
	p->data[off] = v >> 8;
	p->data[off + 1] = v & 0xff;
}

#define M(fn, body) static void fn(struct pkt *p) { body; }
M(cut_eth_only, p->len = 14)
M(cut_ipv4_header, p->len = p->l3 + 10)
M(ihl_4, p->data[p->l3] = 0x44)
M(ihl_0, p->data[p->l3] = 0x40)
M(ihl_beyond_frame, p->data[p->l3] = 0x4f; put16(p, p->l3 + 2, 80))
M(tot_len_below_ihl, put16(p, p->l3 + 2, 16))
M(tot_len_no_tcp, put16(p, p->l3 + 2, 30))
M(version_6_in_ipv4, p->data[p->l3] = 0x65)
M(more_fragments, put16(p, p->l3 + 6, 0x2000))
M(fragment_offset, put16(p, p->l3 + 6, 0x0010))
M(ipv4_udp, p->data[p->l3 + 9] = 17)
M(ipv4_icmp, p->data[p->l3 + 9] = 1)
M(cut_ipv6_header, p->len = p->l3 + 30)
M(version_4_in_ipv6, p->data[p->l3] = 0x40)
M(ipv6_fragment, p->data[p->l3 + 6] = 44)
M(ipv6_no_next, p->data[p->l3 + 6] = 59)
M(ipv6_udp, p->data[p->l3 + 6] = 17)
M(ipv6_esp, p->data[p->l3 + 6] = 50)
M(ipv6_payload_len_short, put16(p, p->l3 + 4, 10))
M(ipv6_icmp, p->data[p->l3 + 6] = 58)
M(cut_tcp_header, p->len = p->l4 + 10)
M(doff_4, p->data[p->l4 + 12] = 0x40)
M(doff_beyond_frame, p->data[p->l4 + 12] = 0xf0)
M(syn_fin, p->data[p->l4 + 13] = TH_SYN | TH_FIN)
M(syn_rst, p->data[p->l4 + 13] = TH_SYN | TH_RST)
M(vlan_tag, put16(p, 12, 0x8100))
M(qinq_tag, put16(p, 12, 0x88a8))
M(arp, put16(p, 12, 0x0806))
#undef M

/* IPv6 frames with extension headers, then cut or overlong. */
static void ipv6_ext_chain(struct pkt *p, __u8 n)
{
	struct tcp_spec s = { .family = 6, .src = CLIENT6, .dst = VIP6,
			      .sport = 1, .dport = PORT, .flags = TH_SYN,
			      .ipv6_ext = n };

	pkt_tcp(p, &s);
}

static void ipv6_too_many_ext(struct pkt *p)
{
	ipv6_ext_chain(p, SW_MAX_IPV6_EXT + 1);
}

static void ipv6_ext_cut(struct pkt *p)
{
	ipv6_ext_chain(p, 1);
	p->len = p->l3 + 40 + 1;
}

static void ipv6_hop_by_hop_cut(struct pkt *p)
{
	ipv6_ext_cut(p);
	p->data[p->l3 + 6] = 0;
}

static void ipv6_ext_longer_than_payload(struct pkt *p)
{
	ipv6_ext_chain(p, 1);
	p->data[p->l3 + 40 + 1] = 255;	/* 2 KiB of options */
}

static void ipv6_fragment_after_ext(struct pkt *p)
{
	ipv6_ext_chain(p, 1);
	p->data[p->l3 + 40] = 44;
}

#define STAT(f) offsetof(struct sw_stats, f)

static const struct malformed {
	const char *name;
	int family;		/* 4, 6, or 0: both */
	void (*make)(struct pkt *p);
	size_t stat;		/* the counter it must bump */
} malformed[] = {
	{ "Ethernet header only", 0, cut_eth_only, 0 },
	{ "IPv4 header cut", 4, cut_ipv4_header, STAT(truncated_ip) },
	{ "IPv4 IHL 4", 4, ihl_4, STAT(bad_ihl) },
	{ "IPv4 IHL 0", 4, ihl_0, STAT(bad_ihl) },
	{ "IPv4 IHL past the frame", 4, ihl_beyond_frame, STAT(truncated_ip) },
	{ "IPv4 total length < IHL", 4, tot_len_below_ihl, STAT(bad_ip_len) },
	{ "IPv4 total length leaves no TCP header", 4, tot_len_no_tcp, STAT(bad_ip_len) },
	{ "IPv4 ethertype, version 6", 4, version_6_in_ipv4, STAT(bad_ip_version) },
	{ "IPv4 more-fragments", 4, more_fragments, STAT(fragments) },
	{ "IPv4 fragment offset", 4, fragment_offset, STAT(fragments) },
	{ "IPv4 UDP to the VIP port", 4, ipv4_udp, STAT(not_tcp) },
	{ "IPv4 ICMP", 4, ipv4_icmp, STAT(not_tcp) },
	{ "IPv6 header cut", 6, cut_ipv6_header, STAT(truncated_ipv6) },
	{ "IPv6 ethertype, version 4", 6, version_4_in_ipv6, STAT(bad_ip_version) },
	{ "IPv6 fragment header", 6, ipv6_fragment, STAT(fragments) },
	{ "IPv6 no next header", 6, ipv6_no_next, STAT(not_tcp) },
	{ "IPv6 UDP to the VIP port", 6, ipv6_udp, STAT(not_tcp) },
	{ "IPv6 ESP", 6, ipv6_esp, STAT(not_tcp) },
	{ "IPv6 payload length < TCP header", 6, ipv6_payload_len_short, STAT(bad_ip_len) },
	{ "IPv6 extension header chain too long", 6, ipv6_too_many_ext, STAT(ipv6_ext_unsupported) },
	{ "IPv6 extension header cut", 6, ipv6_ext_cut, STAT(truncated_ipv6) },
	{ "IPv6 hop-by-hop header cut", 6, ipv6_hop_by_hop_cut, STAT(truncated_ipv6) },
	{ "IPv6 extension header longer than the payload", 6,
	  ipv6_ext_longer_than_payload, STAT(bad_ip_len) },
	{ "IPv6 fragment header after options", 6, ipv6_fragment_after_ext, STAT(fragments) },
	{ "IPv6 ICMPv6", 6, ipv6_icmp, STAT(not_tcp) },
	{ "TCP header cut", 0, cut_tcp_header, STAT(truncated_tcp) },
	{ "TCP data offset 4", 0, doff_4, STAT(bad_tcp_doff) },
	{ "TCP data offset past the frame", 0, doff_beyond_frame, STAT(truncated_tcp) },
	{ "SYN+FIN", 0, syn_fin, STAT(bad_tcp_flags) },
	{ "SYN+RST", 0, syn_rst, STAT(bad_tcp_flags) },
	{ "802.1Q VLAN tag", 0, vlan_tag, STAT(vlan) },
	{ "802.1ad QinQ tag", 0, qinq_tag, STAT(vlan) },
	{ "ARP", 0, arp, STAT(not_ip) },
};

static __u64 stat_at(const struct sw_stats *st, size_t off)
{
	__u64 v;

	memcpy(&v, (const __u8 *)st + off, sizeof(v));
	return v;
}

static void check_tc_refuses(int fd, const struct pkt *p, const char *name)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->data,
		    .data_size_in = p->len);

	CHECK(bpf_prog_test_run_opts(fd, &o) && errno == EINVAL,
	      "%s: test_run took a frame it used to refuse", name);
}

/*
 * Through every program that parses (spill_xdp, spill_tc_in, spill_tc_out)
 * the frame passes untouched, bumps exactly its counter and opens nothing.
 */
static void check_passed_and_counted(const struct pkt *p, size_t stat,
				     const char *name)
{
	const struct {
		struct bpf_program *prog;
		enum hook hook;
	} progs[] = {
		{ xdp()->progs.spill_xdp, HOOK_XDP },
		{ skel()->progs.spill_tc_in, HOOK_TC },
		{ skel()->progs.spill_tc_out, HOOK_TC },
	};

	for (size_t i = 0; i < ARRAY_SIZE(progs); i++) {
		struct sw_stats before = stats(), after;

		if (progs[i].hook == HOOK_TC && tc_test_run_refuses(p->data, p->len)) {
			check_tc_refuses(fd_of(progs[i].prog), p, name);
			continue;
		}
		CHECK(run_frame(fd_of(progs[i].prog), progs[i].hook, p->data,
				p->len, 0) == OUT_PASS, "%s: steered", name);
		after = stats();
		CHECK(stat_at(&after, stat) == stat_at(&before, stat) + 1,
		      "%s: %s did not count it once (counter at offset %zu)",
		      name, bpf_program__name(progs[i].prog), stat);
		CHECK(after.packets == before.packets + 1, "%s", name);
		CHECK(after.new_local + after.new_remote + after.untracked ==
		      before.new_local + before.new_remote + before.untracked,
		      "%s: classified as a connection", name);
	}
	CHECK(flow_count() == 0, "%s: opened a flow", name);
	check_counts(0, 0);
}

static void test_malformed(const void *arg)
{
	struct tcp_spec s;
	struct pkt p;
	int n = 0;

	start(arg, 0, 0);	/* anything classified would spill: visible */
	s = (struct tcp_spec){ .family = fx.v->family, .src = client(),
			       .dst = vip(), .sport = 1, .dport = PORT,
			       .flags = TH_SYN };
	for (size_t i = 0; i < ARRAY_SIZE(malformed); i++) {
		const struct malformed *m = &malformed[i];
		size_t stat = m->stat;

		if (m->family && m->family != fx.v->family)
			continue;
		pkt_tcp(&p, &s);
		m->make(&p);
		if (m->make == cut_eth_only)
			stat = fx.v->family == 4 ? STAT(truncated_ip)
						 : STAT(truncated_ipv6);
		check_passed_and_counted(&p, stat, m->name);
		n++;
	}
	CHECK(n >= 20, "only %d cases for IPv%d", n, fx.v->family);
}

/* A SYN cut at every length from the Ethernet header to the last byte. */
static void test_truncated_everywhere(const void *arg)
{
	struct tcp_spec s;
	struct pkt full, p;
	char name[64];

	start(arg, 0, 0);
	s = (struct tcp_spec){ .family = fx.v->family, .src = client(),
			       .dst = vip(), .sport = 1, .dport = PORT,
			       .flags = TH_SYN };
	pkt_tcp(&full, &s);
	for (__u32 len = 14; len < full.len; len++) {
		p = full;
		p.len = len;
		snprintf(name, sizeof(name), "cut at %u of %u", len, full.len);
		check_passed_and_counted(&p, len < full.l4 ?
			(fx.v->family == 4 ? STAT(truncated_ip) : STAT(truncated_ipv6)) :
			STAT(truncated_tcp), name);
	}
	/* And whole, it is a connection. */
	CHECK_EQ(run_frame(ingress_fd(), fx.v->hook, full.data, full.len, 0),
		 OUT_STEER);
}

/* ------------------------------------------------------------------------
 * Concurrency: SYNs and RSTs from both CPUs at once
 */

#define STORM_CONNS 20000	/* per thread */
#define STORM_MAX 1000

struct storm {
	pthread_t thread;
	pthread_barrier_t *go;
	int cpu, fd;
	enum hook hook;
	__u16 first_port;	/* this thread's connections */
	__u16 ports;
	const __u8 *flags;	/* each connection's packets, 0-terminated */
	int errors;
};

static void *storm_run(void *arg)
{
	struct storm *t = arg;
	struct tcp_spec s = { .family = fx.v->family, .src = client(),
			      .dst = vip(), .dport = PORT };
	cpu_set_t cpus;
	__u8 out[PKT_MAX + 64];
	struct pkt p;

	CPU_ZERO(&cpus);
	CPU_SET(t->cpu, &cpus);
	if (pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus))
		t->errors++;
	pthread_barrier_wait(t->go);
	for (__u32 i = 0; i < t->ports * 2; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_out = out,
			    .data_size_out = sizeof(out));

		s.sport = t->first_port + i / 2;
		s.flags = t->flags[i % 2];
		if (!s.flags)
			continue;
		pkt_tcp(&p, &s);
		o.data_in = p.data;
		o.data_size_in = p.len;
		if (bpf_prog_test_run_opts(t->fd, &o) ||
		    o.retval != (t->hook == HOOK_XDP ? XDP_PASS : TC_ACT_OK))
			t->errors++;
	}
	return NULL;
}

/*
 * A storm's connections: handshakes the client completes at once (a SYN
 * left unacknowledged stops counting after 268-537 ms, which an emulated
 * CPU can take to send a storm), and resets.
 */
static const __u8 handshakes[] = { TH_SYN, TH_ACK };
static const __u8 resets[] = { TH_RST, 0 };
static const __u8 syns[] = { TH_SYN, 0 };

/* Run one storm per CPU, all starting together. */
static void storm(const __u16 first_port[2], __u16 ports, const __u8 *flags)
{
	struct storm t[2];
	pthread_barrier_t go;

	CHECK(libbpf_num_possible_cpus() >= 2, "needs two CPUs");
	heartbeat(0);
	pthread_barrier_init(&go, NULL, 2);
	for (int i = 0; i < 2; i++) {
		t[i] = (struct storm){ .go = &go, .cpu = i, .fd = ingress_fd(),
				       .hook = fx.v->hook,
				       .first_port = first_port[i],
				       .ports = ports, .flags = flags };
		CHECK(!pthread_create(&t[i].thread, NULL, storm_run, &t[i]));
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i].thread, NULL);
	pthread_barrier_destroy(&go);
	CHECK_EQ(t[0].errors + t[1].errors, 0);
}

static __u32 local_flows(void)
{
	struct sw_flow_key k, next;
	int fd = bpf_map__fd(skel()->maps.flows);
	struct sw_flow f;
	void *prev = NULL;
	__u32 n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(fd, &k, &f) && f.decision == SW_LOCAL &&
		    !(f.state & SW_FLOW_RELEASED))
			n++;
	}
	return n;
}

static void test_concurrent_syns(const void *arg)
{
	const __u16 disjoint[2] = { 1, 1 + STORM_CONNS };
	const __u16 same[2] = { 1, 1 };

	start(arg, STORM_MAX, 0);
	/* Different connections on both CPUs: never more than max local. */
	storm(disjoint, STORM_CONNS, handshakes);
	CHECK_EQ(flow_count(), 2 * STORM_CONNS);
	CHECK_EQ(local_flows(), STORM_MAX);
	check_counts(STORM_MAX, 2 * STORM_CONNS - STORM_MAX);
	CHECK_EQ(service().local_total, STORM_MAX);
	CHECK_EQ(service().overflowed_total, 2 * STORM_CONNS - STORM_MAX);

	/* Both CPUs reset the same connections: each released once. */
	storm(same, 2 * STORM_CONNS, resets);
	check_counts(0, 0);
	CHECK_EQ(stats().released_rst, 2 * STORM_CONNS);
	CHECK_EQ(local_flows(), 0);
}

/*
 * SYNs never acknowledged, racing on both CPUs with the aging of their
 * buckets and then with their resets: every slot is given back once,
 * whoever gets there first (a second give-back would wrap the counter).
 */
static void test_concurrent_unacknowledged(const void *arg)
{
	const __u16 disjoint[2] = { 1, 1 + STORM_CONNS };
	const __u16 same[2] = { 1, 1 };
	__u32 local;

	start(arg, STORM_MAX, 0);
	storm(disjoint, STORM_CONNS, syns);
	local = local_flows();
	CHECK(local >= STORM_MAX, "%u local", local);
	wait_handshakes_aged();
	collect_at(sw_now_ns());
	check_counts(0, 2 * STORM_CONNS - local);
	CHECK_EQ(service().handshakes_aged_total, local);
	storm(same, 2 * STORM_CONNS, resets);
	check_counts(0, 0);
	CHECK_EQ(stats().state_contention, 0);
}

/* The same SYNs on both CPUs at once: one flow each, one slot each. */
static void test_concurrent_same_syns(const void *arg)
{
	const __u16 same[2] = { 1, 1 };

	start(arg, STORM_MAX, 0);
	storm(same, 2 * STORM_MAX, handshakes);
	CHECK_EQ(flow_count(), 2 * STORM_MAX);
	CHECK_EQ(local_flows(), STORM_MAX);
	check_counts(STORM_MAX, STORM_MAX);
}

/* ------------------------------------------------------------------------
 * Loader: pinning, adoption, refusing what does not fit
 */

static void reopen(const struct sw_datapath_opts *o, struct sw_error *e,
		   int *err)
{
	struct sw_datapath_opts d;
	char dir[SW_PIN_DIR_MAX];

	if (!o) {
		sw_datapath_opts_init(&d);
		o = &d;
	}
	d = *o;
	snprintf(dir, sizeof(dir), "%s", fx.dp.pin_dir);
	d.pin_dir = dir;
	d.handoff = fx.v->handoff;
	sw_datapath_close(&fx.dp);
	*err = sw_datapath_open(&fx.dp, &d, e);
	/* XDP mode's programs share the new maps (mid-upgrade too). */
	if (!*err)
		*err = load_rest(e);
	if (*err)	/* keep the pin dir name for teardown */
		snprintf(fx.dp.pin_dir, sizeof(fx.dp.pin_dir), "%s", dir);
}

static void test_adopt_pinned(const void *arg)
{
	struct sw_error e = {};
	int err;

	start(arg, 1, 0);
	CHECK(!fx.dp.adopted);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_STEER);
	reopen(NULL, &e, &err);			/* like an agent restart */
	CHECK(!err, "%s", e.msg);
	CHECK(fx.dp.adopted);
	check_counts(1, 1);
	CHECK_EQ(from_client(2, TH_ACK), OUT_STEER);	/* flows survived */
	CHECK_EQ(connect_from(3), OUT_STEER);
	from_client(1, TH_RST);
	check_counts(0, 2);
}

static void test_refuse_other_layout(const void *arg)
{
	struct sw_layout bad = { .version = SW_LAYOUT_VERSION + 98 };
	struct sw_error e = {};
	char want[64];
	__u32 zero = 0;
	int err;

	start(arg, 1, 0);
	CHECK(!bpf_map_update_elem(bpf_map__fd(skel()->maps.layout), &zero,
				   &bad, BPF_ANY));
	reopen(NULL, &e, &err);
	CHECK(err == -EPROTO, "err %d", err);
	snprintf(want, sizeof(want), "layout version %u", bad.version);
	CHECK(strstr(e.msg, want) && strstr(e.msg, fx.dp.pin_dir) &&
	      strstr(e.msg, "spillway down"), "message: %s", e.msg);
}

/* The size of a services value in an older layout. */
static __u32 old_service_size(__u32 version)
{
	return version == 1 ? sizeof(struct sw_service_v1) :
			      sizeof(struct sw_service_v2);
}

/* Today's service as an older layout stored it (abi.h: older values are
 * prefixes of today's; layout 1 had no local_fallback_total). */
static void service_as_old(__u32 version, const struct sw_service *s,
			   unsigned char *out)
{
	struct sw_service_v1 *v1 = (struct sw_service_v1 *)out;

	memcpy(out, s, old_service_size(version));
	if (version == 1)
		v1->epoch = s->epoch;
}

/*
 * Pin what an agent of an older layout would have left: its services map,
 * holding this process's services less what `pending` local connections
 * added (the old programs count them after the upgrade's copy). Returns
 * the old map, kept open to play the old programs.
 */
static int pin_layout(__u32 version, __u32 pending)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	int new_fd = bpf_map__fd(skel()->maps.services), fd;
	unsigned char old[sizeof(struct sw_service)];
	struct sw_service_key key, *prev = NULL;
	struct sw_layout lay = { .version = version };
	char path[PATH_MAX];
	struct sw_service s;
	__u32 zero = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "services", sizeof(key),
			    old_service_size(version), SW_MAX_SERVICES, &opts);
	CHECK(fd >= 0, "creating a layout %u services map: %s", version,
	      strerror(errno));
	while (!bpf_map_get_next_key(new_fd, prev, &key)) {
		prev = &key;
		CHECK(!bpf_map_lookup_elem(new_fd, &key, &s));
		s.active_local -= pending;
		s.local_total -= pending;
		service_as_old(version, &s, old);
		CHECK(!bpf_map_update_elem(fd, &key, old, BPF_NOEXIST));
	}
	sw_pin_path(path, sizeof(path), fx.dp.pin_dir, "services");
	CHECK(!unlink(path) && !bpf_obj_pin(fd, path), "%s", strerror(errno));
	CHECK(!bpf_map_update_elem(bpf_map__fd(skel()->maps.layout), &zero,
				   &lay, BPF_ANY));
	return fd;
}

/*
 * The old programs open `n` local connections after the copy (the counters
 * they add to sit at the same offsets in every layout).
 */
static void old_programs_open_local(int old_fd, __u32 n)
{
	struct sw_service v;

	CHECK(!bpf_map_lookup_elem(old_fd, &fx.svc, &v));
	v.active_local += n;
	v.local_total += n;
	CHECK(!bpf_map_update_elem(old_fd, &fx.svc, &v, BPF_EXIST));
}

static __u32 pinned_layout(void)
{
	char path[PATH_MAX];
	struct sw_layout lay = {};
	__u32 zero = 0;
	int fd;

	sw_pin_path(path, sizeof(path), fx.dp.pin_dir, "layout");
	fd = bpf_obj_get(path);
	CHECK(fd >= 0 && !bpf_map_lookup_elem(fd, &zero, &lay));
	close(fd);
	return lay.version;
}

/* The pinned services map is the one this process's programs use. */
static void check_services_pinned(void)
{
	struct bpf_map_info pinned = {}, ours = {};
	__u32 len = sizeof(pinned);
	char path[PATH_MAX];
	int fd;

	sw_pin_path(path, sizeof(path), fx.dp.pin_dir, "services");
	fd = bpf_obj_get(path);
	CHECK(fd >= 0 && !bpf_obj_get_info_by_fd(fd, &pinned, &len));
	close(fd);
	len = sizeof(ours);
	CHECK(!bpf_obj_get_info_by_fd(bpf_map__fd(skel()->maps.services), &ours,
				      &len));
	CHECK_EQ(pinned.id, ours.id);
	CHECK_EQ(pinned.value_size, sizeof(struct sw_service));
	sw_pin_path(path, sizeof(path), fx.dp.pin_dir, SW_UPGRADE_DIR);
	CHECK(access(path, F_OK) && errno == ENOENT, "%s was left behind", path);
}

/*
 * An agent of this build finds an older layout (a rolling update): no
 * refusal, every flow and counter carried over, including what the old
 * programs counted between the copy and the swap.
 */
static void upgrade_from(const void *arg, __u32 version)
{
	struct sw_error e = {};
	struct sw_service s;
	int old_fd, err;

	start(arg, 2, 0);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK_EQ(connect_from(2), OUT_PASS);
	CHECK_EQ(connect_from(3), OUT_STEER);
	old_fd = pin_layout(version, 1);	/* connection 2 comes later */
	reopen(NULL, &e, &err);
	CHECK(!err, "%s", e.msg);
	CHECK(fx.dp.adopted && fx.dp.upgrade);
	CHECK_EQ(pinned_layout(), version);	/* until it is finished */
	check_counts(1, 1);			/* the copy */
	old_programs_open_local(old_fd, 1);	/* before the swap */
	CHECK(!sw_datapath_finish_upgrade(&fx.dp, &e), "%s", e.msg);
	close(old_fd);
	CHECK(!fx.dp.upgrade);
	CHECK_EQ(pinned_layout(), SW_LAYOUT_VERSION);
	check_services_pinned();
	s = service();
	CHECK_EQ(s.active_local, 2);
	CHECK_EQ(s.active_remote, 1);
	CHECK_EQ(s.local_total, 2);
	CHECK_EQ(s.overflowed_total, 1);
	/* Flows survived, and release into the new map. */
	CHECK_EQ(from_client(3, TH_ACK), OUT_STEER);
	CHECK_EQ(from_client(2, TH_RST), OUT_PASS);
	check_counts(1, 1);
	CHECK_EQ(connect_from(4), OUT_PASS);
	CHECK_EQ(connect_from(5), OUT_STEER);	/* the threshold holds */
	check_counts(2, 2);
}

static void test_upgrade_layout_1(const void *arg)
{
	upgrade_from(arg, 1);
}

static void test_upgrade_layout_2(const void *arg)
{
	upgrade_from(arg, 2);
}

/* An upgrade that stopped before it finished (the agent died) is redone. */
static void test_upgrade_interrupted(const void *arg)
{
	struct sw_error e = {};
	int old_fd, err;

	start(arg, 2, 0);
	CHECK_EQ(connect_from(1), OUT_PASS);
	old_fd = pin_layout(1, 0);
	reopen(NULL, &e, &err);
	CHECK(!err && fx.dp.upgrade, "%s", e.msg);
	CHECK_EQ(connect_from(2), OUT_PASS);	/* counted in the unfinished map */
	reopen(NULL, &e, &err);			/* died; the next agent */
	CHECK(!err && fx.dp.upgrade, "%s", e.msg);
	old_programs_open_local(old_fd, 1);	/* the old map is what counts */
	CHECK(!sw_datapath_finish_upgrade(&fx.dp, &e), "%s", e.msg);
	close(old_fd);
	check_services_pinned();
	check_counts(2, 0);
	CHECK_EQ(connect_from(3), OUT_STEER);
}

/* Died after moving the pins, before writing the version: just adopted. */
static void test_upgrade_pins_moved(const void *arg)
{
	struct sw_layout one = { .version = 1 };
	struct sw_error e = {};
	__u32 zero = 0;
	int err;

	start(arg, 1, 0);
	CHECK_EQ(connect_from(1), OUT_PASS);
	CHECK(!bpf_map_update_elem(bpf_map__fd(skel()->maps.layout), &zero,
				   &one, BPF_ANY));
	reopen(NULL, &e, &err);
	CHECK(!err, "%s", e.msg);
	CHECK(fx.dp.adopted && !fx.dp.upgrade);
	CHECK_EQ(pinned_layout(), SW_LAYOUT_VERSION);
	check_counts(1, 0);
}

/* 'spillway down' also removes what an unfinished upgrade pinned. */
static void test_down_unfinished_upgrade(const void *arg)
{
	struct sw_error e = {};
	char dir[SW_PIN_DIR_MAX];
	int err;

	start(arg, 1, 0);
	close(pin_layout(2, 0));
	reopen(NULL, &e, &err);
	CHECK(!err && fx.dp.upgrade, "%s", e.msg);
	snprintf(dir, sizeof(dir), "%s", fx.dp.pin_dir);
	sw_datapath_close(&fx.dp);
	fx.loaded = false;
	CHECK(!sw_down(dir, &e), "%s", e.msg);
	CHECK(access(dir, F_OK) && errno == ENOENT, "%s was left behind", dir);
}

static void test_refuse_other_capacity(const void *arg)
{
	struct sw_datapath_opts o;
	struct sw_error e = {};
	int err;

	sw_datapath_opts_init(&o);
	o.flow_capacity = 64;
	load(arg, &o);
	o.flow_capacity = 128;
	reopen(&o, &e, &err);
	CHECK(err == -EINVAL, "err %d", err);
	CHECK(strstr(e.msg, "flow capacity 128") && strstr(e.msg, "holds 64"),
	      "message: %s", e.msg);
	o.flow_capacity = 0;			/* "whatever it has" */
	reopen(&o, &e, &err);
	CHECK(!err, "%s", e.msg);
	CHECK_EQ(bpf_map__max_entries(skel()->maps.flows), 64);
}

/* A load that fails leaves no pin directory behind (it made one). */
static void test_failed_load_leaves_nothing(const void *arg)
{
	struct sw_datapath_opts o;
	struct sw_datapath dp;
	struct sw_error e = {};
	char dir[SW_PIN_DIR_MAX];

	(void)arg;
	sw_datapath_opts_init(&o);
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/%s", test_unique("dp"));
	o.pin_dir = dir;
	o.flow_capacity = UINT32_MAX;	/* no kernel makes a map this big */
	CHECK(sw_datapath_open(&dp, &o, &e) < 0);
	CHECK(strstr(e.msg, "loading the datapath into the kernel failed"),
	      "message: %s", e.msg);
	CHECK(access(dir, F_OK) && errno == ENOENT, "%s was left behind", dir);
}

/*
 * The metadata handoff asked for: it loads where the kernel accepts
 * bpf_xdp_adjust_meta; elsewhere the error names the program and the
 * verifier's reason in one line, and does not suggest 'spillway down'.
 */
static void test_refused_program_says_why(const void *arg)
{
	struct sw_datapath_opts o;
	struct sw_error e = {};
	int err;

	sw_datapath_opts_init(&o);
	load(arg, &o);
	fx.dp.opts.handoff = SW_HANDOFF_METADATA;
	err = sw_datapath_load_xdp(&fx.dp, &e);
	if (sw_probe(SW_FEATURE_XDP_META) == SW_PRESENT) {
		CHECK(!err, "%s", e.msg);
		CHECK_EQ(fx.dp.handoff, SW_HANDOFF_METADATA);
		return;
	}
	CHECK(err == -EINVAL, "err %d", err);
	CHECK(strstr(e.msg, "XDP mode (attach: xdp): loading the datapath into "
		      "the kernel failed: the kernel refused program spill_xdp: ") &&
	      strstr(e.msg, "cannot use helper bpf_xdp_adjust_meta") &&
	      strstr(e.msg, "--debug") && !strstr(e.msg, "spillway down") &&
	      !strchr(e.msg, '\n'), "message: %s", e.msg);
	CHECK(!fx.dp.xdp, "a failed load left XDP mode loaded");
}

/* A pinned map this build cannot reuse: 'spillway down' is the way out. */
static void test_mismatched_pin_says_down(const void *arg)
{
	struct sw_error e = {};
	char path[PATH_MAX];
	int fd, err;

	start(arg, 1, 0);
	sw_pin_path(path, sizeof(path), fx.dp.pin_dir, "stats");
	CHECK(!unlink(path));
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "stats", 4, 8, 1, NULL);
	CHECK(fd >= 0 && !bpf_obj_pin(fd, path), "%s", strerror(errno));
	close(fd);
	reopen(NULL, &e, &err);
	CHECK(err < 0);
	CHECK(strstr(e.msg, "couldn't reuse pinned map") &&
	      strstr(e.msg, "made by another build") &&
	      strstr(e.msg, "spillway down --pin-dir"), "message: %s", e.msg);
}

static void test_refuse_not_bpffs(const void *arg)
{
	struct sw_datapath_opts o;
	struct sw_datapath dp;
	struct sw_error e = {};

	(void)arg;
	sw_datapath_opts_init(&o);
	o.pin_dir = "/tmp";
	CHECK(sw_datapath_open(&dp, &o, &e) == -ENOTSUP);
	CHECK(strstr(e.msg, "/tmp is not on a BPF filesystem") &&
	      strstr(e.msg, "nsenter"), "message: %s", e.msg);
}

/* ------------------------------------------------------------------------ */

#define VARIANTS(name, fn)                                                   \
	{ name "/tc/ipv4", fn, &tc4 }, { name "/tc/ipv6", fn, &tc6 },        \
	{ name "/xdp/ipv4", fn, &xdp4 }, { name "/xdp/ipv6", fn, &xdp6 },    \
	{ name "/xdp-flow/ipv4", fn, &xdpflow4 },                            \
	{ name "/xdp-flow/ipv6", fn, &xdpflow6 }

static const struct test_case cases[] = {
	VARIANTS("threshold", test_threshold),
	VARIANTS("hysteresis", test_hysteresis),
	VARIANTS("no-hysteresis-by-default", test_no_hysteresis_by_default),
	VARIANTS("threshold-raised-settles", test_threshold_raised_settles),
	VARIANTS("sticky", test_sticky),
	VARIANTS("unavailable/remote-down", test_unavailable_remote_down),
	VARIANTS("unavailable/no-endpoint", test_unavailable_no_endpoint),
	VARIANTS("unavailable/no-agent", test_unavailable_no_agent),
	VARIANTS("remote-order", test_remote_order),
	VARIANTS("release/fin", test_release_fin),
	VARIANTS("release/rst", test_release_rst),
	VARIANTS("release/exactly-once", test_release_exactly_once),
	VARIANTS("release/link-gone", test_release_link_gone),
	VARIANTS("local-fallback", test_local_fallback),
	VARIANTS("expire/half-open", test_expire_half_open),
	VARIANTS("expire/idle", test_expire_idle),
	VARIANTS("handshake/aged", test_handshake_aged),
	VARIANTS("handshake/aged-by-collector", test_handshake_aged_by_collector),
	VARIANTS("expire/closed-linger", test_closed_linger),
	VARIANTS("port-reuse", test_port_reuse),
	VARIANTS("service-readded", test_service_readded),
	VARIANTS("recycled-entry", test_recycled_entry),
	VARIANTS("table-overfill", test_table_overfill),
	{ "flows-walk/tc/ipv4", test_flows_walk, &tc4 },
	{ "listener-lookup/ipv4", test_listener_lookup, &tc4 },
	{ "listener-lookup/ipv6", test_listener_lookup, &tc6 },
	{ "listener-lookup/node-port/ipv4", test_node_port_listener_lookup, &tc4 },
	{ "listener-lookup/node-port/ipv6", test_node_port_listener_lookup, &tc6 },
	{ "flows-walk/xdp/ipv6", test_flows_walk, &xdp6 },
	VARIANTS("not-a-vip", test_not_a_vip),
	VARIANTS("node-port/threshold", test_node_port_threshold),
	VARIANTS("node-port/release", test_node_port_release),
	VARIANTS("node-port/not-local", test_node_port_not_local),
	VARIANTS("node-port/off", test_node_port_off),
	VARIANTS("node-port/address-gone", test_node_port_address_gone),
	VARIANTS("untracked", test_untracked),
	VARIANTS("unusual-headers", test_unusual_headers),
	/* These run every parsing program themselves. */
	{ "malformed/ipv4", test_malformed, &xdp4 },
	{ "malformed/ipv6", test_malformed, &xdp6 },
	{ "truncated-everywhere/ipv4", test_truncated_everywhere, &xdp4 },
	{ "truncated-everywhere/ipv6", test_truncated_everywhere, &xdp6 },
	VARIANTS("concurrent/syns", test_concurrent_syns),
	VARIANTS("concurrent/same-syns", test_concurrent_same_syns),
	VARIANTS("concurrent/unacknowledged", test_concurrent_unacknowledged),
	{ "meta-refused/xdp/ipv4", test_meta_refused, &xdp4 },
	{ "meta-refused/xdp/ipv6", test_meta_refused, &xdp6 },
	{ "agent-bypass-mark/tc/ipv4", test_agent_bypass_mark, &tc4 },
	{ "agent-bypass-mark/tc/ipv6", test_agent_bypass_mark, &tc6 },
	{ "bridge-steered-only/ipv4", test_bridge_steered_only, &tc4 },
	{ "bridge-steered-only/ipv6", test_bridge_steered_only, &tc6 },
	{ "loader/probe-every-node", test_probe_every_node, &tc4 },
	{ "loader/adopt-pinned", test_adopt_pinned, &tc4 },
	{ "loader/refuse-other-layout", test_refuse_other_layout, &tc4 },
	{ "loader/upgrade-layout-1", test_upgrade_layout_1, &tc4 },
	{ "loader/upgrade-layout-1/xdp", test_upgrade_layout_1, &xdp4 },
	{ "loader/upgrade-layout-2", test_upgrade_layout_2, &tc4 },
	{ "loader/upgrade-layout-2/xdp", test_upgrade_layout_2, &xdp4 },
	{ "loader/upgrade-interrupted", test_upgrade_interrupted, &tc4 },
	{ "loader/upgrade-pins-moved", test_upgrade_pins_moved, &tc4 },
	{ "loader/down-unfinished-upgrade", test_down_unfinished_upgrade, &tc4 },
	{ "loader/refuse-other-capacity", test_refuse_other_capacity, &tc4 },
	{ "loader/refuse-not-bpffs", test_refuse_not_bpffs, &tc4 },
	{ "loader/refused-program-says-why", test_refused_program_says_why, &tc4 },
	{ "loader/mismatched-pin-says-down", test_mismatched_pin_says_down, &tc4 },
	{ "loader/failed-load-leaves-nothing", test_failed_load_leaves_nothing, &tc4 },
	{ 0 },
};

static const struct test_suite suite = {
	.name = "datapath",
	.teardown = teardown,
	.cases = cases,
};

int main(int argc, char **argv)
{
	sw_libbpf_log_init(getenv("SPILLWAY_DEBUG") != NULL);
	if (enter_sandbox(endpoint))
		return 1;
	printf("XDP cases (/xdp/) hand off by %s: this kernel %s "
	       "bpf_xdp_adjust_meta; /xdp-flow/ cases force the flow table\n",
	       sw_probe(SW_FEATURE_XDP_META) == SW_PRESENT ? "metadata" :
							     "the flow table",
	       sw_probe(SW_FEATURE_XDP_META) == SW_PRESENT ? "accepts" :
							     "refuses");
	return test_main(&suite, argc, argv);
}
