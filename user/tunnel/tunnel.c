// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "spillway/defaults.h"
#include "lib/clock.h"
#include "lib/addr.h"
#include "datapath/control.h"
#include "tunnel/endpoint.h"
#include "tunnel/fallback.h"
#include "tunnel/h2.h"
#include "lib/log.h"
#include "lib/util.h"
#include "tunnel/net.h"
#include "tunnel/relay.h"
#include "tunnel/tunnel.h"

#define ACCEPT_BUDGET 64
/* The timer's shortest delay (0 would disarm it). */
#define TIMER_MIN_NS 1000000ull

/* A steered connection waiting for a connection to its remote. */
struct waiting {
	struct waiting *next;
	int fd;
	char authority[RELAY_AUTHORITY_MAX];
	char forwarded[128];
};

struct remote {
	struct sw_tunnel *t;
	/* name and gateway fixed; the rest follows reloads */
	struct sw_remote_config cfg;
	__u32 id;
	struct h2conn *conns[SW_TUNNEL_POOL_MAX];
	int n_conns;
	struct sw_lookup lookup;	/* the gateway's name, being resolved */
	__u64 lookup_deadline_ns;
	struct waiting *waiting, **waiting_tail;
	bool healthy, published;
	int fails;			/* probes failed in a row */
	__u64 next_probe_ns, ping_sent_ns;
	__u64 ejected_until_ns;		/* unhealthy at least until then */
	struct sw_tunnel_counters c;
};

struct listener {
	struct sw_listener l;
	struct sw_tunnel *t;
};

struct sw_tunnel {
	struct sw_loop *loop;
	struct sw_resolver *resolver;
	struct sw_datapath *dp;
	const struct sw_config *cfg;
	struct sw_tls *tls;
	__u32 bypass_mark;
	struct listener listen[2];	/* IPv4, IPv6 */
	struct sw_io timer;		/* probes, deadlines, ejections, trims */
	__u64 wake_ns;			/* when it fires; ~0: not armed */
	struct remote **remotes;
	int n_remotes;
	nghttp2_session_callbacks *cb;
	struct sw_fallbacks *fallbacks;	/* spilled, but served here */
	bool closing;			/* the agent is stopping: no fallback */
	bool quiet;			/* another instance publishes health */
};

/* ------------------------------------------------------------------------
 * The timer: health probes and connect deadlines are per remote, finer than
 * the agent's one-second tick, so the tunnel keeps its own clock.
 */

/* Fire at when (sw_now_ns time), unless already due to fire sooner. */
static void wake_at(struct sw_tunnel *t, __u64 when)
{
	__u64 now = sw_now_ns(), delay;
	struct itimerspec its = {};

	if (when >= t->wake_ns)
		return;
	t->wake_ns = when;
	delay = when > now + TIMER_MIN_NS ? when - now : TIMER_MIN_NS;
	its.it_value.tv_sec = delay / NS_PER_S;
	its.it_value.tv_nsec = delay % NS_PER_S;
	if (timerfd_settime(t->timer.fd, 0, &its, NULL))
		log_error("tunnel: cannot arm its timer: %s", strerror(errno));
}

/* ------------------------------------------------------------------------
 * Health: probe_failures failed probes in a row make a remote unhealthy for
 * at least ejection_time; then one answered probe makes it healthy again.
 */

/* Tell the datapath, and the log why (a suffix: "" or " for ..."). */
static void publish(struct remote *rm, bool healthy, const char *why)
{
	struct sw_error e = {};

	rm->healthy = healthy;
	rm->published = true;
	if (rm->t->quiet)
		return;
	if (sw_remote_set(rm->t->dp, rm->id, rm->cfg.name, healthy, &e))
		log_error("remote %s: %s", rm->cfg.name, e.msg);
	else
		log_info("remote %s (%s:%u) is %s%s", rm->cfg.name,
			 rm->cfg.gateway.host, rm->cfg.gateway.port, healthy ?
			 "healthy: new connections may spill to it" :
			 "unhealthy: new connections stay local", why);
}

static void judge(struct remote *rm, __u64 now)
{
	char ejection[64] = "", d[48];
	bool healthy = rm->healthy;

	if (healthy && rm->fails >= (int)rm->cfg.probe_failures) {
		healthy = false;
		rm->ejected_until_ns = now + rm->cfg.ejection_time_ns;
		wake_at(rm->t, rm->ejected_until_ns);
	} else if (!healthy && !rm->fails && now >= rm->ejected_until_ns) {
		healthy = true;
	}
	if (rm->published && healthy == rm->healthy)
		return;
	if (!healthy && rm->ejected_until_ns > now)
		snprintf(ejection, sizeof(ejection), " for at least %s",
			 sw_duration_format(rm->ejected_until_ns - now, d,
					    sizeof(d)));
	publish(rm, healthy, ejection);
}

/*
 * A GOAWAY: the gateway is draining, c takes no new stream. If no other
 * connection does, new connections stay local until a fresh connection is
 * up (the probe, due at once, opens one: behind a load balancer it reaches
 * another gateway). Spilling meanwhile would fail them on a refused
 * connect. No ejection: the gateway leaves in order, it did not fail.
 */
static void gateway_draining(struct remote *rm)
{
	__u64 now = sw_now_ns();

	for (int i = 0; i < rm->n_conns; i++)
		if (h2_accepts_streams(rm->conns[i]))
			return;
	rm->fails = rm->fails ? rm->fails : 1;	/* a success heals it */
	rm->ejected_until_ns = 0;
	if (rm->healthy)
		publish(rm, false, " until a new connection is up (its "
			"gateway sent GOAWAY: it is draining)");
	rm->next_probe_ns = now;
	wake_at(rm->t, now);
}

static void probed(struct remote *rm, bool ok)
{
	rm->ping_sent_ns = 0;
	rm->fails = ok ? 0 : rm->fails + 1;
	judge(rm, sw_now_ns());
}

/* ------------------------------------------------------------------------
 * Streams
 */

/*
 * A spilled connection no remote took: served in this cluster instead of
 * reset (fallback.h), unless the agent is stopping.
 */
static void fall_back(struct sw_tunnel *t, int fd, const char *why)
{
	if (t->closing) {
		sw_close_reset(fd);
		return;
	}
	sw_fallback_start(t->fallbacks, fd, why);
}

static void stream_unanswered(struct relay *r, int fd)
{
	struct remote *rm = r->owner;
	char why[RELAY_AUTHORITY_MAX + 128];

	if (r->status)
		snprintf(why, sizeof(why), "remote %s answered CONNECT %s with %d",
			 rm->cfg.name, r->authority, r->status);
	else
		snprintf(why, sizeof(why), "remote %s's stream for %s ended "
			 "unanswered", rm->cfg.name, r->authority);
	fall_back(rm->t, fd, why);
}

static void stream_done(struct relay *r, bool reset)
{
	struct remote *rm = r->owner;

	(void)reset;
	rm->c.streams_open--;
	rm->c.streams[sw_stream_result_of(r->status)]++;
}

static void never_connecting(struct relay *r, int err)
{
	(void)r;
	(void)err;
}

static const struct relay_ops stream_ops = {
	.on_connected = never_connecting,
	.on_done = stream_done,
	.on_unanswered = stream_unanswered,
};

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), \
		   NGHTTP2_NV_FLAG_NONE }

static void open_stream(struct remote *rm, struct h2conn *conn, int fd,
			const char *authority, const char *forwarded)
{
	struct relay *r = relay_new(rm->t->loop, conn, fd, &stream_ops, rm,
				    &rm->c);
	nghttp2_data_provider prd;
	int32_t id;

	if (!r) {
		sw_close_reset(fd);
		return;
	}
	snprintf(r->authority, sizeof(r->authority), "%s", authority);
	snprintf(r->forwarded, sizeof(r->forwarded), "%s", forwarded);
	rm->c.streams_open++;
	nghttp2_nv hdrs[] = {
		NV(":method", "CONNECT"),
		NV(":authority", r->authority),
		NV("forwarded", r->forwarded),
	};
	prd = relay_provider(r);
	id = nghttp2_submit_request(conn->session, NULL, hdrs,
				    ARRAY_SIZE(hdrs), &prd, r);
	if (id < 0) {
		log_warn("remote %s: cannot open a stream for %s: %s", rm->cfg.name,
			 authority, nghttp2_strerror(id));
		relay_close(r, true);
		return;
	}
	r->stream_id = id;
}

/* An open connection with room for one more stream. */
static struct h2conn *pick(struct remote *rm)
{
	for (int i = 0; i < rm->n_conns; i++) {
		struct h2conn *c = rm->conns[i];
		uint32_t max;

		if (!h2_accepts_streams(c))	/* a GOAWAY: draining */
			continue;
		max = nghttp2_session_get_remote_settings(c->session,
			NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
		if (max > H2_MAX_STREAMS)
			max = H2_MAX_STREAMS;
		if ((uint32_t)c->streams < max)
			return c;
	}
	return NULL;
}

static bool connecting(struct remote *rm)
{
	if (sw_lookup_pending(&rm->lookup))
		return true;
	for (int i = 0; i < rm->n_conns; i++)
		if (!rm->conns[i]->confirmed)
			return true;
	return false;
}

static void open_connection(struct remote *rm);

/* Give waiting connections their streams, opening connections as needed. */
static void serve_waiting(struct remote *rm)
{
	struct h2conn *c;

	while (rm->waiting && (c = pick(rm))) {
		struct waiting *w = rm->waiting;

		rm->waiting = w->next;
		if (!rm->waiting)
			rm->waiting_tail = &rm->waiting;
		open_stream(rm, c, w->fd, w->authority, w->forwarded);
		free(w);
		h2_flush(c);
	}
	if (rm->waiting && !connecting(rm))
		open_connection(rm);
}

/* No connection to the remote can carry them: serve them here (why). */
static void fail_waiting(struct remote *rm, const char *why)
{
	char text[300];

	snprintf(text, sizeof(text), "remote %s: %s", rm->cfg.name, why);
	while (rm->waiting) {
		struct waiting *w = rm->waiting;

		rm->waiting = w->next;
		fall_back(rm->t, w->fd, text);
		rm->c.streams[SW_STREAM_no_answer]++;
		free(w);
	}
	rm->waiting_tail = &rm->waiting;
}

static void wait_for_connection(struct remote *rm, int fd,
				const char *authority, const char *forwarded)
{
	struct h2conn *c = rm->waiting ? NULL : pick(rm);
	struct waiting *w;

	if (c) {		/* the usual case: no queue to pass through */
		open_stream(rm, c, fd, authority, forwarded);
		h2_flush(c);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		sw_close_reset(fd);
		return;
	}
	w->fd = fd;
	snprintf(w->authority, sizeof(w->authority), "%s", authority);
	snprintf(w->forwarded, sizeof(w->forwarded), "%s", forwarded);
	*rm->waiting_tail = w;
	rm->waiting_tail = &w->next;
	serve_waiting(rm);
}

/* ------------------------------------------------------------------------
 * nghttp2 callbacks (user_data: the struct h2conn)
 */

static int on_header(nghttp2_session *s, const nghttp2_frame *frame,
		     const uint8_t *name, size_t namelen, const uint8_t *value,
		     size_t valuelen, uint8_t flags, void *user_data)
{
	struct relay *r = nghttp2_session_get_stream_user_data(s,
							       frame->hd.stream_id);

	(void)flags;
	(void)user_data;
	if (r && frame->hd.type == NGHTTP2_HEADERS && namelen == 7 &&
	    !memcmp(name, ":status", 7) && valuelen == 3)
		r->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 +
			    (value[2] - '0');
	return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *frame,
		    void *user_data)
{
	struct h2conn *c = user_data;
	struct remote *rm = c->owner;
	struct relay *r = nghttp2_session_get_stream_user_data(s,
							       frame->hd.stream_id);

	if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK)) {
		if (h2_accepts_streams(c))
			probed(rm, true);
		else		/* answered, but takes no new stream: no proof */
			rm->ping_sent_ns = 0;
		return 0;
	}
	if (frame->hd.type == NGHTTP2_GOAWAY) {
		gateway_draining(rm);
		return 0;
	}
	if (frame->hd.type == NGHTTP2_SETTINGS && !c->confirmed &&
	    !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
		/* The gateway accepted our certificate: usable now. */
		c->confirmed = true;
		c->deadline_ns = 0;
		rm->c.connections_open++;
		log_debug("remote %s: connected to %s as %s", rm->cfg.name, c->peer,
			  c->identity);
		probed(rm, true);
		serve_waiting(rm);
		return 0;
	}
	if (!r)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS && !r->established) {
		if (r->status != 200) {
			log_warn_limited("remote %s refused CONNECT %s for "
					 "%s: %d", rm->cfg.name, r->authority,
					 r->forwarded, r->status);
			relay_close(r, true);
			return 0;
		}
		relay_establish(r);
	}
	if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
		relay_on_end_stream(r);
	return 0;
}

/* ------------------------------------------------------------------------
 * Connections to a remote's gateway
 */

/* TLS is up; the gateway's SETTINGS (on_frame) will confirm it took us. */
static void conn_ready(struct h2conn *c)
{
	(void)c;
}

/* Labels of closes the tunnel decides itself: not a sign of ill health. */
#define CLOSE_IDLE "idle"
#define CLOSE_REMOVED "removed"

static void conn_closed(struct h2conn *c, const char *reason, const char *label)
{
	struct remote *rm = c->owner;
	bool was_open = c->confirmed;

	relay_abort_all(c);
	for (int i = 0; i < rm->n_conns; i++)
		if (rm->conns[i] == c)
			rm->conns[i] = rm->conns[--rm->n_conns];
	if (!strcmp(label, CLOSE_REMOVED) || !strcmp(label, CLOSE_IDLE)) {
		if (was_open)
			rm->c.connections_open--;
		return;
	}
	if (was_open) {
		rm->c.connections_open--;
		log_info("remote %s: connection to %s closed: %s", rm->cfg.name,
			 c->peer, reason);
	} else {
		rm->c.handshake_failures[sw_hs_reason_of(label)]++;
		log_warn("remote %s: %s", rm->cfg.name, reason);
	}
	probed(rm, false);
	if (!connecting(rm) && !pick(rm))
		fail_waiting(rm, reason);
}

static const struct h2_ops conn_ops = {
	.on_ready = conn_ready,
	.on_closed = conn_closed,
};

/* The gateway's address is not known: no connection this time (why). */
static void resolve_failed(struct remote *rm, const char *why)
{
	char text[SW_NAME_MAX + 128];

	snprintf(text, sizeof(text), "cannot resolve %s: %s",
		 rm->cfg.gateway.host, why);
	log_warn("remote %s: %s", rm->cfg.name, text);
	rm->c.handshake_failures[SW_HS_connect]++;
	probed(rm, false);
	if (!connecting(rm) && !pick(rm))
		fail_waiting(rm, text);
}

static void connect_gateway(struct remote *rm, const struct sockaddr_storage *ss,
			    socklen_t len)
{
	struct sw_tunnel *t = rm->t;
	struct sw_error e = {};
	struct h2conn *c;
	char timeout[48];
	SSL *ssl;
	int fd, err;

	if (rm->n_conns == SW_TUNNEL_POOL_MAX || !t->tls)
		return;
	fd = sw_agent_socket(ss->ss_family, t->bypass_mark);
	if (fd < 0) {
		log_error("remote %s: socket: %s", rm->cfg.name, strerror(-fd));
		return;
	}
	if ((err = sw_keepalive(fd, &rm->cfg.keepalive))) {
		close(fd);
		log_error("remote %s: cannot set TCP keepalive: %s", rm->cfg.name,
			  strerror(-err));
		return;
	}
	ssl = sw_tls_client(t->tls, fd, rm->cfg.gateway.host, &e);
	if (!ssl) {
		close(fd);
		log_error("remote %s: %s", rm->cfg.name, e.msg);
		return;
	}
	c = h2_client(t->loop, fd, ssl, (const struct sockaddr *)ss, len,
		      rm->cfg.connect_timeout_ns, t->cb, &conn_ops, rm);
	if (!c) {
		log_warn("remote %s: cannot connect to %s:%u: %s", rm->cfg.name,
			 rm->cfg.gateway.host, rm->cfg.gateway.port, strerror(errno));
		rm->c.handshake_failures[SW_HS_connect]++;
		probed(rm, false);
		return;
	}
	rm->conns[rm->n_conns++] = c;
	wake_at(t, c->deadline_ns);
	log_debug("remote %s: connecting to %s, up within %s", rm->cfg.name,
		  c->peer, sw_duration_format(rm->cfg.connect_timeout_ns, timeout,
					      sizeof(timeout)));
}

static void gateway_resolved(struct sw_lookup *l,
			     const struct sockaddr_storage *ss, socklen_t len,
			     const char *err)
{
	struct remote *rm = l->owner;

	if (ss)
		connect_gateway(rm, ss, len);
	else
		resolve_failed(rm, err);
}

/*
 * A new connection to the remote's gateway, once its name resolves (at
 * once from the resolver's cache, or later: the connect timeout bounds the
 * wait too, see tick).
 */
static void open_connection(struct remote *rm)
{
	struct sockaddr_storage ss;
	const char *why = NULL;
	socklen_t len;
	int rc;

	if (rm->n_conns == SW_TUNNEL_POOL_MAX || !rm->t->tls ||
	    sw_lookup_pending(&rm->lookup))
		return;
	rm->lookup.done = gateway_resolved;
	rm->lookup.owner = rm;
	rc = sw_resolve(rm->t->resolver, rm->cfg.gateway.host,
			rm->cfg.gateway.port, &rm->lookup, &ss, &len, &why);
	if (rc == -EINPROGRESS) {
		rm->lookup_deadline_ns = sw_now_ns() + rm->cfg.connect_timeout_ns;
		wake_at(rm->t, rm->lookup_deadline_ns);
	} else if (rc) {
		resolve_failed(rm, why);
	} else {
		connect_gateway(rm, &ss, len);
	}
}

/* ------------------------------------------------------------------------
 * The endpoint: connections the datapath steered here
 */

static struct remote *remote_by_id(struct sw_tunnel *t, __u32 id)
{
	for (int i = 0; i < t->n_remotes; i++)
		if (t->remotes[i]->id == id)
			return t->remotes[i];
	return NULL;
}

/*
 * The remote the datapath chose for this flow; if the flow is not in the
 * table (a race with the collector), the service's first healthy remote.
 * A service with one remote needs no lookup: it can only be that one.
 */
static struct remote *remote_for(struct sw_tunnel *t,
				 const struct sw_service_config_entry *svc,
				 const struct sw_flow_key *key)
{
	struct sw_flow f;

	if (svc->n_overflow_to == 1) {
		for (int i = 0; i < t->n_remotes; i++)
			if (!strcmp(t->remotes[i]->cfg.name, svc->overflow_to[0]))
				return t->remotes[i];
		return NULL;
	}
	if (!sw_flow_get(t->dp, key, &f) &&
	    f.decision == SW_REMOTE && remote_by_id(t, f.remote))
		return remote_by_id(t, f.remote);
	for (int k = 0; k < svc->n_overflow_to; k++)
		for (int i = 0; i < t->n_remotes; i++)
			if (!strcmp(t->remotes[i]->cfg.name, svc->overflow_to[k]) &&
			    t->remotes[i]->healthy)
				return t->remotes[i];
	return NULL;
}

static void steered(struct sw_tunnel *t, int fd,
		    const struct sockaddr_storage *peer)
{
	const struct sw_service_config_entry *svc;
	char client[SW_ADDR_STRLEN + 8] = "?", authority[RELAY_AUTHORITY_MAX];
	char forwarded[128], why[RELAY_AUTHORITY_MAX + 64];
	struct sw_flow_key key;
	struct remote *rm;

	if (sw_endpoint_flow(fd, peer, &key, NULL, client, sizeof(client)) || !t->cfg ||
	    !(svc = sw_config_service_reached(t->cfg, &key.svc))) {
		log_warn_limited("endpoint: a connection from %s to no "
				 "configured service: reset", client);
		sw_close_reset(fd);
		return;
	}
	key.svc = svc->key;	/* a NodePort's flow is keyed without the address */
	rm = remote_for(t, svc, &key);
	if (!rm) {
		snprintf(why, sizeof(why), "no remote of %s is healthy", svc->name);
		fall_back(t, fd, why);
		return;
	}
	snprintf(authority, sizeof(authority), "%s:%u", svc->name, svc->port);
	snprintf(forwarded, sizeof(forwarded), "for=\"%s\"", client);
	wait_for_connection(rm, fd, authority, forwarded);
}

static void on_accept(struct sw_io *io, uint32_t events)
{
	struct listener *l = (struct listener *)((char *)io -
						 offsetof(struct listener, l.io));

	(void)events;
	for (int n = 0; n < ACCEPT_BUDGET; n++) {
		struct sockaddr_storage peer;
		/* TCP_NODELAY: inherited from the listener */
		int fd = sw_listener_accept(&l->l, &peer);

		if (fd < 0)
			return;
		steered(l->t, fd, &peer);
	}
}

/* ------------------------------------------------------------------------
 * The pool and the probes, on the tunnel's timer
 */

/* Spare connections (all but one) with no stream for a while close. */
static void trim(struct remote *rm, __u64 now)
{
	for (int i = rm->n_conns - 1; i >= 0 && rm->n_conns > 1; i--) {
		struct h2conn *c = rm->conns[i];

		if (c->state == H2_OPEN && !c->streams && c->idle_since_ns &&
		    now > c->idle_since_ns + SW_TUNNEL_IDLE_TIMEOUT_S * NS_PER_S)
			h2_close(c, "idle", CLOSE_IDLE);
	}
}

static void probe(struct remote *rm, __u64 now)
{
	struct h2conn *c = pick(rm);

	if (rm->ping_sent_ns)		/* the last PING went unanswered */
		probed(rm, false);
	rm->next_probe_ns = now + rm->cfg.probe_interval_ns;
	/* Full ones are fine; one that had a GOAWAY takes no new stream. */
	for (int i = 0; i < rm->n_conns && !c; i++)
		if (h2_accepts_streams(rm->conns[i]))
			c = rm->conns[i];
	if (c) {
		rm->ping_sent_ns = now;
		nghttp2_submit_ping(c->session, NGHTTP2_FLAG_NONE, NULL);
		h2_flush(c);
	} else if (!connecting(rm)) {
		open_connection(rm);	/* its handshake is the probe */
	}
}

/* What is due now, and when the next thing is. */
static void tick(struct sw_tunnel *t, __u64 now)
{
	for (int i = 0; i < t->n_remotes; i++) {
		struct remote *rm = t->remotes[i];

		for (int k = rm->n_conns - 1; k >= 0; k--)
			h2_check_deadline(rm->conns[k], now);
		if (sw_lookup_pending(&rm->lookup) &&
		    now >= rm->lookup_deadline_ns) {
			sw_lookup_cancel(&rm->lookup);
			resolve_failed(rm, "no answer within the connect timeout");
		}
		if (now >= rm->next_probe_ns)
			probe(rm, now);
		judge(rm, now);		/* an ejection may have ended */
		trim(rm, now);
		wake_at(t, rm->next_probe_ns);
		if (!rm->healthy && rm->ejected_until_ns > now)
			wake_at(t, rm->ejected_until_ns);
		for (int k = 0; k < rm->n_conns; k++)
			if (!rm->conns[k]->confirmed && rm->conns[k]->deadline_ns)
				wake_at(t, rm->conns[k]->deadline_ns);
		if (sw_lookup_pending(&rm->lookup))
			wake_at(t, rm->lookup_deadline_ns);
	}
	wake_at(t, now + NS_PER_S);	/* idle spares close */
}

static void on_timer(struct sw_io *io, uint32_t events)
{
	struct sw_tunnel *t = (struct sw_tunnel *)((char *)io -
						   offsetof(struct sw_tunnel, timer));
	__u64 expirations;

	(void)events;
	if (read(io->fd, &expirations, sizeof(expirations)) < 0 &&
	    errno != EAGAIN)
		log_warn("tunnel: reading its timer: %s", strerror(errno));
	t->wake_ns = ~0ull;
	tick(t, sw_now_ns());
}

static int add_timer(struct sw_tunnel *t, struct sw_error *e)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd < 0 || sw_loop_add(t->loop, &t->timer, fd, EPOLLIN, on_timer)) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		return sw_fail(e, -err, "tunnel: cannot make its timer: %s",
			       strerror(err));
	}
	return 0;
}

/* ------------------------------------------------------------------------ */

static int make_callbacks(nghttp2_session_callbacks **cb)
{
	if (nghttp2_session_callbacks_new(cb))
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_header_callback(*cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(*cb, on_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(*cb,
		relay_on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(*cb,
		relay_on_stream_close);
	return 0;
}

struct sw_tunnel *sw_tunnel_new(struct sw_loop *loop,
				struct sw_resolver *resolver,
				struct sw_datapath *dp,
				const int endpoint_fd[2], __u32 bypass_mark,
				struct sw_error *e)
{
	struct sw_tunnel *t = calloc(1, sizeof(*t));

	if (!t || make_callbacks(&t->cb) ||
	    !(t->fallbacks = sw_fallbacks_new(loop, dp, bypass_mark))) {
		if (t && t->cb)
			nghttp2_session_callbacks_del(t->cb);
		free(t);
		sw_fail(e, -ENOMEM, "out of memory");
		return NULL;
	}
	t->loop = loop;
	t->resolver = resolver;
	t->dp = dp;
	t->bypass_mark = bypass_mark;
	t->timer.fd = -1;
	t->wake_ns = ~0ull;
	for (int i = 0; i < 2; i++)
		t->listen[i].l.io.fd = t->listen[i].l.resume.fd = -1;
	for (int i = 0; i < 2; i++) {
		int fd = fcntl(endpoint_fd[i], F_DUPFD_CLOEXEC, 0), err = 0;

		t->listen[i].t = t;
		if (fd < 0)
			sw_fail(e, -errno, "cannot duplicate the endpoint socket: "
				"%s", strerror(errno));
		else if ((err = sw_listener_open(&t->listen[i].l, loop, fd,
						 "endpoint", on_accept)))
			sw_fail(e, err, "cannot watch the endpoint socket: %s",
				strerror(-err));
		if (fd < 0 || err) {
			sw_tunnel_free(t);
			return NULL;
		}
	}
	if (add_timer(t, e)) {
		sw_tunnel_free(t);
		return NULL;
	}
	return t;
}

static void remote_free(struct remote *rm)
{
	sw_lookup_cancel(&rm->lookup);
	while (rm->n_conns)
		h2_close(rm->conns[0], "the remote was removed from the "
			 "configuration", CLOSE_REMOVED);
	fail_waiting(rm, "removed from the configuration");
	free(rm);
}

void sw_tunnel_free(struct sw_tunnel *t)
{
	if (!t)
		return;
	t->closing = true;
	for (int i = 0; i < t->n_remotes; i++)
		remote_free(t->remotes[i]);
	free(t->remotes);
	sw_fallbacks_free(t->fallbacks);
	for (int i = 0; i < 2; i++)
		sw_listener_close(&t->listen[i].l);
	sw_loop_close(t->loop, &t->timer);
	nghttp2_session_callbacks_del(t->cb);
	free(t);
}

int sw_tunnel_configure(struct sw_tunnel *t, const struct sw_config *cfg,
			const __u32 *remote_ids, struct sw_tls *tls,
			struct sw_error *e)
{
	struct remote **next = calloc(cfg->n_remotes + 1, sizeof(*next));
	__u64 now = sw_now_ns();

	if (!next)
		return sw_fail(e, -ENOMEM, "out of memory");
	for (int i = 0; i < cfg->n_remotes; i++) {
		const struct sw_remote_config *rc = &cfg->remotes[i];

		/* The same remote at the same gateway keeps its connections. */
		for (int k = 0; k < t->n_remotes && !next[i]; k++) {
			struct remote *rm = t->remotes[k];

			if (rm && !strcmp(rm->cfg.name, rc->name) &&
			    !memcmp(&rm->cfg.gateway, &rc->gateway, sizeof(rc->gateway))) {
				next[i] = rm;
				t->remotes[k] = NULL;
				/* A shorter interval counts from now. */
				if (rm->next_probe_ns > now + rc->probe_interval_ns)
					rm->next_probe_ns = now + rc->probe_interval_ns;
			}
		}
		if (!next[i]) {
			next[i] = calloc(1, sizeof(*next[i]));
			if (!next[i]) {
				for (int k = 0; k < i; k++)
					free(next[k]);
				free(next);
				return sw_fail(e, -ENOMEM, "out of memory");
			}
			next[i]->t = t;
			next[i]->waiting_tail = &next[i]->waiting;
			/* Unknown until probed: not healthy, no overflow. */
			next[i]->fails = 1;
		}
		/* New connections and the next probe follow the new settings. */
		next[i]->cfg = *rc;
		next[i]->id = remote_ids[i];
		next[i]->published = false;
	}
	for (int k = 0; k < t->n_remotes; k++)
		if (t->remotes[k])
			remote_free(t->remotes[k]);
	free(t->remotes);
	t->remotes = next;
	t->n_remotes = cfg->n_remotes;
	t->cfg = cfg;
	t->tls = tls;
	for (int i = 0; i < t->n_remotes; i++) {
		judge(t->remotes[i], now);
		wake_at(t, t->remotes[i]->next_probe_ns);
	}
	return 0;
}

void sw_tunnel_quiet(struct sw_tunnel *t)
{
	t->quiet = true;
}

unsigned int sw_tunnel_busy(const struct sw_tunnel *t)
{
	unsigned int n = 0;

	if (t)
		n += sw_fallback_counters(t->fallbacks)->open;
	for (int i = 0; t && i < t->n_remotes; i++) {
		n += t->remotes[i]->c.streams_open;
		for (struct waiting *w = t->remotes[i]->waiting; w; w = w->next)
			n++;
	}
	return n;
}

const struct sw_fallback_counters *sw_tunnel_fallbacks(const struct sw_tunnel *t)
{
	return t ? sw_fallback_counters(t->fallbacks) : NULL;
}

static struct remote *remote_named(const struct sw_tunnel *t, const char *name)
{
	for (int i = 0; t && i < t->n_remotes; i++)
		if (!strcmp(t->remotes[i]->cfg.name, name))
			return t->remotes[i];
	return NULL;
}

const struct sw_tunnel_counters *sw_tunnel_counters(struct sw_tunnel *t,
						    const char *name)
{
	struct remote *rm = remote_named(t, name);

	return rm ? &rm->c : NULL;
}

__u64 sw_tunnel_ejected_ns(const struct sw_tunnel *t, const char *name, __u64 now)
{
	struct remote *rm = remote_named(t, name);

	return rm && !rm->healthy && rm->ejected_until_ns > now ?
	       rm->ejected_until_ns - now : 0;
}
