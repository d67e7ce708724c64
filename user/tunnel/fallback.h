/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Local fallback: a spilled connection that its remote would not take (the
 * CONNECT was refused, its stream or connection died before the 200, no
 * gateway connection could be made, no remote is healthy) is served by this
 * cluster after all instead of being reset.
 *
 * Nothing the client sent is lost: a tunnel relay reads nothing before the
 * 200, so the bytes still wait in the client's socket. The agent connects to
 * the service's VIP:port itself, with the bypass mark so the datapath never
 * steers that connection back, and moves bytes both ways, FIN for FIN and
 * RST for RST. The datapath moves the flow's slot from remote to local
 * (SW_FLOW_LOCAL_FALLBACK), so max_connections still counts it. The service
 * sees the connection come from this node's address, not the client's.
 */
#ifndef SW_TUNNEL_FALLBACK_H
#define SW_TUNNEL_FALLBACK_H

#include <linux/types.h>

#include "datapath/datapath.h"
#include "lib/loop.h"

struct sw_fallbacks;

struct sw_fallback_counters {
	__u64 open;		/* connections being served locally now */
	__u64 served;		/* connected to the local service */
	__u64 failed;		/* the local service could not be reached: reset */
};

struct sw_fallbacks *sw_fallbacks_new(struct sw_loop *loop,
				      struct sw_datapath *dp, __u32 bypass_mark);
/* Reset every connection still being served, and free. */
void sw_fallbacks_free(struct sw_fallbacks *f);

/*
 * Serve the steered client socket fd locally; why is for the log. Takes fd
 * in every case (resets it if even that cannot be done).
 */
void sw_fallback_start(struct sw_fallbacks *f, int fd, const char *why);

const struct sw_fallback_counters *sw_fallback_counters(const struct sw_fallbacks *f);

#endif /* SW_TUNNEL_FALLBACK_H */
