/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One HTTP/2 connection over TLS, either end, on the agent's loop: the
 * non-blocking connect, the TLS handshake (with a deadline), and the pump
 * between the socket, OpenSSL and nghttp2. What streams mean is the owner's
 * business (the tunnel client, the gateway): it gives the nghttp2 callbacks
 * (their user_data is the struct h2conn) and is told when the connection is
 * up and when it is gone.
 *
 * Flow control is the application's: nghttp2 never sends WINDOW_UPDATE on
 * its own; a relay consumes what it has written to its socket. Windows are
 * ztunnel's: 4 MiB per stream, 16 MiB per connection.
 */
#ifndef SW_TUNNEL_H2_H
#define SW_TUNNEL_H2_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "lib/loop.h"

#define H2_STREAM_WINDOW (4u << 20)
#define H2_CONNECTION_WINDOW (16u << 20)
#define H2_MAX_STREAMS 100	/* per connection, as ztunnel */
#define H2_WRITE_BATCH (64u << 10)

enum h2_state {
	H2_CONNECTING,		/* TCP connect in progress (client) */
	H2_HANDSHAKE,		/* TLS handshake */
	H2_OPEN,
	H2_CLOSED,
};

struct h2conn;
struct relay;

struct h2_ops {
	void (*on_ready)(struct h2conn *c);
	/* Gone, after on_ready or before it; reason for logs and metrics. */
	void (*on_closed)(struct h2conn *c, const char *reason,
			  const char *label);
	/*
	 * Optional: may the connection be read now? While false its socket
	 * is not read (the peer's frames wait in the kernel, then in its own
	 * buffers); asked whenever the connection is watched again, after
	 * every flush (h2_flush).
	 */
	bool (*may_read)(struct h2conn *c);
};

struct h2conn {
	struct sw_io io;
	struct sw_deferred grave;
	struct sw_task flush;		/* h2_flush: one write per batch */
	struct sw_task more;		/* read on: TLS holds input already read */
	struct sw_loop *loop;
	SSL *ssl;
	nghttp2_session *session;
	bool server;
	enum h2_state state;
	uint64_t timeout_ns;		/* connect + handshake must take no longer */
	uint64_t deadline_ns;		/* so they must end by then */
	/*
	 * Frames go to TLS in batches: a full DATA frame (16384 + 9 bytes)
	 * is just over one TLS record, so frame by frame every frame would
	 * cost two records and two writes. out holds the batch until
	 * SSL_write has taken all of it.
	 */
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	const struct h2_ops *ops;
	const nghttp2_session_callbacks *callbacks;
	void *owner;
	void *owner_data;		/* the owner's, per connection */
	/*
	 * The peer has accepted us. A TLS 1.3 client finishes its handshake
	 * before the server has judged its certificate; a refusal arrives as
	 * an alert on the first read. So a client connection is confirmed by
	 * the server's SETTINGS (its owner sets this), a server connection by
	 * its handshake.
	 */
	bool confirmed;
	int goaway;			/* GOAWAYs sent: 0, 1 (notice), 2 */
	int streams;			/* open streams (relays) */
	/* Streams ended, and of them ended by the peer before an answer. */
	unsigned int streams_ended, premature_resets;
	struct relay *relays;		/* this connection's streams */
	uint64_t idle_since_ns;		/* when streams last fell to 0 */
	char peer[96];			/* address, for logs */
	char identity[256];		/* the peer's TLS identity once known */
};

/*
 * Client: connect to sa with ssl (already made for this fd by sw_tls_client;
 * fd non-blocking, connect not yet called). Server: ssl made by
 * sw_tls_server on an accepted fd. Either must be up within timeout_ns
 * (h2_check_deadline). Returns NULL with errno on failure (the fd and ssl
 * are then freed).
 */
struct h2conn *h2_client(struct sw_loop *loop, int fd, SSL *ssl,
			 const struct sockaddr *sa, socklen_t len,
			 uint64_t timeout_ns,
			 const nghttp2_session_callbacks *cb,
			 const struct h2_ops *ops, void *owner);
struct h2conn *h2_server(struct sw_loop *loop, int fd, SSL *ssl,
			 uint64_t timeout_ns,
			 const nghttp2_session_callbacks *cb,
			 const struct h2_ops *ops, void *owner);

/* Send what nghttp2 has queued (call after submitting frames), once the
 * current batch of events is handled: frames of many streams, one write. */
void h2_flush(struct h2conn *c);

/* Close now: on_closed is called, memory is freed after the batch. */
void h2_close(struct h2conn *c, const char *reason, const char *label);

/*
 * Frame what nghttp2 has queued now, writing only a full batch; the rest
 * leaves with the flush. For a relay that reads its socket chunk by chunk:
 * the next chunk is read once nghttp2 has taken this one.
 */
void h2_pack(struct h2conn *c);

/* May a new stream (a CONNECT) start here? Not after a GOAWAY either way. */
bool h2_accepts_streams(const struct h2conn *c);

/*
 * Ask the peer to open no more streams, in the two steps RFC 9113 (6.8)
 * advises; call it again a round trip or more later for the second. The
 * first GOAWAY carries the largest stream id (streams the peer has sent
 * meanwhile are still served), the second the last one processed. Live
 * streams go on; the connection closes itself when they are done.
 */
void h2_goaway(struct h2conn *c);

/* Close if the deadline of a connect or handshake has passed. */
void h2_check_deadline(struct h2conn *c, uint64_t now_ns);

#endif /* SW_TUNNEL_H2_H */
