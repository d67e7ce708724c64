// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spillway/defaults.h"
#include "lib/addr.h"
#include "lib/clock.h"
#include "tunnel/gateway.h"
#include "tunnel/h2.h"
#include "lib/log.h"
#include "lib/resolve.h"
#include "tunnel/net.h"
#include "tunnel/relay.h"

#define ACCEPT_BUDGET 64
/*
 * Authenticated connections, and apart from them connections still in
 * their TLS handshake (no certificate seen yet, ~90 KB each): idle TCP
 * connections fill only the second kind, never the slots of peers that
 * proved who they are. One source address (IPv6: one /64) may hold a few
 * of the handshakes, so one client cannot fill them either; when they are
 * full (idle connections from many addresses), a new connection takes the
 * place of the oldest handshake, so a peer's handshake, a round trip or
 * two, is lost only if MAX_HANDSHAKES connections arrive meanwhile.
 */
#define MAX_CONNS 4096
#define MAX_HANDSHAKES 1024
#define MAX_HANDSHAKES_PER_SOURCE 64
#define WHY_MAX (SW_NAME_MAX + 128)	/* why a CONNECT was refused */

/*
 * A peer identity (a remote cluster's agents share one) with connections,
 * or kept after its last one while its connect rate is not back to full:
 * reconnecting restores nothing. One for all the gateways of an agent (one
 * per worker): its fields under their sw_gateway_peers' lock, but streams.
 */
struct peer {
	struct peer *next;
	int conns;
	unsigned int streams;		/* open, on any gateway (atomic) */
	double tokens;			/* connects to targets it may open now */
	uint64_t refilled_ns;
	unsigned int strikes;		/* closes for premature resets */
	uint64_t struck_ns;		/* the last strike, or its last decay */
	char identity[sizeof(((struct h2conn *)0)->identity)];
};

/* A connection in its TLS handshake, and where it came from. */
struct pending {
	struct h2conn *c;
	struct in6_addr from;		/* IPv4: mapped; IPv6: the /64 */
};

struct sw_gateway {
	struct sw_loop *loop;
	struct sw_resolver *resolver;
	const struct sw_config *cfg;
	struct sw_tls *tls;
	__u32 bypass_mark;
	__u32 mark;		/* on connections to targets: bypass_mark or 0 */
	struct sw_listener listen;
	struct h2conn **conns;		/* for deadlines: authenticated, pending */
	int n_conns;
	struct pending *pending;	/* still in the TLS handshake */
	int n_pending;
	nghttp2_session_callbacks *cb;
	struct sw_tunnel_counters c;
	bool draining;			/* no new connections or streams */
	struct sw_gateway_peers *peers;
};

struct sw_gateway_peers {
	pthread_mutex_t lock;
	struct peer *list;
};

/* Connects to targets a second the peer may open: halved per strike. */
static double connect_rate(const struct sw_gateway *g, const struct peer *p)
{
	unsigned int rate = g->cfg ? g->cfg->max_connects_per_peer :
				     SW_TUNNEL_MAX_CONNECTS_PER_PEER;

	rate >>= p->strikes;
	return rate ? rate : 1;
}

/* connect_rate, from outside the peers' lock. */
static double rate_now(const struct sw_gateway *g, const struct peer *p)
{
	double rate;

	pthread_mutex_lock(&g->peers->lock);
	rate = connect_rate(g, p);
	pthread_mutex_unlock(&g->peers->lock);
	return rate;
}

/* The token bucket: a burst of one second's rate. */
static void refill(const struct sw_gateway *g, struct peer *p, uint64_t now)
{
	double rate = connect_rate(g, p);

	p->tokens += rate * (double)(now - p->refilled_ns) / NS_PER_S;
	if (p->tokens > rate)
		p->tokens = rate;
	p->refilled_ns = now;
}

/* The peer of an identity, counting one more connection; NULL: no memory. */
static struct peer *peer_join(struct sw_gateway *g, const char *identity)
{
	struct peer *p;

	pthread_mutex_lock(&g->peers->lock);
	for (p = g->peers->list; p; p = p->next)
		if (!strcmp(p->identity, identity))
			break;
	if (!p && (p = calloc(1, sizeof(*p)))) {
		snprintf(p->identity, sizeof(p->identity), "%s", identity);
		p->refilled_ns = sw_now_ns();
		p->tokens = connect_rate(g, p);
		p->next = g->peers->list;
		g->peers->list = p;
	}
	if (p)
		p->conns++;
	pthread_mutex_unlock(&g->peers->lock);
	return p;
}

/*
 * Streams opened (n > 0) or ended (n < 0) on the peer's connections: each
 * stream from on_begin_headers to stream_done, or to its connection's end
 * (conn_closed counts a closing connection's streams at once).
 */
static void peer_streams_add(struct peer *p, int n)
{
	__atomic_add_fetch(&p->streams, (unsigned int)n, __ATOMIC_RELAXED);
}

/* Forget peers without connections whose connect rate is back to full. */
static void peers_tick(struct sw_gateway *g, uint64_t now)
{
	pthread_mutex_lock(&g->peers->lock);
	for (struct peer **pp = &g->peers->list, *p; (p = *pp);) {
		if (p->strikes &&
		    now - p->struck_ns >= SW_TUNNEL_STRIKE_DECAY_S * NS_PER_S) {
			p->strikes--;
			p->struck_ns = now;
		}
		refill(g, p, now);
		if (p->conns || p->strikes || p->tokens < connect_rate(g, p)) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		free(p);
	}
	pthread_mutex_unlock(&g->peers->lock);
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), \
		   NGHTTP2_NV_FLAG_NONE }

/*
 * Envoy's premature-reset limit: a connection whose streams the peer mostly
 * ends before their target answered is closed, and its identity's connect
 * rate halved (peers_tick undoes it).
 */
static void count_reset(struct h2conn *c, bool premature)
{
	struct peer *p = c->owner_data;
	struct sw_gateway *g = c->owner;

	c->streams_ended++;
	c->premature_resets += premature;
	if (c->premature_resets < SW_TUNNEL_PREMATURE_RESETS ||
	    2 * c->premature_resets <= c->streams_ended || !p ||
	    !nghttp2_session_want_read(c->session))
		return;
	pthread_mutex_lock(&g->peers->lock);
	if (p->strikes < SW_TUNNEL_MAX_STRIKES)
		p->strikes++;
	p->struck_ns = sw_now_ns();
	pthread_mutex_unlock(&g->peers->lock);
	log_warn_limited("gateway: %s (%s): %u of %u streams reset before "
			 "their target answered: closing the connection "
			 "(GOAWAY ENHANCE_YOUR_CALM); its identity may now "
			 "connect to targets %.0f times a second",
			 c->peer, c->identity, c->premature_resets,
			 c->streams_ended, rate_now(g, p));
	/* In nghttp2's callback: the GOAWAY goes out, then the flush closes. */
	nghttp2_session_terminate_session(c->session,
					  NGHTTP2_ENHANCE_YOUR_CALM);
}

static void stream_done(struct relay *r, bool reset)
{
	struct sw_gateway *g = r->owner;

	(void)reset;
	g->c.streams_open--;
	g->c.streams[sw_stream_result_of(r->status)]++;
	if (r->conn)		/* else its connection's end counted it */
		peer_streams_add(r->conn->owner_data, -1);
	/* Ended by the peer (RST_STREAM, whatever its code) before an answer. */
	if (r->conn && r->conn->state == H2_OPEN)
		count_reset(r->conn, !r->status);
}

static void answer(struct relay *r, int status, bool with_body)
{
	char code[4];
	nghttp2_data_provider prd = relay_provider(r);

	snprintf(code, sizeof(code), "%d", status);
	nghttp2_nv hdrs[] = { NV(":status", code) };
	r->status = status;
	r->answered = !with_body;
	nghttp2_submit_response(r->conn->session, r->stream_id, hdrs, 1,
				with_body ? &prd : NULL);
}

static void refuse(struct relay *r, int status, const char *why)
{
	log_warn_limited("gateway: refused CONNECT %s from %s (%s, %s): %d, %s",
			 r->authority[0] ? r->authority : "(none)",
			 r->conn->identity, r->conn->peer,
			 r->forwarded[0] ? r->forwarded : "no forwarded",
			 status, why);
	answer(r, status, false);
	relay_close(r, false);
}

static void target_connected(struct relay *r, int err)
{
	char why[128];

	if (err) {
		snprintf(why, sizeof(why), "cannot connect to the target: %s",
			 strerror(err));
		refuse(r, 502, why);
		return;
	}
	r->deadline_ns = 0;
	answer(r, 200, true);
	relay_establish(r);
	log_debug("gateway: CONNECT %s from %s (%s): 200", r->authority,
		  r->conn->identity, r->forwarded);
}

static const struct relay_ops stream_ops = {
	.on_connected = target_connected,
	.on_done = stream_done,
};

/* name:port, name a DNS name (never an address: no connecting by IP). */
static int parse_authority(const char *a, char *name, size_t len, __u16 *port)
{
	struct sw_hostport hp;
	struct sockaddr_storage ss;
	socklen_t sl;

	if (sw_hostport_parse(a, &hp))
		return -EINVAL;
	if (!sw_sockaddr_make(hp.host, hp.port, &ss, &sl))
		return -EPERM;
	snprintf(name, len, "%s", hp.host);
	*port = hp.port;
	return 0;
}

static const struct sw_export_config *export_of(const struct sw_config *cfg,
						const char *name, __u16 port)
{
	for (int i = 0; cfg && i < cfg->n_exports; i++)
		if (cfg->exports[i].port == port &&
		    !strcmp(cfg->exports[i].name, name))
			return &cfg->exports[i];
	return NULL;
}

/*
 * Connect r to its target at ss, or have it wait for its peer's connect
 * rate (dial_waiting); NULL, or why not (and *status).
 */
static const char *connect_target(struct sw_gateway *g, struct relay *r,
				  const struct sockaddr_storage *ss,
				  socklen_t len, int *status, char *why,
				  size_t why_len)
{
	struct peer *p = r->conn->owner_data;
	bool token;
	int fd;

	pthread_mutex_lock(&g->peers->lock);
	refill(g, p, sw_now_ns());
	token = p->tokens >= 1;
	p->tokens -= token;
	pthread_mutex_unlock(&g->peers->lock);
	if (!token) {
		if (&r->target != ss)
			memcpy(&r->target, ss, len);
		r->target_len = len;
		r->waiting = true;
		return NULL;
	}
	r->waiting = false;
	fd = sw_agent_socket(ss->ss_family, g->mark);
	if (fd < 0)
		return *status = 502, strerror(-fd);
	if ((connect(fd, (const struct sockaddr *)ss, len) &&
	     errno != EINPROGRESS) || relay_attach(r, fd, true)) {
		snprintf(why, why_len, "cannot connect to the target: %s",
			 strerror(errno));
		close(fd);
		return *status = 502, why;
	}
	return NULL;
}

static void target_resolved(struct sw_lookup *l,
			    const struct sockaddr_storage *ss, socklen_t len,
			    const char *err)
{
	struct relay *r = l->owner;
	struct h2conn *c = r->conn;
	const char *refused;
	int status = 503;
	char why[WHY_MAX];

	if (!ss) {
		snprintf(why, sizeof(why), "target %s does not resolve: %s",
			 l->host, err);
		refused = why;
	} else {
		refused = connect_target(r->owner, r, ss, len, &status, why,
					 sizeof(why));
	}
	if (refused)
		refuse(r, status, refused);
	h2_flush(c);
}

/*
 * Check a CONNECT and start connecting to its target (once its name
 * resolves: the resolver answers later, or at once from its cache); NULL
 * or why not.
 */
static const char *start(struct sw_gateway *g, struct relay *r, int *status,
			 char *why, size_t why_len)
{
	const struct sw_export_config *x;
	char name[SW_NAME_MAX + 1];
	struct sockaddr_storage ss;
	const char *err = NULL;
	socklen_t len;
	__u16 port;
	int rc;

	if (r->header_bytes > SW_TUNNEL_MAX_HEADER_BYTES)
		return *status = 431, "request headers too large";
	if (strcmp(r->method, "CONNECT"))
		return *status = 405, "only CONNECT is served";
	rc = parse_authority(r->authority, name, sizeof(name), &port);
	if (rc == -EPERM)
		return *status = 403, "an IP address is not a service name";
	if (rc)
		return *status = 403, "malformed authority: expected NAME:PORT";
	x = export_of(g->cfg, name, port);
	if (!x)
		return *status = 403, "not exported here";
	/* This stream is counted already: more than the limit refuses it. */
	if (g->cfg && __atomic_load_n(&((struct peer *)r->conn->owner_data)->streams,
				      __ATOMIC_RELAXED) >
		      g->cfg->max_streams_per_peer) {
		snprintf(why, why_len, "this peer has %u streams open, the most "
			 "tunnel.max_streams_per_peer allows",
			 g->cfg->max_streams_per_peer);
		return *status = 503, why;
	}
	/* The deadline covers the name's resolution and the connect. */
	r->deadline_ns = sw_now_ns() + SW_TUNNEL_CONNECT_TIMEOUT_S * NS_PER_S;
	r->lookup.done = target_resolved;
	r->lookup.owner = r;
	rc = sw_resolve(g->resolver, x->target.host, x->target.port,
			&r->lookup, &ss, &len, &err);
	if (rc == -EINPROGRESS)
		return NULL;
	if (rc) {
		snprintf(why, why_len, "target %s does not resolve: %s",
			 x->target.host, err);
		return *status = 503, why;
	}
	return connect_target(g, r, &ss, len, status, why, why_len);
}

static void request(struct sw_gateway *g, struct relay *r)
{
	char why[WHY_MAX];
	const char *refused;
	int status = 0;

	refused = start(g, r, &status, why, sizeof(why));
	if (refused)
		refuse(r, status, refused);
}

/* ------------------------------------------------------------------------
 * nghttp2 callbacks (user_data: the struct h2conn)
 */

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame,
			    void *user_data)
{
	struct h2conn *c = user_data;
	struct sw_gateway *g = c->owner;
	struct relay *r;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	r = relay_new(g->loop, c, -1, &stream_ops, g, &g->c);
	if (!r)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	r->stream_id = frame->hd.stream_id;
	g->c.streams_open++;
	peer_streams_add(c->owner_data, 1);
	nghttp2_session_set_stream_user_data(s, r->stream_id, r);
	return 0;
}

static void copy_value(char *dst, size_t size, const uint8_t *v, size_t len)
{
	snprintf(dst, size, "%.*s", (int)len, (const char *)v);
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame,
		     const uint8_t *name, size_t namelen, const uint8_t *value,
		     size_t valuelen, uint8_t flags, void *user_data)
{
	struct relay *r = nghttp2_session_get_stream_user_data(s,
							       frame->hd.stream_id);

	(void)flags;
	(void)user_data;
	if (!r || frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	/* RFC 7541 counts 32 bytes of overhead per field. */
	r->header_bytes += namelen + valuelen + 32;
	if (r->header_bytes > SW_TUNNEL_MAX_HEADER_BYTES)
		return 0;
	if (namelen == 7 && !memcmp(name, ":method", 7))
		copy_value(r->method, sizeof(r->method), value, valuelen);
	else if (namelen == 10 && !memcmp(name, ":authority", 10))
		copy_value(r->authority, sizeof(r->authority), value, valuelen);
	else if (namelen == 9 && !memcmp(name, "forwarded", 9) && !r->forwarded[0])
		copy_value(r->forwarded, sizeof(r->forwarded), value, valuelen);
	return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *frame,
		    void *user_data)
{
	struct h2conn *c = user_data;
	struct relay *r = nghttp2_session_get_stream_user_data(s,
							       frame->hd.stream_id);

	if (!r)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS &&
	    frame->headers.cat == NGHTTP2_HCAT_REQUEST && !r->status &&
	    r->io.fd < 0)
		request(c->owner, r);
	if (!r->closing && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		relay_on_end_stream(r);
	return 0;
}

/* ------------------------------------------------------------------------
 * Connections from remote clusters
 */

/* c is no longer in its handshake (authenticated, or gone). */
static void pending_remove(struct sw_gateway *g, struct h2conn *c)
{
	for (int i = 0; i < g->n_pending; i++)
		if (g->pending[i].c == c) {
			g->pending[i] = g->pending[--g->n_pending];
			return;
		}
}

static void conn_ready(struct h2conn *c)
{
	struct sw_gateway *g = c->owner;
	char why[96];

	pending_remove(g, c);
	g->c.connections_open++;
	c->owner_data = peer_join(g, c->identity);
	if (!c->owner_data) {
		h2_close(c, "out of memory", "other");
		return;
	}
	if (g->n_conns - g->n_pending > MAX_CONNS) {
		snprintf(why, sizeof(why), "the gateway has %d authenticated "
			 "connections, the most it takes", MAX_CONNS);
		h2_close(c, why, "busy");
		return;
	}
	log_info_limited("gateway: %s connected as %s", c->peer, c->identity);
	if (g->draining)
		h2_goaway(c);
}

static void conn_closed(struct h2conn *c, const char *reason, const char *label)
{
	struct sw_gateway *g = c->owner;
	bool was_open = c->confirmed;

	if (c->owner_data)
		peer_streams_add(c->owner_data, -c->streams);
	relay_abort_all(c);
	pending_remove(g, c);
	if (c->owner_data) {
		pthread_mutex_lock(&g->peers->lock);
		((struct peer *)c->owner_data)->conns--;
		pthread_mutex_unlock(&g->peers->lock);
	}
	c->owner_data = NULL;
	for (int i = 0; i < g->n_conns; i++)
		if (g->conns[i] == c)
			g->conns[i] = g->conns[--g->n_conns];
	if (was_open) {
		g->c.connections_open--;
		log_info_limited("gateway: %s (%s) left: %s", c->peer,
				 c->identity, reason);
		return;
	}
	g->c.handshake_failures[sw_hs_reason_of(label)]++;
	log_warn_limited("gateway: %s", reason);
}

/* Over the budget, connections holding bytes for targets wait. */
static bool conn_may_read(struct h2conn *c)
{
	struct sw_gateway *g = c->owner;

	if (g->c.buffered_bytes <= g->c.buffer_budget)
		return true;
	for (struct relay *r = c->relays; r; r = r->next)
		if (r->down_bytes)
			return false;
	return true;
}

static const struct h2_ops conn_ops = {
	.on_ready = conn_ready,
	.on_closed = conn_closed,
	.may_read = conn_may_read,
};

/* The address a source's handshakes are counted by. */
static void source_of(const struct sockaddr_storage *ss, struct in6_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		a->s6_addr[10] = a->s6_addr[11] = 0xff;
		memcpy(&a->s6_addr[12],
		       &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		/* A host has a /64 to pick addresses from. */
		memcpy(a, &((const struct sockaddr_in6 *)ss)->sin6_addr, 8);
	}
}

/* May a connection from `from` start a handshake? NULL, or why not. */
static const char *handshake_refused(const struct sw_gateway *g,
				     const struct in6_addr *from, char *why,
				     size_t len)
{
	int same = 0;

	for (int i = 0; i < g->n_pending; i++)
		same += !memcmp(&g->pending[i].from, from, sizeof(*from));
	if (same < MAX_HANDSHAKES_PER_SOURCE)
		return NULL;
	snprintf(why, len, "%d connections from this address are in the TLS "
		 "handshake, the most one address may have",
		 MAX_HANDSHAKES_PER_SOURCE);
	return why;
}

/* The handshakes are full: close the oldest for a new connection. */
static void evict_oldest_handshake(struct sw_gateway *g)
{
	struct h2conn *oldest = g->pending[0].c;
	char why[sizeof(oldest->peer) + 128];

	for (int i = 1; i < g->n_pending; i++)
		if (g->pending[i].c->deadline_ns < oldest->deadline_ns)
			oldest = g->pending[i].c;
	snprintf(why, sizeof(why), "%s: closed in its TLS handshake for a "
		 "newer connection (%d in the handshake, the most the gateway "
		 "takes)", oldest->peer, MAX_HANDSHAKES);
	h2_close(oldest, why, "evicted");
}

/* Take the accepted fd into a TLS handshake, or refuse it. */
static void admit(struct sw_gateway *g, int fd,
		  const struct sockaddr_storage *ss)
{
	char from[SW_ADDR_STRLEN + 8], why[128];
	struct sw_error e = {};
	const char *refused;
	struct in6_addr src;
	struct h2conn *c;
	SSL *ssl;

	source_of(ss, &src);
	refused = handshake_refused(g, &src, why, sizeof(why));
	if (refused) {
		g->c.handshake_failures[SW_HS_busy]++;
		log_warn_limited("gateway: refused a connection from %s: %s",
				 sw_sockaddr_format(ss, from, sizeof(from)),
				 refused);
		sw_close_reset(fd);
		return;
	}
	if (g->n_pending == MAX_HANDSHAKES)
		evict_oldest_handshake(g);
	sw_no_delay(fd);
	ssl = sw_tls_server(g->tls, fd, &e);
	if (!ssl) {
		log_warn_limited("gateway: %s", e.msg);
		close(fd);
		return;
	}
	c = h2_server(g->loop, fd, ssl,
		      SW_GATEWAY_HANDSHAKE_TIMEOUT_S * NS_PER_S,
		      g->cb, &conn_ops, g);
	if (!c)
		return;
	g->conns[g->n_conns++] = c;
	g->pending[g->n_pending++] = (struct pending){ .c = c, .from = src };
}

static void on_accept(struct sw_io *io, uint32_t events)
{
	struct sw_gateway *g = (struct sw_gateway *)((char *)io -
					offsetof(struct sw_gateway, listen.io));
	struct sockaddr_storage ss;

	(void)events;
	for (int n = 0; n < ACCEPT_BUDGET; n++) {
		int fd = sw_listener_accept(&g->listen, &ss);

		if (fd < 0)
			return;
		if (!g->tls)
			close(fd);
		else
			admit(g, fd, &ss);
	}
}

struct sw_gateway_peers *sw_gateway_peers_new(void)
{
	struct sw_gateway_peers *ps = calloc(1, sizeof(*ps));

	if (ps)
		pthread_mutex_init(&ps->lock, NULL);
	return ps;
}

void sw_gateway_peers_free(struct sw_gateway_peers *ps)
{
	if (!ps)
		return;
	while (ps->list) {
		struct peer *p = ps->list;

		ps->list = p->next;
		free(p);
	}
	pthread_mutex_destroy(&ps->lock);
	free(ps);
}

struct sw_gateway *sw_gateway_new(struct sw_loop *loop,
				  struct sw_resolver *resolver,
				  const struct sw_hostport *addr,
				  struct sw_gateway_peers *peers,
				  __u32 bypass_mark, struct sw_error *e)
{
	struct sw_gateway *g = calloc(1, sizeof(*g));
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd, err;

	if (!g || !(g->conns = calloc(MAX_CONNS + MAX_HANDSHAKES,
				      sizeof(*g->conns))) ||
	    !(g->pending = calloc(MAX_HANDSHAKES, sizeof(*g->pending))) ||
	    nghttp2_session_callbacks_new(&g->cb)) {
		if (g) {
			free(g->conns);
			free(g->pending);
		}
		free(g);
		sw_fail(e, -ENOMEM, "out of memory");
		return NULL;
	}
	g->loop = loop;
	g->resolver = resolver;
	g->peers = peers;
	g->bypass_mark = bypass_mark;
	g->listen.io.fd = g->listen.resume.fd = -1;
	g->c.buffer_budget = (__u64)SW_TUNNEL_BUFFER_BUDGET_MIB << 20;
	nghttp2_session_callbacks_set_on_begin_headers_callback(g->cb,
								on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(g->cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(g->cb, on_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(g->cb,
		relay_on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(g->cb,
		relay_on_stream_close);

	sw_sockaddr_make(addr->host, addr->port, &ss, &len);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 1024)) {
		sw_fail(e, -errno, "tunnel.listen: cannot listen on %s:%u: %s",
			addr->host, addr->port, strerror(errno));
		if (fd >= 0)
			close(fd);
		sw_gateway_free(g);
		return NULL;
	}
	err = sw_listener_open(&g->listen, loop, fd, "gateway", on_accept);
	if (err) {
		sw_fail(e, err, "tunnel.listen: cannot watch %s:%u: %s",
			addr->host, addr->port, strerror(-err));
		sw_gateway_free(g);
		return NULL;
	}
	return g;
}

void sw_gateway_free(struct sw_gateway *g)
{
	if (!g)
		return;
	while (g->n_conns)
		h2_close(g->conns[0], "the gateway stops", "closed");
	sw_listener_close(&g->listen);
	nghttp2_session_callbacks_del(g->cb);
	free(g->conns);
	free(g->pending);
	free(g);
}

void sw_gateway_configure(struct sw_gateway *g, const struct sw_config *cfg,
			  struct sw_tls *tls, unsigned int shares)
{
	g->cfg = cfg;
	g->tls = tls;
	g->c.buffer_budget = ((__u64)cfg->buffer_budget_mib << 20) / shares;
	/* Marked only where a datapath runs to skip them. */
	g->mark = cfg->n_interfaces ? g->bypass_mark : 0;
}

void sw_gateway_drain(struct sw_gateway *g)
{
	g->draining = true;
	sw_listener_close(&g->listen);
	for (int i = g->n_conns - 1; i >= 0; i--)
		h2_goaway(g->conns[i]);
}

/* CONNECTs that waited for their peer's connect rate, in turn. */
static void dial_waiting(struct sw_gateway *g, struct relay *r)
{
	char why[WHY_MAX];
	const char *refused;
	int status = 0;

	refused = connect_target(g, r, &r->target, r->target_len, &status,
				 why, sizeof(why));
	if (refused)
		refuse(r, status, refused);
}

void sw_gateway_tick(struct sw_gateway *g, __u64 now)
{
	char why[WHY_MAX];

	peers_tick(g, now);

	for (int i = g->n_conns - 1; i >= 0; i--) {
		struct h2conn *c = g->conns[i];

		h2_check_deadline(c, now);
		if (g->draining)
			h2_goaway(c);	/* the second GOAWAY, a tick later */
		/* Read again what waited for the budget (conn_may_read). */
		h2_flush(c);
		for (struct relay *r = c->relays, *next; r; r = next) {
			next = r->next;
			if (r->waiting && now <= r->deadline_ns) {
				dial_waiting(g, r);
				continue;
			}
			if (!r->deadline_ns || now <= r->deadline_ns)
				continue;
			if (r->waiting) {
				snprintf(why, sizeof(why), "this peer opens "
					 "connections to targets faster than "
					 "tunnel.max_connects_per_peer (%.0f a "
					 "second now) allows",
					 rate_now(g, c->owner_data));
				refuse(r, 503, why);
			} else if (r->connecting) {
				r->connecting = false;
				target_connected(r, ETIMEDOUT);
			} else if (sw_lookup_pending(&r->lookup)) {
				snprintf(why, sizeof(why), "target %s does not "
					 "resolve: no answer within %d s",
					 r->lookup.host,
					 SW_TUNNEL_CONNECT_TIMEOUT_S);
				sw_lookup_cancel(&r->lookup);
				refuse(r, 503, why);
			}
			h2_flush(c);
		}
	}
}

const struct sw_tunnel_counters *sw_gateway_counters(struct sw_gateway *g)
{
	return g ? &g->c : NULL;
}
