/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The tunnel client (the spilling cluster's side). It owns the transparent
 * endpoint the datapath assigns overflowed connections to; for each one it
 * learns the VIP:port the client dialled and the client's address from the
 * accepted socket, the remote from the flow table, and opens an HTTP/2
 * CONNECT stream (":authority" the service name and port, "forwarded:
 * for=client") on a pooled mutual-TLS connection to that remote's gateway.
 *
 * Per remote: connections opened ahead of need (one at least), at most 100
 * streams each (then another), spare ones closed when idle; a PING every
 * probe interval decides the remote's health, published to the datapath.
 * Each remote's settings (connect timeout, TCP keepalive, probe interval,
 * failures, ejection time) come from its configuration; the tunnel keeps
 * its own timer for them.
 */
#ifndef SW_TUNNEL_TUNNEL_H
#define SW_TUNNEL_TUNNEL_H

#include "config/config.h"
#include "datapath/datapath.h"
#include "lib/error.h"
#include "lib/loop.h"
#include "lib/resolve.h"
#include "tunnel/tls.h"
#include "tunnel/tunnel_stats.h"

struct sw_tunnel;

/*
 * Accept as the endpoint on endpoint_fd (IPv4, IPv6: sw_endpoint_listen's,
 * shared by every worker's tunnel; each watches a dup of its own).
 */
struct sw_tunnel *sw_tunnel_new(struct sw_loop *loop,
				struct sw_resolver *resolver,
				struct sw_datapath *dp,
				const int endpoint_fd[2], __u32 bypass_mark,
				struct sw_error *e);
void sw_tunnel_free(struct sw_tunnel *t);

/*
 * The configuration applied and the remote ids it got, and the current TLS
 * set (new connections use it; live ones keep theirs). Remotes that went
 * away are closed; the others keep their connections, counters and health,
 * and their new settings apply to new connections and the next probe.
 */
int sw_tunnel_configure(struct sw_tunnel *t, const struct sw_config *cfg,
			const __u32 *remote_ids, struct sw_tls *tls,
			struct sw_error *e);

/*
 * Leave the remotes' health to another instance (one per worker; health is
 * decided once): this one still probes its own connections and uses what
 * they show, but publishes nothing to the datapath and logs no change.
 */
void sw_tunnel_quiet(struct sw_tunnel *t);

/* Spilled connections carried now: streams open, connections waiting for
 * a connection to their remote, and those served here after all. */
unsigned int sw_tunnel_busy(const struct sw_tunnel *t);
/* Spilled connections served here after all (fallback.h); NULL without t. */
const struct sw_fallback_counters *sw_tunnel_fallbacks(const struct sw_tunnel *t);

/* The counters of the remote named name (NULL if there is none). */
const struct sw_tunnel_counters *sw_tunnel_counters(struct sw_tunnel *t,
						    const char *name);
/* How long the remote stays ejected (unhealthy whatever probes say); 0: not. */
__u64 sw_tunnel_ejected_ns(const struct sw_tunnel *t, const char *name, __u64 now);

#endif /* SW_TUNNEL_TUNNEL_H */
