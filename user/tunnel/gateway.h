/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The gateway (the receiving cluster's side of the tunnel). Mutual TLS 1.3
 * only, the peer's identity checked against tls.allow_identities during the
 * handshake; then HTTP/2, where each CONNECT stream names a service by
 * ":authority" (name:port). The gateway maps it through `exports` to a
 * target and answers:
 *
 *   200  connected: bytes flow both ways
 *   403  not exported, an IP literal, or a malformed authority
 *   405  not CONNECT
 *   431  request headers over SW_TUNNEL_MAX_HEADER_BYTES
 *   502  the target refused, or did not answer in time
 *   503  the target's name does not resolve (within the connect timeout;
 *        resolution never blocks other streams: lib/resolve.h)
 *
 * It never connects anywhere that is not an export's target: no open proxy.
 */
#ifndef SW_TUNNEL_GATEWAY_H
#define SW_TUNNEL_GATEWAY_H

#include "config/config.h"
#include "lib/error.h"
#include "lib/loop.h"
#include "lib/resolve.h"
#include "tunnel/tls.h"
#include "tunnel/tunnel_stats.h"

struct sw_gateway;

/*
 * The peer identities the gateways of one agent (one per worker, each on
 * its thread) know, and their limits (tunnel.max_streams_per_peer,
 * max_connects_per_peer, the premature-reset strikes): shared, so a limit
 * holds over all of them. NULL from _new: no memory. Free after every
 * gateway that uses it.
 */
struct sw_gateway_peers;
struct sw_gateway_peers *sw_gateway_peers_new(void);
void sw_gateway_peers_free(struct sw_gateway_peers *ps);

struct sw_gateway *sw_gateway_new(struct sw_loop *loop,
				  struct sw_resolver *resolver,
				  const struct sw_hostport *listen,
				  struct sw_gateway_peers *peers,
				  __u32 bypass_mark, struct sw_error *e);
void sw_gateway_free(struct sw_gateway *g);

/*
 * The exports and TLS set to use from now on (live streams keep theirs).
 * shares: the gateways (one per worker) that split tunnel.buffer_budget_mib,
 * so the process as a whole holds no more than the budget.
 */
void sw_gateway_configure(struct sw_gateway *g, const struct sw_config *cfg,
			  struct sw_tls *tls, unsigned int shares);

/*
 * Stop taking work, for a graceful exit: the listener closes (a load
 * balancer sends new tunnels to other gateways) and every connection gets
 * a GOAWAY, so peers open their next streams elsewhere. Live streams go on.
 */
void sw_gateway_drain(struct sw_gateway *g);

/* Once a second: handshake and target-connect deadlines, the drain's
 * second GOAWAY. */
void sw_gateway_tick(struct sw_gateway *g, __u64 now_ns);

const struct sw_tunnel_counters *sw_gateway_counters(struct sw_gateway *g);

#endif /* SW_TUNNEL_GATEWAY_H */
