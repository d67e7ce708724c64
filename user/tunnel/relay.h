/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A relay: one TCP socket and one HTTP/2 CONNECT stream, bytes both ways.
 * The tunnel client's relay holds the steered client connection; the
 * gateway's holds its connection to the exported target.
 *
 * Backpressure, never unbounded buffering: the socket is read only when the
 * previous chunk went into a DATA frame, and what the peer sends is
 * acknowledged to it (WINDOW_UPDATE) only once written to the socket, so at
 * most one stream window is ever held. Half-close and reset cross over: a
 * FIN becomes END_STREAM and END_STREAM a shutdown(SHUT_WR); an RST becomes
 * RST_STREAM and RST_STREAM an RST.
 *
 * The socket is watched edge-triggered, for everything, once: an event
 * says what it can do now (can_read, can_write), and the relay acts when
 * its state lets it (no epoll_ctl per change of mind: one per connection
 * instead of four).
 */
#ifndef SW_TUNNEL_RELAY_H
#define SW_TUNNEL_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <nghttp2/nghttp2.h>

#include "tunnel/h2.h"
#include "lib/loop.h"
#include "lib/resolve.h"
#include "tunnel/tunnel_stats.h"

/* Per recv(): four DATA frames (malloc'd pages are touched only as data comes). */
#define RELAY_CHUNK (64u << 10)
#define RELAY_CHUNKS_PER_EVENT 4	/* 256 KiB per readiness event at most */
/* Stream -> socket: buffered in chunks of at least this (see relay.c). */
#define RELAY_DOWN_CHUNK (16u << 10)
#define RELAY_AUTHORITY_MAX 300

struct relay_chunk;

struct relay_ops {
	/* The socket's connect (gateway side) finished; err 0 or an errno. */
	void (*on_connected)(struct relay *r, int err);
	/* The relay is gone: reset if either side was reset. */
	void (*on_done)(struct relay *r, bool reset);
	/*
	 * Optional: the relay ends before its stream was answered with a 200
	 * (refused, reset, connection lost), so no byte has moved. The socket
	 * is handed over (fd) instead of being reset; called before on_done.
	 */
	void (*on_unanswered)(struct relay *r, int fd);
};

struct relay {
	struct sw_io io;
	struct sw_deferred grave;
	struct sw_task more;		/* move what the socket allows, later */
	struct sw_loop *loop;
	struct h2conn *conn;		/* NULL once the connection is gone */
	struct relay *prev, *next;	/* in conn->relays */
	int32_t stream_id;
	const struct relay_ops *ops;
	void *owner;

	bool connecting;		/* gateway: connect() in progress */
	bool established;		/* 200 sent or received: data flows */
	bool sock_eof;			/* the socket's side finished (FIN read) */
	bool peer_eof;			/* END_STREAM received */
	bool shut_wr;			/* shutdown(SHUT_WR) done */
	bool stream_closed;
	bool answered;			/* we sent a final response with END_STREAM */
	bool closing;
	/* What the last events said, until a read or write finds otherwise. */
	bool can_read, can_write;
	bool hup;			/* the peer's FIN has arrived (EPOLLRDHUP) */

	size_t up_off, up_len;		/* of up[], socket -> stream */
	struct relay_chunk *down_head, *down_tail; /* stream -> socket */
	size_t down_bytes;
	/*
	 * Counted as they move: up (socket -> stream) is sent to the other
	 * cluster, down received from it, at either end of the tunnel.
	 */
	struct sw_tunnel_counters *counters;

	/* The request, as the gateway received it or the client sent it. */
	char authority[RELAY_AUTHORITY_MAX];
	char forwarded[128];
	char method[16];
	size_t header_bytes;
	int status;			/* response status, once known */
	uint64_t deadline_ns;		/* gateway: the target connect's */
	struct sw_lookup lookup;	/* gateway: the target's name */
	/* gateway: resolved, waiting for the peer's connect rate */
	bool waiting;
	struct sockaddr_storage target;
	socklen_t target_len;

	uint8_t up[RELAY_CHUNK];	/* last: never needs zeroing */
};

/* A relay on conn for socket fd (-1: none yet; see relay_attach). */
struct relay *relay_new(struct sw_loop *loop, struct h2conn *conn, int fd,
			const struct relay_ops *ops, void *owner,
			struct sw_tunnel_counters *counters);
/* Give a relay its socket; connecting: wait for connect() to finish. */
int relay_attach(struct relay *r, int fd, bool connecting);
/* The provider that feeds the stream from the socket. */
nghttp2_data_provider relay_provider(struct relay *r);
/* Start moving data (the 200 was sent or received). */
void relay_establish(struct relay *r);

/* nghttp2 callbacks for streams that are relays (user_data: struct h2conn). */
int relay_on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id,
			const uint8_t *data, size_t len, void *user_data);
int relay_on_stream_close(nghttp2_session *s, int32_t id, uint32_t error,
			  void *user_data);
/* Call from on_frame_recv: END_STREAM arrived on a relay's stream. */
void relay_on_end_stream(struct relay *r);

/* Close: reset also resets the stream (if open) and the socket (RST). */
void relay_close(struct relay *r, bool reset);
/* The connection is gone: reset every relay on it. */
void relay_abort_all(struct h2conn *conn);

#endif /* SW_TUNNEL_RELAY_H */
