/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's tunnel workers (tunnel.workers): each a thread with its own
 * event loop, resolver, tunnel client and gateway, made with the tunnel's
 * own constructors. The gateways' listeners share their port (SO_REUSEPORT),
 * so the kernel spreads connections over them; the tunnels accept on one
 * endpoint socket the agent opens (endpoint.h says why), whichever worker
 * is woken first; each keeps its own connections to every remote and its
 * own counters.
 *
 * The agent's thread stays the single point of truth for the rest: the
 * configuration, the certificates, the datapath, the control socket, the
 * metrics. It hands every worker the configuration and certificates it
 * applied (agent_workers_apply); a worker applies them on its own thread.
 * Nothing of a worker's state is touched from another thread: the agent
 * asks, the worker answers on its loop (a round trip through an eventfd,
 * a mutex and a condition variable), and copies its counters out itself.
 *
 * Health is decided once: worker 0's tunnel publishes each remote's health
 * to the datapath; the others probe their own connections but publish
 * nothing (sw_tunnel_quiet).
 *
 * Liveness: each worker's loop ticks every second. One that has not ticked
 * for SW_WORKER_STALL_S is stalled: logged, shown in status and /metrics,
 * and /healthz fails while it lasts (a worker never blocks by design: a
 * stall is a bug, and a restart is the way out).
 */
#ifndef SW_AGENT_WORKER_H
#define SW_AGENT_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "spillway/abi.h"
#include "config/config.h"
#include "lib/error.h"
#include "lib/resolve.h"
#include "tunnel/fallback.h"
#include "tunnel/tunnel_stats.h"

#define SW_WORKER_STALL_S 5

struct agent;

/* One remote's counters, as a worker (or all of them) counted. */
struct agent_remote_counts {
	char name[SW_SHORT_NAME_MAX + 1];
	struct sw_tunnel_counters c;
	__u64 ejected_until_ns;		/* worker 0's: it decides health; 0: not ejected */
};

/* What a worker counted, copied out on its own thread; or their sum. */
struct agent_counts {
	unsigned int busy;		/* spilled connections carried now, as
					 * client and as gateway */
	bool client, gateway;		/* runs a tunnel client, a gateway */
	struct sw_fallback_counters fallback;
	struct sw_tunnel_counters gw;
	struct sw_resolver_stats resolver;
	int n_remotes;
	struct agent_remote_counts remote[SW_MAX_REMOTES];
};

/* A worker, for status and /metrics. */
struct agent_worker_view {
	bool alive;			/* ticked within SW_WORKER_STALL_S */
	__u64 tick_age_ns;		/* since its last tick */
	__u64 streams;			/* open now: client and gateway */
	__u64 streams_total;		/* ended: client and gateway */
};

/*
 * tunnel.workers, or one per CPU the agent may use (its affinity mask, its
 * cgroup's CPU quota: lib/cpus.h), at most SW_WORKERS_MAX; why says which.
 */
unsigned int agent_workers_wanted(const struct sw_config *cfg, char *why,
				  size_t len);

/* Start n workers (threads, loops, resolvers); none runs a tunnel yet. */
int agent_workers_start(struct agent *a, unsigned int n, struct sw_error *e);

/*
 * Hand every worker a->cfg, a->remote_ids and a->tls, and wait until each
 * applied them (a stalled one is not waited for). A worker's tunnel client
 * runs where connections can spill, its gateway where tunnel.listen is set.
 * The first worker's error (e.g. a port in use) is returned.
 */
int agent_workers_apply(struct agent *a, struct sw_error *e);

/* Every worker's gateway takes no new tunnels (sw_gateway_drain). */
void agent_workers_drain(struct agent *a);

/*
 * The workers' counts, fresh from each (a stalled one's are its last),
 * summed into sum; each worker's view in each (a->n_workers of them) unless
 * NULL.
 */
void agent_workers_count(struct agent *a, struct agent_counts *sum,
			 struct agent_worker_view *each);

/* Spilled connections the workers carry now. */
unsigned int agent_workers_busy(struct agent *a);

/* Once a second on the agent's loop: notice workers that stopped ticking. */
void agent_workers_check(struct agent *a, __u64 now);
/* Workers stalled now (0: all alive). */
unsigned int agent_workers_stalled(const struct agent *a);

/* Stop every worker (their tunnels close) and free them. */
void agent_workers_stop(struct agent *a);

#endif /* SW_AGENT_WORKER_H */
