// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <openssl/err.h>

#include "lib/addr.h"
#include "lib/text.h"
#include "lib/clock.h"
#include "lib/util.h"
#include "tunnel/h2.h"
#include "tunnel/tls.h"

/* At most this much is read per readiness event, so one busy connection
 * cannot starve the others. */
#define READ_BUDGET (256u << 10)
#define READ_BUFFER (64u << 10)
/*
 * TLS reads ahead into a buffer of this size: one read() takes several
 * records from the socket instead of two reads (header, body) per record.
 */
#define READ_AHEAD (64u << 10)

static struct h2conn *of_io(struct sw_io *io)
{
	return (struct h2conn *)((char *)io - offsetof(struct h2conn, io));
}

static void free_conn(struct sw_deferred *d)
{
	struct h2conn *c = (struct h2conn *)((char *)d -
					      offsetof(struct h2conn, grave));

	free(c->out);
	free(c);
}

/*
 * Close without resetting: unread input at close() makes the kernel send an
 * RST, which can destroy the TLS alert just sent (the peer would see a
 * reset instead of why it was refused).
 */
static void close_gently(int fd)
{
	char buf[4096];

	shutdown(fd, SHUT_WR);
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

void h2_close(struct h2conn *c, const char *reason, const char *label)
{
	if (c->state == H2_CLOSED)
		return;
	if (c->io.fd >= 0 && c->state != H2_CONNECTING)
		close_gently(c->io.fd);
	c->state = H2_CLOSED;
	sw_loop_cancel(c->loop, &c->more);
	/* The owner closes the streams while the session still exists. */
	c->ops->on_closed(c, reason, label);
	nghttp2_session_del(c->session);
	c->session = NULL;
	SSL_free(c->ssl);
	c->ssl = NULL;
	sw_loop_close(c->loop, &c->io);
	sw_loop_release(c->loop, &c->grave);
}

static bool may_read(struct h2conn *c)
{
	return c->state != H2_OPEN || !c->ops->may_read || c->ops->may_read(c);
}

static void watch(struct h2conn *c, bool want_write)
{
	bool in = may_read(c);

	sw_loop_watch(c->loop, &c->io, (in ? EPOLLIN : 0) |
				       (want_write ? EPOLLOUT : 0));
	/* Resumed with input TLS read ahead: no event will say so. */
	if (in && c->state == H2_OPEN && SSL_has_pending(c->ssl))
		sw_loop_next_round(c->loop, &c->more);
}

/* Why TLS stopped a connection, taken while OpenSSL's error queue has it. */
struct ssl_failure {
	char reason[400];
	const char *label;
};

/*
 * A fatal OpenSSL error on the connection, in words; false if ret was no
 * failure (TLS wants to read or write). Before the peer confirmed us it is
 * how a TLS 1.3 server's refusal of our certificate arrives: a handshake
 * failure, with its reason.
 */
static bool ssl_failure(struct h2conn *c, const char *what, int ret,
			struct ssl_failure *f)
{
	char detail[256];
	int err = SSL_get_error(c->ssl, ret);

	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
		return false;
	if (!c->confirmed && err != SSL_ERROR_ZERO_RETURN) {
		f->label = sw_tls_failure(c->ssl, detail, sizeof(detail));
		snprintf(f->reason, sizeof(f->reason),
			 "TLS handshake with %s failed: %s", c->peer, detail);
	} else if (err == SSL_ERROR_ZERO_RETURN ||
		   (err == SSL_ERROR_SYSCALL && !ERR_peek_error())) {
		f->label = "closed";
		snprintf(f->reason, sizeof(f->reason),
			 "the peer closed the connection");
	} else {
		f->label = "error";
		snprintf(detail, sizeof(detail), "%s",
			 ERR_reason_error_string(ERR_peek_last_error()) ?:
			 strerror(errno));
		snprintf(f->reason, sizeof(f->reason), "%s: %s", what, detail);
	}
	ERR_clear_error();
	return true;
}

static void ssl_fail(struct h2conn *c, const char *what, int ret)
{
	struct ssl_failure f;

	if (ssl_failure(c, what, ret, &f))
		h2_close(c, f.reason, f.label);
}

/* Write the batch through TLS. 0: all of it; 1: the socket is full (the
 * rest stays for the next EPOLLOUT); -1: the connection failed. */
static int write_out(struct h2conn *c)
{
	while (c->out_off < c->out_len) {
		int n, err;

		ERR_clear_error();
		n = SSL_write(c->ssl, c->out + c->out_off, c->out_len - c->out_off);
		if (n > 0) {
			c->out_off += n;
			continue;
		}
		err = SSL_get_error(c->ssl, n);
		if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ)
			return 1;
		ssl_fail(c, "writing", n);
		return -1;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

/* Collect frames from nghttp2 into a batch of up to H2_WRITE_BATCH. */
static int fill(struct h2conn *c)
{
	while (c->out_len < H2_WRITE_BATCH) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(c->session, &data);

		if (n <= 0)
			return n;
		if (c->out_len + n > c->out_cap) {
			size_t cap = c->out_len + n + H2_WRITE_BATCH;
			uint8_t *p = realloc(c->out, cap);

			if (!p)
				return NGHTTP2_ERR_NOMEM;
			c->out = p;
			c->out_cap = cap;
		}
		memcpy(c->out + c->out_len, data, n);
		c->out_len += n;
	}
	return 0;
}

static void flush_now(struct sw_task *t)
{
	struct h2conn *c = (struct h2conn *)((char *)t -
					     offsetof(struct h2conn, flush));
	int r, err;

	if (c->state != H2_OPEN)
		return;
	for (;;) {
		r = write_out(c);
		if (r < 0)
			return;
		if (r > 0) {
			watch(c, true);
			return;
		}
		err = fill(c);
		if (err) {
			h2_close(c, nghttp2_strerror(err), "protocol");
			return;
		}
		if (!c->out_len)
			break;
	}
	if (!nghttp2_session_want_read(c->session) &&
	    !nghttp2_session_want_write(c->session)) {
		h2_close(c, "the session ended (GOAWAY)", "closed");
		return;
	}
	watch(c, false);
}

void h2_flush(struct h2conn *c)
{
	if (c->state == H2_OPEN)
		sw_loop_later(c->loop, &c->flush);
}

void h2_pack(struct h2conn *c)
{
	int err;

	if (c->state != H2_OPEN)
		return;
	err = fill(c);
	if (err) {
		h2_close(c, nghttp2_strerror(err), "protocol");
		return;
	}
	if (c->out_len - c->out_off >= H2_WRITE_BATCH && write_out(c) > 0)
		watch(c, true);
	h2_flush(c);
}

/*
 * Decrypt into buf until it is full or TLS has no more; returns the bytes
 * decrypted. *failed: TLS stopped for good, and why (f).
 */
static size_t decrypt(struct h2conn *c, uint8_t *buf, size_t cap,
		      bool *failed, struct ssl_failure *f)
{
	size_t len = 0;

	*failed = false;
	while (len < cap) {
		int n;

		ERR_clear_error();
		n = SSL_read(c->ssl, buf + len, cap - len);
		if (n <= 0) {
			*failed = ssl_failure(c, "reading", n, f);
			break;
		}
		len += n;
	}
	return len;
}

/*
 * Records are taken a buffer at a time before HTTP/2 sees them, so a DATA
 * frame split across records still reaches its stream (and its socket) in
 * one piece: record by record, every frame was two sends to the target.
 * What was decrypted before a failure (a GOAWAY, say) is handled first.
 * failing: the socket reported an error or hang-up, which epoll repeats
 * until it is read: read it even while the owner wants no input.
 */
static void read_in(struct h2conn *c, bool failing)
{
	uint8_t buf[READ_BUFFER];
	size_t budget = READ_BUDGET;

	while (budget && c->state == H2_OPEN && (failing || may_read(c))) {
		struct ssl_failure f;
		bool failed;
		size_t len = decrypt(c, buf, sizeof(buf), &failed, &f);

		if (len) {
			ssize_t used = nghttp2_session_mem_recv(c->session, buf, len);

			if (used < 0) {
				h2_close(c, nghttp2_strerror(used), "protocol");
				return;
			}
			budget -= len < budget ? len : budget;
		}
		if (failed)
			h2_close(c, f.reason, f.label);
		if (len < sizeof(buf))
			return;
	}
	/* Input read ahead raises no event of its own: come back for it. */
	if (c->state == H2_OPEN && may_read(c) && SSL_has_pending(c->ssl))
		sw_loop_next_round(c->loop, &c->more);
}

static void read_more(struct sw_task *t)
{
	struct h2conn *c = (struct h2conn *)((char *)t -
					     offsetof(struct h2conn, more));

	if (c->state != H2_OPEN)
		return;
	read_in(c, false);
	h2_flush(c);
}

static int open_session(struct h2conn *c)
{
	nghttp2_settings_entry settings[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16384 },
	};
	nghttp2_option *opt;
	int err;

	if (nghttp2_option_new(&opt))
		return -ENOMEM;
	nghttp2_option_set_no_auto_window_update(opt, 1);
	err = c->server ?
		nghttp2_session_server_new2(&c->session, c->callbacks, c, opt) :
		nghttp2_session_client_new2(&c->session, c->callbacks, c, opt);
	nghttp2_option_del(opt);
	if (err)
		return err;
	err = nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings,
				      ARRAY_SIZE(settings));
	if (!err)
		err = nghttp2_session_set_local_window_size(c->session,
			NGHTTP2_FLAG_NONE, 0, H2_CONNECTION_WINDOW);
	return err;
}

static void handshake(struct h2conn *c)
{
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;
	char detail[256], reason[400];
	int r, err;

	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r != 1) {
		err = SSL_get_error(c->ssl, r);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
			watch(c, err == SSL_ERROR_WANT_WRITE);
			return;
		}
		const char *label = sw_tls_failure(c->ssl, detail, sizeof(detail));

		snprintf(reason, sizeof(reason), "TLS handshake with %s failed: %s",
			 c->peer, detail);
		h2_close(c, reason, label);
		return;
	}
	SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
	if (alpn_len != 2 || memcmp(alpn, SW_TLS_ALPN, 2)) {
		snprintf(reason, sizeof(reason), "%s did not agree on ALPN h2",
			 c->peer);
		h2_close(c, reason, "no_alpn");
		return;
	}
	sw_tls_peer_identity(c->ssl, c->identity, sizeof(c->identity));
	if (open_session(c)) {
		h2_close(c, "cannot start an HTTP/2 session", "error");
		return;
	}
	c->state = H2_OPEN;
	c->confirmed = c->server;
	/* A client keeps its deadline until the server confirms it. */
	if (c->server)
		c->deadline_ns = 0;
	c->idle_since_ns = sw_now_ns();
	c->ops->on_ready(c);
	/* The peer's first frames may have been read with the handshake. */
	if (c->state == H2_OPEN && SSL_has_pending(c->ssl))
		read_in(c, false);
	h2_flush(c);
}

static void on_event(struct sw_io *io, uint32_t events)
{
	struct h2conn *c = of_io(io);
	char reason[256];
	int err = 0;

	if (c->state == H2_CONNECTING) {
		getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err,
			   &(socklen_t){ sizeof(err) });
		if (err) {
			snprintf(reason, sizeof(reason), "cannot connect to %s: %s",
				 c->peer, strerror(err));
			h2_close(c, reason, "connect");
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		c->state = H2_HANDSHAKE;
	}
	if (c->state == H2_HANDSHAKE) {
		handshake(c);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		read_in(c, events & (EPOLLHUP | EPOLLERR));
	h2_flush(c);
}

static struct h2conn *make(struct sw_loop *loop, SSL *ssl, bool server, uint64_t timeout_ns,
			   const nghttp2_session_callbacks *cb,
			   const struct h2_ops *ops, void *owner)
{
	struct h2conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->loop = loop;
	c->ssl = ssl;
	c->server = server;
	c->timeout_ns = timeout_ns;
	c->deadline_ns = sw_now_ns() + timeout_ns;
	c->callbacks = cb;
	c->ops = ops;
	c->owner = owner;
	c->grave.free = free_conn;
	c->flush.run = flush_now;
	c->more.run = read_more;
	/* Buffers are freed while empty: an idle pooled connection holds none. */
	SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			  SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
	SSL_set_read_ahead(ssl, 1);
	SSL_set_default_read_buffer_len(ssl, READ_AHEAD);
	return c;
}

static void describe_peer(struct h2conn *c, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len))
		snprintf(c->peer, sizeof(c->peer), "?");
	else
		sw_sockaddr_format(&ss, c->peer, sizeof(c->peer));
}

struct h2conn *h2_client(struct sw_loop *loop, int fd, SSL *ssl,
			 const struct sockaddr *sa, socklen_t len,
			 uint64_t timeout_ns,
			 const nghttp2_session_callbacks *cb,
			 const struct h2_ops *ops, void *owner)
{
	struct h2conn *c = make(loop, ssl, false, timeout_ns, cb, ops, owner);

	if (!c || (connect(fd, sa, len) && errno != EINPROGRESS) ||
	    sw_loop_add(loop, &c->io, fd, EPOLLOUT, on_event)) {
		int err = errno;

		free(c);
		SSL_free(ssl);
		close(fd);
		errno = err;
		return NULL;
	}
	sw_sockaddr_format((const struct sockaddr_storage *)sa, c->peer,
			   sizeof(c->peer));
	c->state = H2_CONNECTING;
	return c;
}

struct h2conn *h2_server(struct sw_loop *loop, int fd, SSL *ssl,
			 uint64_t timeout_ns,
			 const nghttp2_session_callbacks *cb,
			 const struct h2_ops *ops, void *owner)
{
	struct h2conn *c = make(loop, ssl, true, timeout_ns, cb, ops, owner);

	if (!c || sw_loop_add(loop, &c->io, fd, EPOLLIN, on_event)) {
		free(c);
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	describe_peer(c, fd);
	c->state = H2_HANDSHAKE;
	return c;
}

bool h2_accepts_streams(const struct h2conn *c)
{
	return c->state == H2_OPEN && c->confirmed &&
	       nghttp2_session_check_request_allowed(c->session);
}

void h2_goaway(struct h2conn *c)
{
	if (c->state != H2_OPEN || c->goaway == 2)
		return;
	if (c->goaway++)
		nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
				      nghttp2_session_get_last_proc_stream_id(c->session),
				      NGHTTP2_NO_ERROR, NULL, 0);
	else
		nghttp2_submit_shutdown_notice(c->session);
	h2_flush(c);
}

void h2_check_deadline(struct h2conn *c, uint64_t now_ns)
{
	char reason[200], timeout[48];

	if (c->state == H2_CLOSED || c->confirmed || !c->deadline_ns ||
	    now_ns < c->deadline_ns)
		return;
	snprintf(reason, sizeof(reason), "%s with %s did not finish within %s",
		 c->state == H2_CONNECTING ? "connecting" :
		 c->state == H2_HANDSHAKE ? "the TLS handshake" :
		 "waiting for the peer's SETTINGS", c->peer,
		 sw_duration_format(c->timeout_ns, timeout, sizeof(timeout)));
	h2_close(c, reason, "timeout");
}
