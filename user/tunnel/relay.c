// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "tunnel/net.h"
#include "tunnel/relay.h"

/*
 * Bytes from the stream waiting for the socket. Small DATA frames are
 * appended to the tail chunk while it has room: one allocation per
 * RELAY_DOWN_CHUNK, not per frame, so however the peer frames its window,
 * what it costs is the window plus at most two part-used chunks.
 */
struct relay_chunk {
	struct relay_chunk *next;
	size_t off, len, cap;
	uint8_t data[];
};

static size_t chunk_size(const struct relay_chunk *c)
{
	return sizeof(*c) + c->cap;
}

static void free_head(struct relay *r)
{
	struct relay_chunk *c = r->down_head;

	r->down_head = c->next;
	if (!r->down_head)
		r->down_tail = NULL;
	r->counters->buffered_bytes -= chunk_size(c);
	free(c);
}

/*
 * Queue what the socket did not take, in the tail chunk first; a new
 * chunk holds at least RELAY_DOWN_CHUNK. 0, or -ENOMEM.
 */
static int queue_down(struct relay *r, const uint8_t *data, size_t len)
{
	struct relay_chunk *c = r->down_tail;
	size_t n = c ? c->cap - c->len : 0;

	n = n < len ? n : len;
	if (n) {
		memcpy(c->data + c->len, data, n);
		c->len += n;
	}
	if (n < len) {
		size_t rest = len - n;
		size_t cap = rest > RELAY_DOWN_CHUNK ? rest : RELAY_DOWN_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return -ENOMEM;
		c->next = NULL;
		c->off = 0;
		c->len = rest;
		c->cap = cap;
		memcpy(c->data, data + n, rest);
		if (r->down_tail)
			r->down_tail->next = c;
		else
			r->down_head = c;
		r->down_tail = c;
		r->counters->buffered_bytes += chunk_size(c);
	}
	r->down_bytes += len;
	return 0;
}

static struct relay *of_io(struct sw_io *io)
{
	return (struct relay *)((char *)io - offsetof(struct relay, io));
}

static void free_relay(struct sw_deferred *d)
{
	free((char *)d - offsetof(struct relay, grave));
}

static nghttp2_session *session(struct relay *r)
{
	return r->conn && r->conn->state == H2_OPEN ? r->conn->session : NULL;
}

/* Will the socket give the stream more now? */
static bool wants_read(const struct relay *r)
{
	return r->can_read && r->established && !r->closing && !r->sock_eof &&
	       r->up_off == r->up_len && r->io.fd >= 0;
}

/*
 * Input the socket reported and the relay could not take then: read it
 * in the next round (no edge-triggered event will come for it again),
 * after the other sockets' events: a busy stream does not hold them up.
 */
static void read_later(struct relay *r)
{
	if (wants_read(r))
		sw_loop_next_round(r->loop, &r->more);
}

/* The peer may send n more bytes: they left our hands for the socket. */
static void consume(struct relay *r, size_t n)
{
	nghttp2_session *s = session(r);

	if (!s || !n)
		return;
	if (r->stream_closed ||
	    nghttp2_session_consume(s, r->stream_id, n))
		nghttp2_session_consume_connection(s, n);
}

static void unlink_relay(struct relay *r)
{
	if (!r->conn)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		r->conn->relays = r->next;
	if (r->next)
		r->next->prev = r->prev;
	if (!--r->conn->streams)
		r->conn->idle_since_ns = sw_now_ns();
	r->prev = r->next = NULL;
}

void relay_close(struct relay *r, bool reset)
{
	nghttp2_session *s = session(r);

	if (r->closing)
		return;
	r->closing = true;
	sw_loop_cancel(r->loop, &r->more);
	sw_lookup_cancel(&r->lookup);
	if (s && r->stream_id > 0) {
		nghttp2_session_set_stream_user_data(s, r->stream_id, NULL);
		/*
		 * A stream we ended with a final response is the peer's to
		 * close: an RST now could overtake that response on the wire.
		 */
		if (!r->stream_closed && (reset || !r->answered))
			nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE,
						  r->stream_id,
						  reset ? NGHTTP2_CANCEL :
							  NGHTTP2_NO_ERROR);
	}
	if (!r->established && r->io.fd >= 0 && r->ops->on_unanswered) {
		int fd = sw_loop_forget(r->loop, &r->io);

		r->ops->on_unanswered(r, fd);
	}
	if (r->io.fd >= 0 && reset)
		sw_reset_on_close(r->io.fd);
	/* What was buffered for the socket is not coming: give it back. */
	consume(r, r->down_bytes);
	while (r->down_head)
		free_head(r);
	unlink_relay(r);
	sw_loop_close_sole(r->loop, &r->io);
	r->ops->on_done(r, reset);
	sw_loop_release(r->loop, &r->grave);
}

void relay_abort_all(struct h2conn *conn)
{
	while (conn->relays) {
		struct relay *r = conn->relays;

		unlink_relay(r);
		r->conn = NULL;
		relay_close(r, true);
	}
}

/* Write queued bytes to the socket; then the half-close, or the end. */
static void drain_down(struct relay *r)
{
	while (r->down_head) {
		struct relay_chunk *c = r->down_head;
		ssize_t n = send(r->io.fd, c->data + c->off, c->len - c->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				r->can_write = false;	/* EPOLLOUT will say */
			else
				relay_close(r, true);
			return;
		}
		c->off += n;
		r->down_bytes -= n;
		r->counters->bytes_received += n;
		consume(r, n);
		if (c->off < c->len) {
			r->can_write = false;	/* full: EPOLLOUT will say */
			return;
		}
		free_head(r);
	}
	if (r->peer_eof && !r->shut_wr) {
		shutdown(r->io.fd, SHUT_WR);
		r->shut_wr = true;
	}
	if (r->stream_closed)
		relay_close(r, false);
}

/*
 * Read one chunk for the stream; the bytes read (0: none, at the end, or
 * on an error). A read that did not fill the buffer emptied the socket:
 * the next would only say EAGAIN, and new bytes raise an event. If the
 * peer's FIN had arrived before it (hup), it took the last bytes: the
 * stream ends with them, in one DATA frame, not with an empty one after
 * another read.
 */
static size_t read_up(struct relay *r)
{
	ssize_t n = recv(r->io.fd, r->up, sizeof(r->up), MSG_DONTWAIT);
	nghttp2_session *s = session(r);

	if (n < 0) {
		r->can_read = false;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			relay_close(r, true);	/* ECONNRESET: pass it on */
		return 0;
	}
	if ((size_t)n < sizeof(r->up))
		r->can_read = false;
	if (n == 0 || (r->hup && (size_t)n < sizeof(r->up)))
		r->sock_eof = true;
	r->up_off = 0;
	r->up_len = n;
	if (s)
		nghttp2_session_resume_data(s, r->stream_id);
	return n;
}

/*
 * Move socket data into the stream while the stream takes it: read a
 * chunk, let nghttp2 frame it (pack), read the next. One readiness event
 * then carries many chunks instead of one.
 */
static void pump_up(struct relay *r)
{
	for (int i = 0; i < RELAY_CHUNKS_PER_EVENT; i++) {
		if (!wants_read(r) || !read_up(r) || !r->conn)
			return;
		h2_pack(r->conn);
	}
	read_later(r);	/* more than one event's worth */
}

/* Whatever the socket allows and the relay's state lets it do. */
static void move(struct relay *r)
{
	if (r->can_write && r->down_head)
		drain_down(r);
	pump_up(r);
}

static void move_later(struct sw_task *t)
{
	struct relay *r = (struct relay *)((char *)t -
					   offsetof(struct relay, more));

	move(r);
	if (r->conn)
		h2_flush(r->conn);
}

static void on_socket(struct sw_io *io, uint32_t events)
{
	struct relay *r = of_io(io);
	struct h2conn *conn = r->conn;
	int err = 0;

	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		r->can_read = true;
	if (events & (EPOLLRDHUP | EPOLLHUP))
		r->hup = true;
	if (events & EPOLLOUT)
		r->can_write = true;
	if (r->connecting) {
		/* A failed connect raises EPOLLERR: no error to ask for else. */
		if (events & (EPOLLERR | EPOLLHUP))
			getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err,
				   &(socklen_t){ sizeof(err) });
		if (!err && !(events & EPOLLOUT))
			return;
		r->connecting = false;
		r->ops->on_connected(r, err);
	} else if (!r->established && (events & (EPOLLERR | EPOLLHUP))) {
		/* The socket died before its stream was up (always reported). */
		relay_close(r, true);
	} else {
		move(r);
	}
	if (conn)
		h2_flush(conn);
}

/* nghttp2 pulls the stream's next DATA from here. */
static ssize_t provide(nghttp2_session *s, int32_t id, uint8_t *buf,
		       size_t len, uint32_t *flags, nghttp2_data_source *src,
		       void *user_data)
{
	struct relay *r = nghttp2_session_get_stream_user_data(s, id);
	size_t avail;

	(void)src;
	(void)user_data;
	if (!r || r->closing || !r->established)
		return NGHTTP2_ERR_DEFERRED;
	avail = r->up_len - r->up_off;
	if (avail) {
		size_t n = avail < len ? avail : len;

		memcpy(buf, r->up + r->up_off, n);
		r->up_off += n;
		r->counters->bytes_sent += n;
		if (r->up_off == r->up_len) {
			if (r->sock_eof)	/* the last bytes */
				*flags |= NGHTTP2_DATA_FLAG_EOF;
			read_later(r);	/* room again, for more input */
		}
		return n;
	}
	if (r->sock_eof) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		return 0;
	}
	return NGHTTP2_ERR_DEFERRED;
}

nghttp2_data_provider relay_provider(struct relay *r)
{
	return (nghttp2_data_provider){ .source.ptr = r, .read_callback = provide };
}

struct relay *relay_new(struct sw_loop *loop, struct h2conn *conn, int fd,
			const struct relay_ops *ops, void *owner,
			struct sw_tunnel_counters *counters)
{
	struct relay *r = malloc(sizeof(*r));

	if (!r)
		return NULL;
	memset(r, 0, offsetof(struct relay, up));
	r->more.run = move_later;
	r->loop = loop;
	r->conn = conn;
	r->ops = ops;
	r->owner = owner;
	r->counters = counters;
	r->io.fd = -1;
	r->grave.free = free_relay;
	if (fd >= 0 && relay_attach(r, fd, false)) {
		free(r);
		return NULL;
	}
	r->next = conn->relays;
	if (r->next)
		r->next->prev = r;
	conn->relays = r;
	conn->streams++;
	return r;
}

int relay_attach(struct relay *r, int fd, bool connecting)
{
	int err = sw_loop_add(r->loop, &r->io, fd, EPOLLIN | EPOLLOUT |
			      EPOLLRDHUP | EPOLLET, on_socket);

	if (err)
		return err;
	r->connecting = connecting;
	return 0;
}

void relay_establish(struct relay *r)
{
	nghttp2_session *s = session(r);

	r->established = true;
	if (r->peer_eof)	/* END_STREAM came with the request */
		relay_on_end_stream(r);
	/*
	 * What the stream sent meanwhile; bytes the socket had before the
	 * answer (no event will repeat them), framed by the connection's
	 * flush after this batch with the other streams' frames.
	 */
	if (r->can_write && r->down_head)
		drain_down(r);
	if (wants_read(r))
		read_up(r);
	if (s && !r->closing)
		nghttp2_session_resume_data(s, r->stream_id);
}

int relay_on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id,
			const uint8_t *data, size_t len, void *user_data)
{
	struct relay *r = nghttp2_session_get_stream_user_data(s, id);
	ssize_t n = 0;

	(void)user_data;
	if (!r || r->closing) {
		nghttp2_session_consume_connection(s, len);
		return 0;
	}
	/*
	 * Data may come right after the CONNECT, before the target is
	 * connected: it waits in the queue, unacknowledged, so the peer's
	 * window bounds it.
	 */
	if (!r->down_head && r->established && r->io.fd >= 0) {
		/*
		 * The stream's last bytes: the FIN (relay_on_end_stream)
		 * follows at once, and leaves with them in one segment.
		 */
		int more = flags & NGHTTP2_FLAG_END_STREAM ? MSG_MORE : 0;

		n = send(r->io.fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT | more);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			nghttp2_session_consume_connection(s, len);
			relay_close(r, true);
			return 0;
		}
		n = n < 0 ? 0 : n;
		if ((size_t)n < len)
			r->can_write = false;	/* full: EPOLLOUT will say */
		r->counters->bytes_received += n;
		consume(r, n);
	}
	if ((size_t)n == len)
		return 0;
	/* The socket is full: hold the rest (at most a stream window). */
	if (queue_down(r, data + n, len - n))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return 0;
}

void relay_on_end_stream(struct relay *r)
{
	r->peer_eof = true;
	if (!r->established)
		return;
	if (!r->down_bytes && r->io.fd >= 0 && !r->connecting && !r->shut_wr) {
		shutdown(r->io.fd, SHUT_WR);
		r->shut_wr = true;
	}
}

int relay_on_stream_close(nghttp2_session *s, int32_t id, uint32_t error,
			  void *user_data)
{
	struct relay *r = nghttp2_session_get_stream_user_data(s, id);

	(void)user_data;
	if (!r)
		return 0;
	r->stream_closed = true;
	if (error != NGHTTP2_NO_ERROR || !r->established || r->io.fd < 0)
		relay_close(r, error != NGHTTP2_NO_ERROR);
	else if (!r->down_bytes)
		drain_down(r);	/* nothing left: shut down, then close */
	return 0;
}
