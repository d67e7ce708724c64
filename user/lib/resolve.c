// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <ares.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "spillway/defaults.h"
#include "lib/addr.h"
#include "lib/clock.h"
#include "lib/resolve.h"

/* A name: its last answer, and who waits for the next. */
struct sw_name {
	struct sw_name *next;
	struct sw_resolver *r;
	struct sockaddr_storage addr;	/* port 0 */
	socklen_t len;			/* 0: no address (err says why) */
	const char *err;
	__u64 expires_ns;		/* the answer serves until then */
	bool asking;
	struct sw_lookup *waiters;
	char host[];
};

/* One of c-ares's sockets, watched for it. */
struct watch {
	struct sw_io io;		/* first: the loop hands us &io */
	struct sw_deferred grave;
	struct watch *next;
	struct sw_resolver *r;
};

struct sw_resolver {
	struct sw_loop *loop;
	ares_channel channel;
	bool channel_up;
	struct sw_io timer;
	struct watch *watches;
	struct sw_name *names;
	int n_names;
	struct sw_name *asking_now;	/* inside ares_getaddrinfo */
	struct sw_resolver_stats stats;
};

static void arm_timer(struct sw_resolver *r)
{
	struct itimerspec its = {};
	struct timeval tv, *next = ares_timeout(r->channel, NULL, &tv);

	if (next) {
		its.it_value.tv_sec = next->tv_sec;
		/* 0 would disarm the timer: at least 1 ms. */
		its.it_value.tv_nsec = next->tv_usec ? next->tv_usec * 1000L :
				       (next->tv_sec ? 0 : 1000000L);
	}
	timerfd_settime(r->timer.fd, 0, &its, NULL);
}

static void on_timer(struct sw_io *io, uint32_t revents)
{
	struct sw_resolver *r = (void *)((char *)io -
					 offsetof(struct sw_resolver, timer));
	__u64 expirations;

	(void)revents;
	if (read(io->fd, &expirations, sizeof(expirations)) < 0 &&
	    errno != EAGAIN)
		return;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	arm_timer(r);
}

static void on_socket(struct sw_io *io, uint32_t revents)
{
	struct watch *w = (struct watch *)io;
	bool in = revents & (EPOLLIN | EPOLLERR | EPOLLHUP);

	ares_process_fd(w->r->channel, in ? io->fd : ARES_SOCKET_BAD,
			revents & EPOLLOUT ? io->fd : ARES_SOCKET_BAD);
	arm_timer(w->r);
}

static void watch_free(struct sw_deferred *d)
{
	free((char *)d - offsetof(struct watch, grave));
}

/* c-ares opens, changes interest in, or is about to close a socket. */
static void socket_state(void *data, ares_socket_t fd, int readable,
			 int writable)
{
	struct sw_resolver *r = data;
	uint32_t events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
	struct watch **pw, *w;

	for (pw = &r->watches; (w = *pw); pw = &w->next)
		if (w->io.fd == fd)
			break;
	if (w && !events) {		/* c-ares closes it itself */
		*pw = w->next;
		sw_loop_forget(r->loop, &w->io);
		sw_loop_release(r->loop, &w->grave);
		return;
	}
	if (w) {
		sw_loop_watch(r->loop, &w->io, events);
		return;
	}
	if (!events || !(w = calloc(1, sizeof(*w))))
		return;		/* no memory: that query times out */
	w->r = r;
	w->grave.free = watch_free;
	if (sw_loop_add(r->loop, &w->io, fd, events, on_socket)) {
		free(w);
		return;
	}
	w->next = r->watches;
	r->watches = w;
}

static struct sw_name *name_find(struct sw_resolver *r, const char *host)
{
	for (struct sw_name *n = r->names; n; n = n->next)
		if (!strcmp(n->host, host))
			return n;
	return NULL;
}

/* Forget names nobody waits for whose answer has expired. */
static void names_sweep(struct sw_resolver *r, __u64 now)
{
	for (struct sw_name **pn = &r->names, *n; (n = *pn);) {
		if (!n->asking && now >= n->expires_ns) {
			*pn = n->next;
			r->n_names--;
			free(n);
		} else {
			pn = &n->next;
		}
	}
}

static struct sw_name *name_add(struct sw_resolver *r, const char *host)
{
	size_t size = strlen(host) + 1;
	struct sw_name *n;

	if (r->n_names >= SW_RESOLVE_NAMES_MAX)
		names_sweep(r, sw_now_ns());
	if (r->n_names >= SW_RESOLVE_NAMES_MAX ||
	    !(n = calloc(1, sizeof(*n) + size)))
		return NULL;
	memcpy(n->host, host, size);
	n->r = r;
	n->next = r->names;
	r->names = n;
	r->n_names++;
	return n;
}

static void with_port(struct sockaddr_storage *ss, __u16 port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* The answer to n's question: keep it, then tell whoever waits. */
static void on_answer(void *arg, int status, int timeouts,
		      struct ares_addrinfo *res)
{
	struct sw_name *n = arg;
	struct ares_addrinfo_node *node = res ? res->nodes : NULL;
	struct sw_lookup *waiters;
	__u64 ttl = 0;

	(void)timeouts;
	n->asking = false;
	n->len = 0;
	n->err = NULL;
	if (status != ARES_SUCCESS)
		n->err = ares_strerror(status);
	else if (!node || node->ai_addrlen > sizeof(n->addr))
		n->err = "no address";
	if (!n->err) {
		memcpy(&n->addr, node->ai_addr, node->ai_addrlen);
		n->len = node->ai_addrlen;
		ttl = node->ai_ttl > 0 ? (__u64)node->ai_ttl : 0;
		if (ttl > SW_RESOLVE_TTL_MAX_S)
			ttl = SW_RESOLVE_TTL_MAX_S;
	}
	n->expires_ns = n->len ? sw_now_ns() + ttl * NS_PER_S : 0;
	ares_freeaddrinfo(res);
	if (status == ARES_EDESTRUCTION)
		return;
	if (!n->len)
		n->r->stats.failed++;
	/* Detached first: a waiter's done may ask about n again. */
	waiters = n->waiters;
	n->waiters = NULL;
	while (waiters) {
		struct sw_lookup *l = waiters;
		struct sockaddr_storage ss = n->addr;

		waiters = l->next;
		l->next = NULL;
		l->name = NULL;
		if (n->len)
			with_port(&ss, l->port);
		l->done(l, n->len ? &ss : NULL, n->len, n->err);
	}
}

int sw_resolve(struct sw_resolver *r, const char *host, __u16 port,
	       struct sw_lookup *l, struct sockaddr_storage *ss, socklen_t *len,
	       const char **err)
{
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC,
					     .ai_socktype = SOCK_STREAM };
	struct sw_name *n;

	if (!sw_sockaddr_make(host, port, ss, len))
		return 0;
	n = name_find(r, host);
	if (n && !n->asking && n->len && sw_now_ns() < n->expires_ns) {
		r->stats.cached++;
		*ss = n->addr;
		*len = n->len;
		with_port(ss, port);
		return 0;
	}
	if (!n && !(n = name_add(r, host))) {
		*err = "too many names being resolved";
		return -ENOMEM;
	}
	l->port = port;
	l->host = n->host;
	if (n->asking) {
		l->next = n->waiters;
		n->waiters = l;
		l->name = n;
		return -EINPROGRESS;
	}
	n->asking = true;
	r->stats.queries++;
	ares_getaddrinfo(r->channel, host, NULL, &hints, on_answer, n);
	if (!n->asking) {		/* answered at once: /etc/hosts, an error */
		if (!n->len) {
			*err = n->err;
			return -ENOENT;
		}
		*ss = n->addr;
		*len = n->len;
		with_port(ss, port);
		return 0;
	}
	arm_timer(r);
	l->next = n->waiters;
	n->waiters = l;
	l->name = n;
	return -EINPROGRESS;
}

void sw_lookup_cancel(struct sw_lookup *l)
{
	if (!l->name)
		return;
	for (struct sw_lookup **pl = &l->name->waiters; *pl; pl = &(*pl)->next)
		if (*pl == l) {
			*pl = l->next;
			break;
		}
	l->next = NULL;
	l->name = NULL;
}

struct sw_resolver *sw_resolver_new(struct sw_loop *loop, struct sw_error *e)
{
	struct sw_resolver *r = calloc(1, sizeof(*r));
	struct ares_options opts = {};
	int fd, rc;

	if (!r) {
		sw_fail(e, -ENOMEM, "out of memory");
		return NULL;
	}
	r->loop = loop;
	r->timer.fd = -1;
	opts.sock_state_cb = socket_state;
	opts.sock_state_cb_data = r;
	rc = ares_library_init(ARES_LIB_INIT_ALL);
	if (rc == ARES_SUCCESS)
		rc = ares_init_options(&r->channel, &opts,
				       ARES_OPT_SOCK_STATE_CB);
	if (rc != ARES_SUCCESS) {
		sw_fail(e, -EINVAL, "cannot start the resolver (c-ares, "
			"/etc/resolv.conf): %s", ares_strerror(rc));
		free(r);
		return NULL;
	}
	r->channel_up = true;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0 || sw_loop_add(loop, &r->timer, fd, EPOLLIN, on_timer)) {
		sw_fail(e, -errno, "resolver timer: %s", strerror(errno));
		sw_resolver_free(r);	/* closes the timer's fd if it has one */
		return NULL;
	}
	return r;
}

void sw_resolver_free(struct sw_resolver *r)
{
	if (!r)
		return;
	if (r->channel_up) {
		ares_destroy(r->channel);	/* closes its sockets: unwatched */
		ares_library_cleanup();
	}
	sw_loop_close(r->loop, &r->timer);
	while (r->names) {
		struct sw_name *n = r->names;

		r->names = n->next;
		free(n);
	}
	free(r);
}

/* One question for every address of a name; l NULL once cancelled. */
struct sw_all_query {
	struct sw_lookup_all *l;
	struct sw_resolver *r;
};

static void on_all_answer(void *arg, int status, int timeouts,
			  struct ares_addrinfo *res)
{
	struct sw_all_query *q = arg;
	struct sw_lookup_all *l = q->l;
	struct sw_addr_list list = {};
	const char *err = NULL;

	(void)timeouts;
	for (struct ares_addrinfo_node *n = res ? res->nodes : NULL;
	     n && list.n < SW_RESOLVE_ALL_MAX; n = n->ai_next)
		if (n->ai_addrlen <= sizeof(list.addr[0]))
			memcpy(&list.addr[list.n++], n->ai_addr, n->ai_addrlen);
	ares_freeaddrinfo(res);
	if (status != ARES_SUCCESS)
		err = ares_strerror(status);
	else if (!list.n)
		err = "no address";
	if (err && status != ARES_EDESTRUCTION)
		q->r->stats.failed++;
	free(q);
	if (!l || status == ARES_EDESTRUCTION)
		return;
	l->q = NULL;
	l->done(l, &list, err);
}

int sw_resolve_all(struct sw_resolver *r, const char *host,
		   struct sw_lookup_all *l)
{
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC,
					     .ai_socktype = SOCK_STREAM };
	struct sw_all_query *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->l = l;
	q->r = r;
	l->q = q;
	r->stats.queries++;
	ares_getaddrinfo(r->channel, host, NULL, &hints, on_all_answer, q);
	arm_timer(r);
	return 0;
}

void sw_lookup_all_cancel(struct sw_lookup_all *l)
{
	if (l->q)
		l->q->l = NULL;
	l->q = NULL;
}

const struct sw_resolver_stats *sw_resolver_stats(const struct sw_resolver *r)
{
	return &r->stats;
}
