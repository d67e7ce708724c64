// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * make bench: the datapath's cost per packet through BPF_PROG_TEST_RUN,
 * as a ratio to bench_xdp_floor (one array lookup and one atomic add) run in
 * the same process, interleaved with every measurement so drift hits both.
 *
 * Every figure is the kernel's own: bpf_test_run_opts.duration, the mean ns
 * of one run of the program over `repeat` runs, timed around the runs alone.
 * What a call costs once (an XDP call with repeat swaps the XDP dispatcher
 * and waits for an RCU grace period, which on 6.18 ends on a timer tick and
 * made wall-clock slopes come in 4.44 ns steps) is outside it. Each cell is
 * SAMPLES such calls, on a pinned CPU, taken in rounds over the whole table
 * (so a busy moment of the shared machine hits every cell alike), reported
 * as median [min-max]. A floor under 2 ns, or a figure of 0 or less, stops
 * the run before any ratio is printed (tests/lib/samples.c).
 *
 * Rows that need a new packet every time (a new connection's SYN) or a clean
 * buffer (XDP metadata) go through a wrapper from bench.bpf.c; the wrapper's
 * own cost, measured around the floor in the same sample, is taken out.
 *
 * Then the same rows with 10,000 services and 1,000,000 tracked flows, to
 * show the cost per packet does not grow with the work.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "spillway/abi.h"
#include "spillway/defaults.h"
#include "spillway.skel.h"
#include "bench.skel.h"
#include "lib/clock.h"
#include "lib/addr.h"
#include "lib/util.h"
#include "datapath/control.h"
#include "datapath/datapath.h"
#include "datapath/lookup.h"
#include "harness.h"
#include "pkt.h"
#include "samples.h"
#include "sandbox.h"

#define SAMPLES 9
/*
 * Runs per sample: a steady row costs 20-160 ns here, a new connection
 * 0.4-1.5 us, so a sample lasts 20 ms or more (several timer ticks) and an
 * interrupt inside it moves its mean by a few hundredths of a ns.
 */
#define REPEAT 1000000		/* steady-state rows */
#define SYN_REPEAT 50000	/* new-connection rows */
#define VIP "10.96.0.10"
#define VIP_SPILL "10.96.0.11"	/* a service with max_connections 0 */
#define OTHER "10.96.0.99"
#define CLIENT "10.0.0.2"
#define PORT 80
#define SERVICES 10000
#define FILL_FLOWS 1000000

static struct sw_datapath dp;
static struct bench_bpf *bb;
static char pin_dir[SW_PIN_DIR_MAX];

static void die(const char *what, const char *detail)
{
	fflush(stdout);
	fprintf(stderr, "bench: %s: %s\n", what, detail);
	if (dp.skel) {
		struct sw_error e = {};

		sw_datapath_close(&dp);
		sw_down(pin_dir, &e);
	}
	exit(1);
}

/* The kernel's ns per run of the program, over `repeat` runs on p. */
static double kernel_ns(int fd, const struct pkt *p, __u32 repeat)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->data,
		    .data_size_in = p->len, .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o))
		die("test_run", strerror(errno));
	return o.duration;
}

static void set_target(struct bpf_program *prog)
{
	struct bpf_map *map = bpf_program__type(prog) == BPF_PROG_TYPE_XDP ?
			      bb->maps.xdp_target : bb->maps.tc_target;
	__u32 zero = 0;
	int fd = bpf_program__fd(prog);

	if (bpf_map_update_elem(bpf_map__fd(map), &zero, &fd, BPF_ANY))
		die("setting the wrapper's target", strerror(errno));
}

static void clear_new_flows(void)
{
	struct sw_collect_params params = {
		/* Far enough ahead that every half-open SYN has expired. */
		.now_ns = sw_now_ns() + 3600ull * 1000000000ull,
		.half_open_ns = 1,
		.idle_ns = UINT64_MAX / 4,
		.closed_ns = 0,
	};
	struct sw_collect_result r;
	struct sw_error e = {};

	if (sw_collect(&dp, &params, &r, &e))
		die("collect", e.msg);
	bb->bss->next_flow = 0;
}

/* One program on one packet, in one column of the table. */
struct cell {
	struct bpf_program *prog;	/* the program under test; NULL: none */
	struct bpf_program *wrapper;	/* NULL, or a bench.bpf.c wrapper */
	struct bpf_program *wrap_floor;	/* the floor of the wrapper's type */
	const struct pkt *pkt;
	__u32 repeat;
	bool new_flows;			/* clear the flows a sample made */
	double ns[SAMPLES];		/* ns per packet, wrapper taken out */
	double floor_ns[SAMPLES];	/* bench_xdp_floor's, just before */
};

/* Stand in for the agent: spills need a fresh heartbeat. */
static void heartbeat(void)
{
	struct sw_error e = {};

	if (sw_agent_heartbeat(&dp, 0, &e))
		die("heartbeat", e.msg);
}

/*
 * SW_BENCH_LOOP_OUT=1 takes the test loop (an empty program of the same
 * type, run beside) out of every figure. Not the default: the floor's own
 * work is then about 1 ns, below what the kernel's whole-ns figure can
 * resolve, and the run stops (doc/benchmark.md).
 */
static bool loop_out;

static double loop_ns(struct bpf_program *prog, const struct pkt *p)
{
	struct bpf_program *empty = bpf_program__type(prog) == BPF_PROG_TYPE_XDP ?
				    bb->progs.bench_xdp_empty : bb->progs.bench_tc_empty;

	return loop_out ? kernel_ns(bpf_program__fd(empty), p, REPEAT) : 0;
}

/* Sample i of the cell: its ns per packet, and the floor's beside it. */
static void sample(struct cell *c, int i)
{
	struct bpf_program *floor = bb->progs.bench_xdp_floor;

	heartbeat();
	c->floor_ns[i] = kernel_ns(bpf_program__fd(floor), c->pkt, REPEAT) -
			 loop_ns(floor, c->pkt);
	if (c->wrapper) {
		double wrap;

		set_target(c->wrap_floor);
		wrap = kernel_ns(bpf_program__fd(c->wrapper), c->pkt, c->repeat) -
		       kernel_ns(bpf_program__fd(c->wrap_floor), c->pkt, REPEAT);
		bb->bss->next_flow = 0;
		set_target(c->prog);
		c->ns[i] = kernel_ns(bpf_program__fd(c->wrapper), c->pkt, c->repeat) - wrap;
	} else {
		c->ns[i] = kernel_ns(bpf_program__fd(c->prog), c->pkt, c->repeat);
	}
	c->ns[i] -= loop_ns(c->prog, c->pkt);
	if (c->new_flows)
		clear_new_flows();
}

static void packet(struct pkt *p, const char *dst, __u16 sport, __u8 flags)
{
	struct tcp_spec s = { .family = 4, .src = CLIENT, .dst = dst,
			      .sport = sport, .dport = PORT, .flags = flags };

	pkt_tcp(p, &s);
}

static void put_dport(struct pkt *p, __u16 port)
{
	p->data[p->l4 + 2] = port >> 8;
	p->data[p->l4 + 3] = port & 0xff;
	pkt_fix_checksums(p);
}

static void set_service(const char *vip, __u32 max)
{
	struct sw_service_config cfg = { .max_connections = max,
					 .overflow_to = { 1 } };
	struct sw_service_key key;
	struct sw_error e = {};

	if (sw_service_key_make(&key, vip, PORT) ||
	    sw_service_set(&dp, &key, &cfg, &e))
		die("service", e.msg);
}

/*
 * A real connection CLIENT:sport -> dst:PORT inside the sandbox, so that the
 * steering of an established overflowed packet finds its socket on the
 * packet's own tuple, as it does for real traffic.
 */
static void real_connection(const char *dst, __u16 sport)
{
	struct sockaddr_storage srv, cli;
	socklen_t len;
	char cmd[128];
	int l, c;

	snprintf(cmd, sizeof(cmd), "ip addr add %s/32 dev lo && ip addr add "
		 CLIENT "/32 dev lo", dst);
	if (system(cmd))
		die("adding addresses to lo", cmd);
	sw_sockaddr_make(dst, PORT, &srv, &len);
	sw_sockaddr_make(CLIENT, sport, &cli, &len);
	l = socket(AF_INET, SOCK_STREAM, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || c < 0 || bind(l, (void *)&srv, len) || listen(l, 1) ||
	    bind(c, (void *)&cli, len) || connect(c, (void *)&srv, len) ||
	    accept(l, NULL, NULL) < 0)
		die("a real connection for the overflowed rows", strerror(errno));
}

/* The flows map key of CLIENT:sport -> dst:PORT. */
static struct sw_flow_key flow_key(const char *dst, __u16 sport)
{
	struct sw_flow_key k = { .client_port = sport };
	__u8 family;

	if (sw_service_key_make(&k.svc, dst, PORT) ||
	    sw_addr_parse(CLIENT, k.client, &family))
		die("a flow key", dst);
	return k;
}

/*
 * Open a flow the way a client does, SYN then ACK, and make sure it went
 * where its row says (or the row would measure another path).
 */
static void open_flow(struct bpf_program *prog, const char *dst, __u16 sport,
		      __u32 decision)
{
	struct sw_flow_key k = flow_key(dst, sport);
	char msg[160];
	struct sw_flow f;
	struct pkt p;

	packet(&p, dst, sport, TH_SYN);
	kernel_ns(bpf_program__fd(prog), &p, 1);
	packet(&p, dst, sport, TH_ACK);
	kernel_ns(bpf_program__fd(prog), &p, 1);
	if (sw_flow_get(&dp, &k, &f))
		die("reading back a flow the bench opened", dst);
	snprintf(msg, sizeof(msg), CLIENT ":%u -> %s:%u was decided %u (state "
		 "%#x), not %u: the established rows would measure another path",
		 sport, dst, PORT, f.decision, f.state, decision);
	if (f.decision != decision || (f.state & SW_FLOW_UNAVAILABLE))
		die("a flow the bench opened", msg);
}

/*
 * What the first socket lookup that finds the endpoint socket holding a
 * connection records (bpf/steer.h): the test harness refuses the
 * assignment, so the bench records it itself.
 */
static void hold(const char *dst, __u16 sport)
{
	int fd = bpf_map__fd(dp.skel->maps.flows);
	struct sw_flow_key k = flow_key(dst, sport);
	struct sw_flow f;

	if (bpf_map_lookup_elem(fd, &k, &f))
		die("reading back a flow the bench opened", dst);
	f.state |= SW_FLOW_ENDPOINT;
	if (bpf_map_update_elem(fd, &k, &f, BPF_EXIST))
		die("marking a flow held by its endpoint socket", strerror(errno));
}

/* The table's columns: where a packet passes in each attach mode. */
enum { XDP, TC_HALF, TC, COLUMNS };
static const char *const column_names[COLUMNS] = { "xdp", "tc half", "tc" };

struct line {
	const char *name;
	struct cell col[COLUMNS];
};

#define LINES 8
#define EST_LOCAL 3		/* the lines the "overflowed/local" line compares */
#define EST_OVERFLOWED 4
#define COLUMN 26		/* characters of one column's figures */

/* Stop before any ratio is printed if a cell's figures cannot carry one. */
static void check(const char *line, const char *column, const struct cell *c)
{
	char what[96], msg[1024];

	snprintf(what, sizeof(what), "'%s', %s", line, column);
	if (c->prog && samples_check(what, c->ns, c->floor_ns, SAMPLES, msg, sizeof(msg)))
		die(loop_out ? "a figure that is not a measurement (with "
		    "SW_BENCH_LOOP_OUT=1 the floor is ~1 ns: run without it)" :
		    "a figure that is not a measurement", msg);
}

/* "   33 [32-35]         3.3x": ns per packet and its ratio to floor_ns. */
static void print_ns(struct spread ns, double floor_ns)
{
	char range[32];

	snprintf(range, sizeof(range), "[%.0f-%.0f]", ns.min, ns.max);
	printf(" %5.0f %-12s %6.1fx", ns.median, range, ns.median / floor_ns);
}

/* A cell, to the median of the floor measured beside it. */
static void print_cell(const struct cell *c)
{
	if (!c->prog) {
		printf(" %*s", COLUMN, "-");
		return;
	}
	print_ns(samples_spread(c->ns, SAMPLES),
		 samples_spread(c->floor_ns, SAMPLES).median);
}

/* "1.45x [1.40-1.50]": sample by sample, a over b (taken in the same round). */
static void print_ratio(const struct cell *a, const struct cell *b)
{
	double r[SAMPLES];
	struct spread s;
	char text[64];

	if (!a->prog || !b->prog) {
		printf(" %*s", COLUMN, "-");
		return;
	}
	for (int i = 0; i < SAMPLES; i++)
		r[i] = a->ns[i] / b->ns[i];
	s = samples_spread(r, SAMPLES);
	snprintf(text, sizeof(text), "%.2fx [%.2f-%.2f]", s.median, s.min, s.max);
	printf(" %*s", COLUMN, text);
}

/* The floor itself: every sample it gave beside the table's cells. */
static void print_floor(struct line *lines)
{
	double all[LINES * COLUMNS * SAMPLES];
	struct spread floor;
	int n = 0;

	for (struct line *l = lines; l < lines + LINES; l++)
		for (int k = 0; k < COLUMNS; k++)
			for (int i = 0; l->col[k].prog && i < SAMPLES; i++)
				all[n++] = l->col[k].floor_ns[i];
	floor = samples_spread(all, n);
	printf("  %-30s", "floor (bench_xdp_floor)");
	print_ns(floor, floor.median);
	printf(" %*s %*s\n", COLUMN, "-", COLUMN, "-");
}

/* spill_sk_lookup's context for CLIENT:cport -> dst:PORT. */
static struct bpf_sk_lookup lookup_ctx(const char *dst, __u16 cport)
{
	struct bpf_sk_lookup ctx = { .family = AF_INET, .protocol = IPPROTO_TCP,
				     .remote_port = htons(cport),
				     .local_port = PORT };

	if (inet_pton(AF_INET, CLIENT, &ctx.remote_ip4) != 1 ||
	    inet_pton(AF_INET, dst, &ctx.local_ip4) != 1)
		die("a listener lookup's context", dst);
	return ctx;
}

static double lookup_ns(struct bpf_program *prog, struct bpf_sk_lookup ctx)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = REPEAT);

	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &o))
		die("test_run of a listener lookup", strerror(errno));
	return o.duration;
}

/*
 * What spill_sk_lookup adds to each of the kernel's listener lookups in the
 * agent's namespace (a new connection to any of the node's own listeners),
 * beside the empty program of its type, sampled in rounds like the table.
 */
static void print_lookups(void)
{
	struct {
		const char *name;
		struct bpf_program *prog;
		struct bpf_sk_lookup ctx;
		double ns[SAMPLES];
	} rows[] = {
#define ROW(name_, prog_, dst_, port_) \
	{ .name = (name_), .prog = (prog_), .ctx = lookup_ctx(dst_, port_) }
		ROW("empty program (test loop)", bb->progs.bench_sk_lookup_empty,
		    OTHER, 1000),
		ROW("not to a VIP", dp.skel->progs.spill_sk_lookup, OTHER, 1000),
		ROW("a local connection's", dp.skel->progs.spill_sk_lookup, VIP,
		    2000),
		ROW("a steered connection's", dp.skel->progs.spill_sk_lookup,
		    VIP_SPILL, 2001),
#undef ROW
	};
	char msg[1024];

	for (int i = 0; i < SAMPLES; i++)
		for (size_t r = 0; r < ARRAY_SIZE(rows); r++)
			rows[r].ns[i] = lookup_ns(rows[r].prog, rows[r].ctx);
	for (size_t r = 0; r < ARRAY_SIZE(rows); r++)
		if (samples_check(rows[r].name, rows[r].ns, rows[0].ns, SAMPLES,
				  msg, sizeof(msg)))
			die("a figure that is not a measurement", msg);
	printf("  listener lookup (spill_sk_lookup)\n");
	for (size_t r = 0; r < ARRAY_SIZE(rows); r++) {
		struct spread s = samples_spread(rows[r].ns, SAMPLES);

		printf("    %-28s %5.0f [%.0f-%.0f]\n", rows[r].name, s.median,
		       s.min, s.max);
	}
}

static void print_rows(const char *title)
{
	struct spillway_bpf *s = dp.skel, *x = dp.xdp;
	struct pkt other_port, other, est_local, est_remote, est_unheld, syn,
		syn_spill;
	bool meta = dp.handoff == SW_HANDOFF_METADATA;
	struct line lines[LINES], *l = lines;

	packet(&other_port, OTHER, 1000, TH_ACK);
	put_dport(&other_port, 443);
	packet(&other, OTHER, 1000, TH_ACK);
	packet(&est_local, VIP, 2000, TH_ACK);
	packet(&est_remote, VIP_SPILL, 2002, TH_ACK);
	packet(&est_unheld, VIP_SPILL, 2001, TH_ACK);
	packet(&syn, VIP, 0, TH_SYN);
	packet(&syn_spill, VIP_SPILL, 0, TH_SYN);
	/* The test loop alone: every other figure includes it, unless taken out. */
	*l++ = (struct line){ "empty program (test loop)", {
		{ .prog = loop_out ? NULL : bb->progs.bench_xdp_empty,
		  .pkt = &other, .repeat = REPEAT },
		{ .prog = NULL },
		{ .prog = loop_out ? NULL : bb->progs.bench_tc_empty,
		  .pkt = &other, .repeat = REPEAT } } };
	/*
	 * The TC half runs without the metadata word (test_run cannot pass
	 * one): with the metadata handoff that is its cost for a packet not to
	 * steer; with the flow table, its cost for every packet.
	 */
#define STEADY(pkt_) { \
	{ .prog = x->progs.spill_xdp, .pkt = (pkt_), .repeat = REPEAT }, \
	{ .prog = x->progs.spill_tc_steer, .pkt = (pkt_), .repeat = REPEAT }, \
	{ .prog = s->progs.spill_tc_in, .pkt = (pkt_), .repeat = REPEAT } }
	*l++ = (struct line){ "not to a VIP, other port", STEADY(&other_port) };
	*l++ = (struct line){ "not to a VIP, a service port", STEADY(&other) };
	*l++ = (struct line){ "established, local", STEADY(&est_local) };
	*l++ = (struct line){ "established, overflowed", STEADY(&est_remote) };
	*l++ = (struct line){ "overflowed, not held yet", STEADY(&est_unheld) };
#undef STEADY
	/* spill_xdp's metadata word piles up unless a wrapper drops it. */
	for (int i = 1; meta && i <= 2; i++) {
		l[-i].col[XDP].wrapper = bb->progs.bench_xdp_reset_meta;
		l[-i].col[XDP].wrap_floor = bb->progs.bench_xdp_floor;
	}
	*l++ = (struct line){ "new connection SYN, local", {
		{ .prog = x->progs.spill_xdp, .pkt = &syn, .repeat = SYN_REPEAT,
		  .new_flows = true, .wrapper = bb->progs.bench_xdp_new_flow,
		  .wrap_floor = bb->progs.bench_xdp_floor },
		{ .prog = NULL },
		{ .prog = s->progs.spill_tc_in, .pkt = &syn, .repeat = SYN_REPEAT,
		  .new_flows = true, .wrapper = bb->progs.bench_tc_new_flow,
		  .wrap_floor = bb->progs.bench_tc_floor } } };
	*l = l[-1];
	l->name = "new connection SYN, spilled";
	l->col[XDP].pkt = &syn_spill;
	l->col[TC].pkt = &syn_spill;

	for (int i = 0; i < SAMPLES; i++)
		for (l = lines; l < lines + LINES; l++)
			for (int k = 0; k < COLUMNS; k++)
				if (l->col[k].prog)
					sample(&l->col[k], i);
	for (l = lines; l < lines + LINES; l++)
		for (int k = 0; k < COLUMNS; k++)
			check(l->name, column_names[k], &l->col[k]);

	printf("\n%s\n  %-30s", title, "");
	for (int k = 0; k < COLUMNS; k++)
		printf("  %-*s", k < COLUMNS - 1 ? COLUMN - 1 : 0, column_names[k]);
	printf("\n  %-30s", "");
	for (int k = 0; k < COLUMNS; k++)
		printf(" %5s %-12s %7s", "ns", "[min-max]", "ratio");
	printf("\n");
	print_floor(lines);
	for (l = lines; l < lines + LINES; l++) {
		printf("  %-30s", l->name);
		for (int k = 0; k < COLUMNS; k++)
			print_cell(&l->col[k]);
		printf("\n");
	}
	printf("  %-30s", "established, overflowed/local");
	for (int k = 0; k < COLUMNS; k++)
		print_ratio(&lines[EST_OVERFLOWED].col[k], &lines[EST_LOCAL].col[k]);
	printf("  target: tc <= 1.1x\n");
	print_lookups();
	fflush(stdout);
}

/* 10,000 services besides ours, and 1,000,000 established flows. */
static void grow(void)
{
	enum { CHUNK = 100000 };
	struct sw_flow_key *keys = calloc(CHUNK, sizeof(*keys));
	struct sw_flow *vals = calloc(CHUNK, sizeof(*vals));
	struct sw_service_key svc;
	char vip[32];
	__u32 n;

	if (!keys || !vals)
		die("grow", "out of memory");
	for (int i = 0; i < SERVICES; i++) {
		snprintf(vip, sizeof(vip), "10.200.%d.%d", i / 250, i % 250 + 1);
		set_service(vip, 100);
	}
	sw_service_key_make(&svc, VIP, PORT);
	for (__u32 done = 0; done < FILL_FLOWS; done += n) {
		n = FILL_FLOWS - done < CHUNK ? FILL_FLOWS - done : CHUNK;
		for (__u32 i = 0; i < n; i++) {
			__u32 id = done + i;

			keys[i] = (struct sw_flow_key){ .svc = svc,
							.client_port = 1024 + id % 60000 };
			/* Clients 172.16.0.0/12: never the benchmark's own. */
			keys[i].client[0] = 172;
			keys[i].client[1] = 16 + (id / 60000) / 65536;
			keys[i].client[2] = (id / 60000) / 256 % 256;
			keys[i].client[3] = (id / 60000) % 256;
			/* Established, seen "in the future": never expired here. */
			vals[i] = (struct sw_flow){ .decision = SW_LOCAL,
						    .state = SW_FLOW_ACKED,
						    .last_seen_ns = UINT64_MAX / 2 };
		}
		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		if (bpf_map_update_batch(bpf_map__fd(dp.skel->maps.flows), keys,
					 vals, &n, &bo))
			die("filling the flow table", strerror(errno));
	}
	free(keys);
	free(vals);
}

int main(void)
{
	struct sw_datapath_opts o;
	struct sw_error e = {};
	int endpoint[2];
	cpu_set_t cpus;

	sw_libbpf_log_init(false);
	loop_out = getenv("SW_BENCH_LOOP_OUT") && !strcmp(getenv("SW_BENCH_LOOP_OUT"), "1");
	if (enter_sandbox(endpoint))
		return 1;
	CPU_ZERO(&cpus);
	CPU_SET(1, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		die("pinning to CPU 1", strerror(errno));

	sw_datapath_opts_init(&o);
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/%s", test_unique("bench"));
	o.pin_dir = pin_dir;
	o.flow_capacity = FILL_FLOWS + 2 * SYN_REPEAT;
	if (sw_datapath_open(&dp, &o, &e) || sw_datapath_load_xdp(&dp, &e) ||
	    sw_datapath_lookup_endpoint(&dp, endpoint, &e))
		die("loading the datapath", e.msg);
	/*
	 * Nothing stays pinned while the bench runs (its maps live by their
	 * file descriptors): an interrupted run leaves nothing behind.
	 */
	if (sw_down(pin_dir, &e))
		die("unpinning", e.msg);
	/* The metadata wrapper only where the kernel has the helper. */
	bb = bench_bpf__open();
	if (!bb)
		die("opening bench.bpf.o", strerror(errno));
	bpf_program__set_autoload(bb->progs.bench_xdp_reset_meta,
				  dp.handoff == SW_HANDOFF_METADATA);
	if (bench_bpf__load(bb))
		die("loading bench.bpf.o", strerror(errno));
	if (sw_remote_set(&dp, 1, "remote", true, &e))
		die("remote", e.msg);
	set_service(VIP_SPILL, 0);
	real_connection(VIP_SPILL, 2001);
	/* Without it the overflowed flow would be kept local (no agent). */
	heartbeat();
	open_flow(dp.skel->progs.spill_tc_in, VIP_SPILL, 2001, SW_REMOTE);
	open_flow(dp.skel->progs.spill_tc_in, VIP_SPILL, 2002, SW_REMOTE);
	hold(VIP_SPILL, 2002);
	set_service(VIP, 1000000000);
	open_flow(dp.skel->progs.spill_tc_in, VIP, 2000, SW_LOCAL);

	printf("spillway datapath: ns per packet through BPF_PROG_TEST_RUN as "
	       "the kernel times it\n(duration), median [min-max] of %d samples; "
	       "ratio of medians to bench_xdp_floor\n(one array lookup + one "
	       "atomic add) measured beside each sample.\n"
	       "TC rows run spill_tc_in; a TC steer here is an assignment the "
	       "test harness refuses\n(the socket lookups are done, the "
	       "assignment itself is not). In xdp mode a packet passes\n"
	       "spill_xdp, then spill_tc_steer (\"tc half\"), which hands off "
	       "by %s here.\n", SAMPLES, dp.handoff == SW_HANDOFF_METADATA ?
	       "XDP metadata" : "the flow table");
	if (loop_out)
		printf("SW_BENCH_LOOP_OUT=1: the test loop (the empty program of "
		       "each type) taken out of\nevery figure, the floor's too.\n");
	print_rows("1 service, 2 flows");
	grow();
	print_rows("10,001 services, 1,000,002 flows");

	sw_datapath_close(&dp);
	bench_bpf__destroy(bb);
	return 0;
}
