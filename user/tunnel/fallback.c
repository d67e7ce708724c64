// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/addr.h"
#include "datapath/control.h"
#include "tunnel/endpoint.h"
#include "tunnel/fallback.h"
#include "lib/log.h"
#include "tunnel/net.h"

/* Per direction: one recv() at most, held until sent. */
#define FALLBACK_CHUNK (16u << 10)
/* Chunks per direction per event: one busy connection cannot hold the loop. */
#define FALLBACK_CHUNKS_PER_EVENT 16

/* One direction of a connection: bytes read from one socket, for the other. */
struct half {
	size_t off, len;
	bool eof;			/* FIN read from the source */
	bool shut;			/* passed on: shutdown(SHUT_WR) of the sink */
	uint8_t buf[FALLBACK_CHUNK];
};

struct conn {
	struct sw_io client, local;	/* the steered socket; ours to the VIP */
	struct sw_deferred grave;
	struct sw_fallbacks *set;
	struct conn *prev, *next;
	bool connecting, closed;
	char who[SW_ADDR_STRLEN + 8];	/* the client, for the log */
	struct half up, down;		/* client -> local, local -> client */
};

struct sw_fallbacks {
	struct sw_loop *loop;
	struct sw_datapath *dp;
	__u32 bypass_mark;
	struct conn *conns;
	struct sw_fallback_counters c;
};

static void free_conn(struct sw_deferred *d)
{
	free((struct conn *)((char *)d - offsetof(struct conn, grave)));
}

/* Done: reset passes an RST on to both sides (one side was reset). */
static void conn_close(struct conn *c, bool reset)
{
	struct sw_loop *loop = c->set->loop;

	if (c->closed)
		return;
	c->closed = true;
	if (reset) {
		sw_reset_on_close(c->client.fd);
		sw_reset_on_close(c->local.fd);
	}
	sw_loop_close(loop, &c->client);
	sw_loop_close(loop, &c->local);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->set->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->set->c.open--;
	sw_loop_release(loop, &c->grave);
}

/*
 * Move what can move from src to dst without blocking. Returns false if
 * either socket failed (an RST): the connection is to be reset.
 */
static bool move(struct half *h, int src, int dst)
{
	for (int i = 0; i < FALLBACK_CHUNKS_PER_EVENT; i++) {
		ssize_t n;

		if (h->off == h->len && !h->eof) {
			n = recv(src, h->buf, sizeof(h->buf), MSG_DONTWAIT);
			if (n < 0)
				return errno == EAGAIN || errno == EWOULDBLOCK;
			h->off = 0;
			h->len = n;
			h->eof = n == 0;
		}
		if (h->off < h->len) {
			n = send(dst, h->buf + h->off, h->len - h->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0)
				return errno == EAGAIN || errno == EWOULDBLOCK;
			h->off += n;
			continue;
		}
		if (h->eof) {
			if (!h->shut && shutdown(dst, SHUT_WR) && errno != ENOTCONN)
				return false;
			h->shut = true;
			return true;
		}
	}
	return true;		/* more next time: the socket stays readable */
}

/* What each socket waits for: to be read when its buffer is empty, to be
 * written when the other direction holds bytes for it. */
static void rewatch(struct conn *c)
{
	struct sw_loop *loop = c->set->loop;
	uint32_t client = 0, local = 0;

	if (c->up.off == c->up.len && !c->up.eof)
		client |= EPOLLIN;
	if (c->up.off < c->up.len)
		local |= EPOLLOUT;
	if (c->down.off == c->down.len && !c->down.eof)
		local |= EPOLLIN;
	if (c->down.off < c->down.len)
		client |= EPOLLOUT;
	sw_loop_watch(loop, &c->client, client);
	sw_loop_watch(loop, &c->local, local);
}

static void pump(struct conn *c)
{
	if (!move(&c->up, c->client.fd, c->local.fd) ||
	    !move(&c->down, c->local.fd, c->client.fd)) {
		conn_close(c, true);
		return;
	}
	if (c->up.shut && c->down.shut) {
		conn_close(c, false);
		return;
	}
	rewatch(c);
}

static bool socket_failed(int fd)
{
	int err = 0;

	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &(socklen_t){ sizeof(err) });
	return err != 0;
}

static void on_client(struct sw_io *io, uint32_t events)
{
	struct conn *c = (struct conn *)((char *)io - offsetof(struct conn, client));

	if ((events & EPOLLERR) && socket_failed(io->fd)) {
		conn_close(c, true);
		return;
	}
	pump(c);
}

static void on_local(struct sw_io *io, uint32_t events)
{
	struct conn *c = (struct conn *)((char *)io - offsetof(struct conn, local));

	if (c->connecting) {
		if (socket_failed(io->fd)) {
			log_warn_limited("fallback: %s: the local service did "
					 "not accept the connection either: "
					 "reset", c->who);
			c->set->c.failed++;
			conn_close(c, true);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		c->connecting = false;
		c->set->c.served++;
		if (sw_loop_add(c->set->loop, &c->client, c->client.fd, 0,
				on_client)) {
			conn_close(c, true);
			return;
		}
	} else if ((events & EPOLLERR) && socket_failed(io->fd)) {
		conn_close(c, true);
		return;
	}
	pump(c);
}

/* The slot moves to local; a flow the table does not hold has none to move. */
static void move_slot(struct sw_fallbacks *f, const struct sw_flow_key *key,
		      const char *who)
{
	struct sw_error e = {};

	if (sw_flow_fall_back(f->dp, key, &e))
		log_debug("fallback: %s: %s", who, e.msg);
}

void sw_fallback_start(struct sw_fallbacks *f, int fd, const char *why)
{
	struct sockaddr_storage vip;
	struct sw_flow_key key;
	struct conn *c = calloc(1, sizeof(*c));
	int lfd;

	if (!c) {
		sw_close_reset(fd);
		return;
	}
	c->set = f;
	c->grave.free = free_conn;
	c->client.fd = fd;
	c->local.fd = -1;
	if (sw_endpoint_flow(fd, NULL, &key, &vip, c->who, sizeof(c->who))) {
		sw_close_reset(fd);		/* the client is gone already */
		free(c);
		return;
	}
	lfd = sw_agent_socket(vip.ss_family, f->bypass_mark);
	if (lfd < 0 || (connect(lfd, (struct sockaddr *)&vip, sizeof(vip)) &&
			errno != EINPROGRESS) ||
	    sw_loop_add(f->loop, &c->local, lfd, EPOLLOUT, on_local)) {
		log_warn_limited("fallback: %s: %s, and no local connection "
				 "could be made: %s: reset", c->who, why,
				 strerror(errno));
		f->c.failed++;
		if (lfd >= 0)
			close(lfd);
		sw_close_reset(fd);
		free(c);
		return;
	}
	log_info_limited("fallback: %s: %s: serving it in this cluster",
			 c->who, why);
	c->connecting = true;
	c->next = f->conns;
	if (c->next)
		c->next->prev = c;
	f->conns = c;
	f->c.open++;
	move_slot(f, &key, c->who);
}

struct sw_fallbacks *sw_fallbacks_new(struct sw_loop *loop,
				      struct sw_datapath *dp, __u32 bypass_mark)
{
	struct sw_fallbacks *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->loop = loop;
	f->dp = dp;
	f->bypass_mark = bypass_mark;
	return f;
}

void sw_fallbacks_free(struct sw_fallbacks *f)
{
	if (!f)
		return;
	while (f->conns)
		conn_close(f->conns, true);
	free(f);
}

const struct sw_fallback_counters *sw_fallback_counters(const struct sw_fallbacks *f)
{
	return &f->c;
}
