/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Names to addresses without blocking the event loop: c-ares, its sockets
 * and its timeouts watched by the loop. A name is looked up as the node's
 * resolver would (/etc/hosts, then DNS with /etc/resolv.conf's servers,
 * search domains and options). An answer is kept for its TTL, at most
 * SW_RESOLVE_TTL_MAX_S, so a burst of connections to one target asks once
 * and a changed record is followed within the TTL; callers waiting for one
 * name share one query.
 *
 * Before, a lookup was getaddrinfo() on the loop: a cluster DNS that
 * answered in 5 s froze every relay on the node for 5 s.
 */
#ifndef SW_LIB_RESOLVE_H
#define SW_LIB_RESOLVE_H

#include <stdbool.h>
#include <sys/socket.h>
#include <linux/types.h>

#include "lib/error.h"
#include "lib/loop.h"

#define SW_RESOLVE_TTL_MAX_S 30	/* an answer is kept at most this long */
#define SW_RESOLVE_NAMES_MAX 256 /* names known at once (cached or asked) */

struct sw_resolver;

/*
 * One caller's wait for a name, in the caller's memory (a relay, a remote):
 * set done and owner, pass it to sw_resolve. Pending from a -EINPROGRESS
 * return until done runs (once) or sw_lookup_cancel.
 */
struct sw_lookup {
	/* The answer: ss and len, or err (a message) with ss NULL. */
	void (*done)(struct sw_lookup *l, const struct sockaddr_storage *ss,
		     socklen_t len, const char *err);
	void *owner;
	const char *host;		/* the name, while pending and in done */
	/* the resolver's */
	struct sw_lookup *next;
	struct sw_name *name;		/* non-NULL while pending */
	__u16 port;
};

/* What the resolver did since it started, for status and /metrics. */
struct sw_resolver_stats {
	__u64 cached;		/* answered from the cache (literals not counted) */
	__u64 queries;		/* questions asked (one per name, shared) */
	__u64 failed;		/* questions that got no address */
};

struct sw_resolver *sw_resolver_new(struct sw_loop *loop, struct sw_error *e);
/* Pending lookups must have been cancelled. */
void sw_resolver_free(struct sw_resolver *r);

/*
 * host:port to an address. An address literal, or a name with a fresh
 * answer: 0 and *ss at once. A name to ask about: -EINPROGRESS, l pending,
 * l->done called from the loop later. Otherwise a negative errno and *err.
 */
int sw_resolve(struct sw_resolver *r, const char *host, __u16 port,
	       struct sw_lookup *l, struct sockaddr_storage *ss, socklen_t *len,
	       const char **err);

static inline bool sw_lookup_pending(const struct sw_lookup *l)
{
	return l->name != NULL;
}

/* Stop waiting: done will not be called. Nothing if l is not pending. */
void sw_lookup_cancel(struct sw_lookup *l);

const struct sw_resolver_stats *sw_resolver_stats(const struct sw_resolver *r);

/*
 * Every address of a name (A and AAAA), asked afresh (a Service's VIPs,
 * looked at periodically: no cache, no sharing). done runs once, from the
 * loop or, for an answer at hand (/etc/hosts), before sw_resolve_all
 * returns; with n 0, err says why. Pending until then or the cancel.
 */
#define SW_RESOLVE_ALL_MAX 8		/* addresses kept of one name */

struct sw_addr_list {
	int n;
	struct sockaddr_storage addr[SW_RESOLVE_ALL_MAX];	/* port 0 */
};

struct sw_lookup_all {
	void (*done)(struct sw_lookup_all *l, const struct sw_addr_list *addrs,
		     const char *err);
	void *owner;
	struct sw_all_query *q;		/* the resolver's; set while pending */
};

/* 0, or -ENOMEM (nothing asked, done not called). */
int sw_resolve_all(struct sw_resolver *r, const char *host,
		   struct sw_lookup_all *l);
void sw_lookup_all_cancel(struct sw_lookup_all *l);

#endif /* SW_LIB_RESOLVE_H */
