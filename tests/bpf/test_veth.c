// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The datapath on real interfaces with real TCP. Three network namespaces:
 *
 *   client (c0) ---- (n0) node (n1) ---- (s0) svc
 *                      ^ datapath           VIP on lo, answers "local"
 *                      + tunnel endpoint: transparent listener, answers
 *                        "spilled <its local address> <its peer>"
 *
 * The VIP is routed through node. Connections over the threshold must reach
 * the endpoint on node with the VIP:port the client dialled as their local
 * address and the client as their peer; the client must never notice.
 * Bridge variants make n0 a port of a bridge br0 that holds node's
 * addresses, br_netfilter on, as a bridge CNI's cni0 and veth* are.
 * Each case builds its own namespaces (names with a per-run prefix) and
 * removes them, whatever happens.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "spillway/abi.h"
#include "spillway/defaults.h"
#include "spillway.skel.h"
#include "lib/addr.h"
#include "lib/links.h"
#include "lib/util.h"
#include "datapath/control.h"
#include "datapath/datapath.h"
#include "datapath/lookup.h"
#include "tunnel/endpoint.h"
#include "harness.h"
#include "datapath/probe.h"

#define VIP4 "10.96.0.10"
#define VIP6 "fd00:96::10"
#define CLIENT4 "10.0.0.2"
#define CLIENT6 "fd00:1::2"
#define PORT 80
#define REMOTE 1
#define MAX_CONNS 64
#define WAIT_S 5		/* bound on every wait for the network */

struct variant {
	enum sw_attach_mode mode;
	int family;
	enum sw_handoff handoff;	/* xdp mode */
	bool bridge;			/* n0 a port of br0 */
};

static struct {
	const struct variant *v;
	char client[64], node[64], svc[64];	/* namespace names */
	int host_ns;
	pid_t service_pid, endpoint_pid;
	int endpoint_fd[2];		/* the endpoint server's listeners, in it */
	struct sw_datapath dp;
	bool loaded, made;
	struct sw_service_key key;
	int conns[MAX_CONNS];
	int nconns;
} fx = { .host_ns = -1 };

/* ------------------------------------------------------------------------
 * Namespaces and commands
 */

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc, n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	CHECK(n < (int)sizeof(cmd), "command too long: %s", cmd);
	rc = system(cmd);
	CHECK(rc == 0, "'%s' exited %d", cmd, rc);
}

static int try_enter(const char *ns)
{
	char path[128];
	int fd, err;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	err = setns(fd, CLONE_NEWNET);
	close(fd);
	return err;
}

static void enter(const char *ns)
{
	CHECK(!try_enter(ns), "enter %s: %s", ns, strerror(errno));
}

static void leave(void)
{
	CHECK(!setns(fx.host_ns, CLONE_NEWNET), "back to the host namespace");
}

/* client <-> node <-> svc, IPv4 and IPv6, VIP routed through node. */
static void make_namespaces(void)
{
	snprintf(fx.client, sizeof(fx.client), "%s", test_unique("client"));
	snprintf(fx.node, sizeof(fx.node), "%s", test_unique("node"));
	snprintf(fx.svc, sizeof(fx.svc), "%s", test_unique("svc"));
	fx.made = true;
	run("ip netns add %s && ip netns add %s && ip netns add %s", fx.client,
	    fx.node, fx.svc);
	/* No duplicate address detection: addresses usable at once. */
	for (int i = 0; i < 3; i++)
		run("ip netns exec %s sysctl -qw net.ipv6.conf.default.accept_dad=0 "
		    "net.ipv6.conf.all.accept_dad=0",
		    i == 0 ? fx.client : i == 1 ? fx.node : fx.svc);
	run("ip -n %s link add c0 type veth peer name n0 netns %s", fx.client,
	    fx.node);
	run("ip -n %s link add n1 type veth peer name s0 netns %s", fx.node,
	    fx.svc);
	run("ip -n %s addr add 10.0.0.2/24 dev c0 && "
	    "ip -n %s addr add fd00:1::2/64 dev c0 nodad && "
	    "ip -n %s link set c0 up && ip -n %s link set lo up && "
	    "ip -n %s route add default via 10.0.0.1 && "
	    "ip -n %s -6 route add default via fd00:1::1",
	    fx.client, fx.client, fx.client, fx.client, fx.client, fx.client);
	run("ip -n %s addr add 10.0.0.1/24 dev n0 && "
	    "ip -n %s addr add fd00:1::1/64 dev n0 nodad && "
	    "ip -n %s addr add 10.1.0.1/24 dev n1 && "
	    "ip -n %s addr add fd00:2::1/64 dev n1 nodad && "
	    "ip -n %s link set n0 up && ip -n %s link set n1 up && "
	    "ip -n %s link set lo up && "
	    "ip -n %s route add " VIP4 "/32 via 10.1.0.2 && "
	    "ip -n %s -6 route add " VIP6 "/128 via fd00:2::2",
	    fx.node, fx.node, fx.node, fx.node, fx.node, fx.node, fx.node,
	    fx.node, fx.node);
	run("ip netns exec %s sysctl -qw net.ipv4.ip_forward=1 "
	    "net.ipv6.conf.all.forwarding=1", fx.node);
	/* The policy route that delivers steered (marked) packets locally. */
	run("ip -n %s rule add fwmark %#x lookup %d && "
	    "ip -n %s route add local 0.0.0.0/0 dev lo table %d && "
	    "ip -n %s -6 rule add fwmark %#x lookup %d && "
	    "ip -n %s -6 route add local ::/0 dev lo table %d",
	    fx.node, SW_DEFAULT_STEER_MARK, SW_DEFAULT_ROUTE_TABLE, fx.node,
	    SW_DEFAULT_ROUTE_TABLE, fx.node, SW_DEFAULT_STEER_MARK,
	    SW_DEFAULT_ROUTE_TABLE, fx.node, SW_DEFAULT_ROUTE_TABLE);
	run("ip -n %s addr add 10.1.0.2/24 dev s0 && "
	    "ip -n %s addr add fd00:2::2/64 dev s0 nodad && "
	    "ip -n %s addr add " VIP4 "/32 dev lo && "
	    "ip -n %s addr add " VIP6 "/128 dev lo && "
	    "ip -n %s link set s0 up && ip -n %s link set lo up && "
	    "ip -n %s route add default via 10.1.0.1 && "
	    "ip -n %s -6 route add default via fd00:2::1",
	    fx.svc, fx.svc, fx.svc, fx.svc, fx.svc, fx.svc, fx.svc, fx.svc);
}

/* Where node's addresses on the client's side are: n0, or its bridge. */
static const char *client_side(void)
{
	return fx.v->bridge ? "br0" : "n0";
}

/*
 * A case's variant; a bridge variant's n0 becomes a port of br0, which
 * takes node's addresses there, with br_netfilter on: a bridge CNI's cni0.
 */
static void begin(const struct variant *v)
{
	fx.v = v;
	if (!v->bridge)
		return;
	run("ip -n %s addr flush dev n0 && "
	    "ip -n %s link add br0 type bridge && "
	    "ip -n %s link set n0 master br0 && "
	    "ip -n %s addr add 10.0.0.1/24 dev br0 && "
	    "ip -n %s addr add fd00:1::1/64 dev br0 nodad && "
	    "ip -n %s link set br0 up && "
	    "ip netns exec %s sysctl -qw net.bridge.bridge-nf-call-iptables=1 "
	    "net.bridge.bridge-nf-call-ip6tables=1",
	    fx.node, fx.node, fx.node, fx.node, fx.node, fx.node, fx.node);
}

static void wait_io(int fd, short events);

/* ------------------------------------------------------------------------
 * Servers: the service (svc) and the tunnel endpoint (node)
 */

/* Greet: "local" from the service, "spilled LOCAL PEER" from the endpoint. */
static void greet(int fd, bool endpoint)
{
	struct sockaddr_storage local, peer;
	socklen_t l1 = sizeof(local), l2 = sizeof(peer);
	char msg[256], a[96], b[96];

	if (!endpoint) {
		snprintf(msg, sizeof(msg), "local\n");
	} else {
		getsockname(fd, (struct sockaddr *)&local, &l1);
		getpeername(fd, (struct sockaddr *)&peer, &l2);
		sw_sockaddr_format(&local, a, sizeof(a));
		sw_sockaddr_format(&peer, b, sizeof(b));
		snprintf(msg, sizeof(msg), "spilled %s %s\n", a, b);
	}
	if (write(fd, msg, strlen(msg)) < 0)
		_exit(3);
}

/* Accept, greet, echo; close when the peer closes. Runs until killed. */
static void serve(int l4, int l6, bool endpoint)
{
	struct pollfd p[2 + 256];
	int n = 2;
	char buf[4096];

	p[0] = (struct pollfd){ .fd = l4, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = l6, .events = POLLIN };
	for (;;) {
		if (poll(p, n, -1) < 0)
			_exit(2);
		for (int i = 0; i < 2; i++) {
			int c;

			if (!(p[i].revents & POLLIN))
				continue;
			c = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			if (n == (int)ARRAY_SIZE(p)) {
				close(c);
				continue;
			}
			greet(c, endpoint);
			p[n++] = (struct pollfd){ .fd = c, .events = POLLIN };
		}
		for (int i = 2; i < n; i++) {
			ssize_t r;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(p[i].fd, buf, sizeof(buf));
			if (r > 0 && write(p[i].fd, buf, r) == r)
				continue;
			close(p[i].fd);
			p[i--] = p[--n];
		}
	}
}

static int listen_plain(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd;

	if (sw_sockaddr_make(addr, PORT, &ss, &len))
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 128))
		return -1;
	return fd;
}

/* Start a server in ns; return once it listens. */
static pid_t spawn_server(const char *ns, bool endpoint)
{
	struct sw_error e = {};
	int ready[2], l4, l6, fds[2];
	pid_t pid;

	CHECK(!pipe2(ready, O_CLOEXEC));
	pid = fork();
	CHECK(pid >= 0);
	if (pid) {
		close(ready[1]);
		wait_io(ready[0], POLLIN);
		CHECK(read(ready[0], fds, sizeof(fds)) == sizeof(fds),
		      "the server in %s did not start", ns);
		close(ready[0]);
		if (endpoint)
			memcpy(fx.endpoint_fd, fds, sizeof(fds));
		return pid;
	}
	close(ready[0]);
	/* Child: a plain process in its namespace, no test machinery. */
	if (try_enter(ns))
		_exit(1);
	if (endpoint) {
		l4 = sw_endpoint_listen(4, SW_DEFAULT_TUNNEL_PORT, &e);
		l6 = sw_endpoint_listen(6, SW_DEFAULT_TUNNEL_PORT, &e);
	} else {
		l4 = listen_plain(VIP4);
		l6 = listen_plain(VIP6);
	}
	if (l4 < 0 || l6 < 0) {
		fprintf(stderr, "server in %s: %s\n", ns, e.msg[0] ? e.msg : strerror(errno));
		_exit(1);
	}
	fcntl(l4, F_SETFL, O_NONBLOCK);
	fcntl(l6, F_SETFL, O_NONBLOCK);
	fds[0] = l4;
	fds[1] = l6;
	if (write(ready[1], fds, sizeof(fds)) != sizeof(fds))
		_exit(1);
	close(ready[1]);
	serve(l4, l6, endpoint);
	_exit(0);
}

/*
 * Do what the agent does with its endpoint: put its listeners in the
 * endpoints map and attach spill_sk_lookup to the node's namespace. The
 * listeners are the endpoint server's (pidfd_getfd); our copies are closed
 * at once, so that they close with the server.
 */
static void endpoint_to_map(void)
{
	int pidfd = pidfd_open(fx.endpoint_pid, 0), fds[2];
	struct sw_error e = {};

	CHECK(pidfd >= 0, "pidfd_open: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		fds[i] = pidfd_getfd(pidfd, fx.endpoint_fd[i], 0);
		CHECK(fds[i] >= 0, "pidfd_getfd: %s", strerror(errno));
	}
	close(pidfd);
	enter(fx.node);
	CHECK(!sw_datapath_lookup_endpoint(&fx.dp, fds, &e), "%s", e.msg);
	leave();
	for (int i = 0; i < 2; i++)
		close(fds[i]);
}

static void stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

/* ------------------------------------------------------------------------
 * The client side
 */

static const char *vip(void)
{
	return fx.v->family == 4 ? VIP4 : VIP6;
}

static void wait_io(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	CHECK(poll(&p, 1, WAIT_S * 1000) == 1, "nothing to %s within %d s",
	      events == POLLIN ? "read" : "write", WAIT_S);
}

static void read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r;

		wait_io(fd, POLLIN);
		r = read(fd, buf + n, 1);
		CHECK(r == 1, "connection closed after '%.*s'", (int)n, buf);
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
}

/* Connect from the client namespace; return the fd and the greeting. */
static int dial(char *greeting, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t slen;
	int fd, err = 0;

	CHECK(!sw_sockaddr_make(vip(), PORT, &ss, &slen));
	enter(fx.client);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	leave();
	CHECK(fd >= 0);
	if (connect(fd, (struct sockaddr *)&ss, slen) && errno != EINPROGRESS)
		CHECK(0, "connect: %s", strerror(errno));
	wait_io(fd, POLLOUT);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &(socklen_t){ sizeof(err) });
	CHECK(err == 0, "connect to %s: %s", vip(), strerror(err));
	read_line(fd, greeting, len);
	CHECK(fx.nconns < MAX_CONNS);
	fx.conns[fx.nconns++] = fd;
	return fd;
}

/* The local address of a client socket, as the endpoint would print it. */
static void client_name(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	CHECK(!getsockname(fd, (struct sockaddr *)&ss, &l));
	sw_sockaddr_format(&ss, buf, len);
}

/* Dial and check who answered: "local", or the endpoint with our names. */
static int dial_expect(bool spilled)
{
	char greeting[256], want[256], me[96];
	struct sw_error e = {};
	int fd;

	/* Stand in for the agent: spills need a fresh heartbeat. */
	if (fx.loaded)
		CHECK(!sw_agent_heartbeat(&fx.dp, 0, &e), "%s", e.msg);
	fd = dial(greeting, sizeof(greeting));

	if (!spilled) {
		CHECK(!strcmp(greeting, "local\n"), "expected the service, got '%s'",
		      greeting);
		return fd;
	}
	client_name(fd, me, sizeof(me));
	snprintf(want, sizeof(want), fx.v->family == 4 ?
		 "spilled " VIP4 ":80 %s\n" : "spilled [" VIP6 "]:80 %s\n", me);
	CHECK(!strcmp(greeting, want), "expected '%s', got '%s'", want, greeting);
	return fd;
}

/* Bytes go both ways on an open connection. */
static void echo(int fd)
{
	char buf[64];

	CHECK(write(fd, "ping\n", 5) == 5);
	read_line(fd, buf, sizeof(buf));
	CHECK(!strcmp(buf, "ping\n"), "echo: '%s'", buf);
}

/* Close our side; the server closes its side when it reads EOF. */
static void hang_up(int fd)
{
	for (int i = 0; i < fx.nconns; i++)
		if (fx.conns[i] == fd)
			fx.conns[i] = fx.conns[--fx.nconns];
	close(fd);
}

/* ------------------------------------------------------------------------
 * The datapath, from the node namespace
 */

static void attach(__u32 max)
{
	struct sw_service_config cfg = { .max_connections = max,
					 .overflow_to = { REMOTE } };
	struct sw_datapath_opts o;
	struct sw_error e = {};
	char dir[SW_PIN_DIR_MAX];
	int bridge;

	sw_datapath_opts_init(&o);
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/%s", test_unique("dp"));
	o.pin_dir = dir;
	o.handoff = fx.v->handoff;
	enter(fx.node);
	CHECK(!sw_datapath_open(&fx.dp, &o, &e), "%s", e.msg);
	fx.loaded = true;
	CHECK(!sw_datapath_attach(&fx.dp, "n0", fx.v->mode, &e), "%s", e.msg);
	leave();
	endpoint_to_map();
	enter(fx.node);
	bridge = sw_link_bridge(if_nametoindex("n0"), &e);
	CHECK(bridge >= 0, "%s", e.msg);
	CHECK_EQ(bridge, fx.v->bridge ? (int)if_nametoindex("br0") : 0);
	if (bridge)
		CHECK(!sw_datapath_attach_bridge(&fx.dp, bridge, &e), "%s", e.msg);
	leave();
	CHECK(!sw_service_key_make(&fx.key, vip(), PORT));
	CHECK(!sw_service_set(&fx.dp, &fx.key, &cfg, &e), "%s", e.msg);
	CHECK(!sw_remote_set(&fx.dp, REMOTE, "remote", true, &e), "%s", e.msg);
}

static void set_max(__u32 max)
{
	struct sw_service_config cfg = { .max_connections = max,
					 .overflow_to = { REMOTE } };
	struct sw_error e = {};

	CHECK(!sw_service_set(&fx.dp, &fx.key, &cfg, &e), "%s", e.msg);
}

static struct sw_service service(void)
{
	struct sw_service s;

	CHECK(!sw_service_get(&fx.dp, &fx.key, &s));
	return s;
}

static struct sw_stats stats(void)
{
	struct sw_stats st;
	struct sw_error e = {};

	CHECK(!sw_stats_read(&fx.dp, &st, &e), "%s", e.msg);
	return st;
}

/* Closes travel through the network: wait (bounded) for the counts. */
static void wait_counts(__u32 local, __u32 remote)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	struct sw_service s;

	for (int i = 0; i < WAIT_S * 100; i++) {
		s = service();
		if (s.active_local == local && s.active_remote == remote)
			return;
		nanosleep(&pause, NULL);
	}
	CHECK(0, "counts local %u remote %u, expected %u and %u within %d s",
	      s.active_local, s.active_remote, local, remote, WAIT_S);
}

/* What a user reads: bpftool's dump of the pinned services map. */
static void check_bpftool_dump(__u32 local, __u32 remote)
{
	char cmd[512], out[8192], want[64];
	size_t n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "bpftool map dump pinned %s/services",
		 fx.dp.pin_dir);
	f = popen(cmd, "r");
	CHECK(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	CHECK(pclose(f) == 0, "%s failed", cmd);
	snprintf(want, sizeof(want), "\"active_local\": %u,", local);
	CHECK(strstr(out, want), "no '%s' in:\n%s", want, out);
	snprintf(want, sizeof(want), "\"active_remote\": %u,", remote);
	CHECK(strstr(out, want), "no '%s' in:\n%s", want, out);
	CHECK(strstr(out, "\"max_connections\": ") && strstr(out, "\"overflow_to\": "),
	      "fields not named:\n%s", out);
}

/* ------------------------------------------------------------------------ */

static void setup(void)
{
	fx.nconns = 0;
	make_namespaces();
	fx.service_pid = spawn_server(fx.svc, false);
	fx.endpoint_pid = spawn_server(fx.node, true);
}

static void teardown(void)
{
	struct sw_error e = {};
	char dir[SW_PIN_DIR_MAX];

	while (fx.nconns)
		close(fx.conns[--fx.nconns]);
	stop(&fx.service_pid);
	stop(&fx.endpoint_pid);
	if (fx.loaded) {
		snprintf(dir, sizeof(dir), "%s", fx.dp.pin_dir);
		sw_datapath_close(&fx.dp);
		if (!setns(fx.host_ns, CLONE_NEWNET) && sw_down(dir, &e))
			fprintf(stderr, "    teardown: %s\n", e.msg);
		fx.loaded = false;
	}
	setns(fx.host_ns, CLONE_NEWNET);
	if (fx.made) {
		char cmd[1024];

		snprintf(cmd, sizeof(cmd),
			 "ip netns del %s; ip netns del %s; ip netns del %s",
			 fx.client, fx.node, fx.svc);
		if (system(cmd))
			fprintf(stderr, "    teardown: %s failed\n", cmd);
		fx.made = false;
	}
}

/* Flows whose state has every bit of `bits`. */
static int flows_with(__u32 bits)
{
	int fd = bpf_map__fd(fx.dp.skel->maps.flows), n = 0;
	struct sw_flow_key key, *prev = NULL;
	struct sw_flow f;

	while (!bpf_map_get_next_key(fd, prev, &key)) {
		prev = &key;
		if (!bpf_map_lookup_elem(fd, &key, &f) && (f.state & bits) == bits)
			n++;
	}
	return n;
}

static void test_spill(const void *arg)
{
	int before, local[3], spilled[2];
	struct sw_stats st;

	begin(arg);
	/* A connection from before the datapath: it must keep working. */
	before = dial_expect(false);

	attach(3);
	echo(before);
	CHECK(stats().untracked > 0, "the old connection was not seen");
	for (int i = 0; i < 3; i++)
		local[i] = dial_expect(false);
	wait_counts(3, 0);
	for (int i = 0; i < 2; i++)
		spilled[i] = dial_expect(true);	/* over the threshold */
	wait_counts(3, 2);
	check_bpftool_dump(3, 2);
	for (int i = 0; i < 3; i++)
		echo(local[i]);
	for (int i = 0; i < 2; i++)
		echo(spilled[i]);
	/* Held by endpoint sockets: from now on their packets are only
	 * marked, and the kernel finds the sockets itself. */
	CHECK_EQ(flows_with(SW_FLOW_ENDPOINT), 2);
	for (int i = 0; i < 2; i++)
		echo(spilled[i]);
	echo(before);

	/* A closed connection gives its slot back; the next one is local. */
	hang_up(local[0]);
	wait_counts(2, 2);
	local[0] = dial_expect(false);
	hang_up(spilled[0]);
	wait_counts(3, 1);

	/* Lowering the threshold moves nothing; new connections spill. */
	set_max(1);
	for (int i = 0; i < 3; i++)
		echo(local[i]);
	echo(spilled[1]);
	spilled[0] = dial_expect(true);
	wait_counts(3, 2);

	/* Everything closes: back to zero, nothing leaked. */
	for (int i = 0; i < 3; i++)
		hang_up(local[i]);
	for (int i = 0; i < 2; i++)
		hang_up(spilled[i]);
	wait_counts(0, 0);
	st = stats();
	CHECK_EQ(st.new_local, 4);
	CHECK_EQ(st.new_remote, 3);
	CHECK(st.steered > 0);
	CHECK_EQ(st.steer_refused, 0);
	CHECK_EQ(st.steer_no_endpoint, 0);
	CHECK_EQ(st.released_fin, 7);
	echo(before);
	CHECK_EQ(service().active_local, 0);	/* the old one never counted */
}

/*
 * A spilled connection whose flow entry is gone (a flow table emptied by
 * 'spillway down' and a new agent, say) is untracked now, but the endpoint
 * still owns its socket: its packets keep reaching the endpoint.
 */
static void test_orphan(const void *arg)
{
	struct sw_flow_key key, next;
	int fd, flows;

	begin(arg);
	attach(0);				/* every connection spills */
	fd = dial_expect(true);
	flows = bpf_map__fd(fx.dp.skel->maps.flows);
	CHECK(!bpf_map_get_next_key(flows, NULL, &key), "no flow");
	CHECK(bpf_map_get_next_key(flows, &key, &next), "more than one flow");
	CHECK(!bpf_map_delete_elem(flows, &key));
	echo(fd);
	echo(fd);
	CHECK(stats().orphans_steered > 0, "no orphan packet was steered");
	CHECK_EQ(stats().steer_refused, 0);
}

/* With no endpoint listening (no agent), over-threshold stays local. */
static void test_no_endpoint(const void *arg)
{
	int fd;

	begin(arg);
	attach(1);
	dial_expect(false);
	stop(&fx.endpoint_pid);
	fd = dial_expect(false);		/* would spill: nowhere to go */
	wait_counts(2, 0);
	CHECK_EQ(service().overflow_unavailable_total, 1);
	echo(fd);
	fx.endpoint_pid = spawn_server(fx.node, true);
	endpoint_to_map();			/* as a restarted agent does */
	for (int i = 0; i < WAIT_S * 100; i++) {	/* until it listens */
		char greeting[256];
		int c = dial(greeting, sizeof(greeting));

		hang_up(c);
		if (strncmp(greeting, "local", 5))
			break;
		usleep(10000);
	}
	dial_expect(true);
	CHECK(service().overflowed_total >= 1);
}

/* down leaves no filter, no XDP program, no pin; connections live on. */
static void test_down(const void *arg)
{
	struct sw_error e = {};
	char dir[SW_PIN_DIR_MAX], cmd[512];
	int fd;

	begin(arg);
	attach(5);
	fd = dial_expect(false);
	snprintf(dir, sizeof(dir), "%s", fx.dp.pin_dir);
	sw_datapath_close(&fx.dp);
	fx.loaded = false;
	enter(fx.node);
	CHECK(!sw_down(dir, &e), "%s", e.msg);
	leave();
	CHECK(access(dir, F_OK) != 0, "%s still exists", dir);
	snprintf(cmd, sizeof(cmd),
		 "! ip -n %s link show n0 | grep -q xdp && "
		 "! ip netns exec %s tc filter show dev n0 ingress | grep -q spill_ && "
		 "! ip netns exec %s tc filter show dev n0 egress | grep -q spill_ && "
		 "! ip netns exec %s tc filter show dev %s ingress | grep -q spill_",
		 fx.node, fx.node, fx.node, fx.node, client_side());
	run("%s", cmd);
	echo(fd);
}

/* xdp: the handoff the kernel offers; xdp-flow: the flow table forced. */
static const struct variant tc4 = { SW_ATTACH_TC, 4, SW_HANDOFF_AUTO, false },
			    tc6 = { SW_ATTACH_TC, 6, SW_HANDOFF_AUTO, false };
static const struct variant xdp4 = { SW_ATTACH_XDP, 4, SW_HANDOFF_AUTO, false },
			    xdp6 = { SW_ATTACH_XDP, 6, SW_HANDOFF_AUTO, false };
static const struct variant xdpflow4 = { SW_ATTACH_XDP, 4, SW_HANDOFF_FLOW_TABLE, false },
			    xdpflow6 = { SW_ATTACH_XDP, 6, SW_HANDOFF_FLOW_TABLE, false };
/* bridge-*: n0 a port of br0, br_netfilter on. */
static const struct variant brtc4 = { SW_ATTACH_TC, 4, SW_HANDOFF_AUTO, true },
			    brtc6 = { SW_ATTACH_TC, 6, SW_HANDOFF_AUTO, true },
			    brxdp4 = { SW_ATTACH_XDP, 4, SW_HANDOFF_AUTO, true };

static const struct test_case cases[] = {
	{ "spill/tc/ipv4", test_spill, &tc4 },
	{ "spill/tc/ipv6", test_spill, &tc6 },
	{ "spill/xdp/ipv4", test_spill, &xdp4 },
	{ "spill/xdp/ipv6", test_spill, &xdp6 },
	{ "spill/xdp-flow/ipv4", test_spill, &xdpflow4 },
	{ "spill/xdp-flow/ipv6", test_spill, &xdpflow6 },
	{ "spill/bridge-tc/ipv4", test_spill, &brtc4 },
	{ "spill/bridge-tc/ipv6", test_spill, &brtc6 },
	{ "spill/bridge-xdp/ipv4", test_spill, &brxdp4 },
	{ "orphan/tc/ipv4", test_orphan, &tc4 },
	{ "orphan/xdp/ipv6", test_orphan, &xdp6 },
	{ "orphan/xdp-flow/ipv4", test_orphan, &xdpflow4 },
	{ "no-endpoint/tc/ipv4", test_no_endpoint, &tc4 },
	{ "no-endpoint/xdp/ipv6", test_no_endpoint, &xdp6 },
	{ "no-endpoint/xdp-flow/ipv4", test_no_endpoint, &xdpflow4 },
	{ "down/tc/ipv4", test_down, &tc4 },
	{ "down/xdp/ipv6", test_down, &xdp6 },
	{ "down/bridge-tc/ipv4", test_down, &brtc4 },
	{ 0 },
};

static const struct test_suite suite = {
	.name = "veth",
	.setup = setup,
	.teardown = teardown,
	.cases = cases,
};

int main(int argc, char **argv)
{
	printf("xdp cases hand off by %s (probed); xdp-flow cases by the flow "
	       "table\n", sw_probe(SW_FEATURE_XDP_META) == SW_PRESENT ?
	       "metadata" : "the flow table");
	sw_libbpf_log_init(getenv("SPILLWAY_DEBUG") != NULL);
	signal(SIGPIPE, SIG_IGN);
	fx.host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fx.host_ns < 0) {
		perror("/proc/self/ns/net");
		return 1;
	}
	return test_main(&suite, argc, argv);
}
