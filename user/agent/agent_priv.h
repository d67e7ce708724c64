/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's state, shared by its three files: agent.c (lifecycle, events,
 * reloads), reconcile.c (making the kernel match a configuration) and
 * serve.c (what the CLI and HTTP clients ask for).
 */
#ifndef SW_AGENT_AGENT_PRIV_H
#define SW_AGENT_AGENT_PRIV_H

#include <limits.h>
#include <stdio.h>

#include "agent/agent.h"
#include "config/config.h"
#include "datapath/datapath.h"
#include "lib/loop.h"
#include "agent/metrics.h"
#include "agent/rpc.h"
#include "tunnel/tls.h"
#include "tunnel/tunnel.h"
#include "agent/worker.h"

/*
 * A file watched for changes: its directory, and the directory the path
 * resolves to (behind a Kubernetes ConfigMap's or Secret's symlinks the file
 * lives elsewhere, and moves with every ..data swap).
 */
struct watched {
	char path[PATH_MAX];
	char dir[PATH_MAX], target_dir[PATH_MAX];
	int dir_wd, target_wd;
	bool changed;			/* seen since the last reload */
};

struct agent {
	struct sw_agent_opts o;
	struct sw_config cfg;			/* the applied configuration */
	char *cfg_text;				/* its file's text */
	size_t cfg_len;
	__u32 remote_ids[SW_MAX_REMOTES];	/* by cfg.remotes index */

	struct sw_datapath dp;
	struct sw_tls *tls;			/* NULL without a tls section */
	/* Each runs a tunnel client (spilling: remotes and interfaces) and a
	 * gateway (tunnel.listen) on its own thread: worker.h */
	struct agent_worker **workers;
	unsigned int n_workers;
	/* The tunnel endpoint's sockets (IPv4, IPv6), shared by the workers'
	 * tunnels (endpoint.h); opened the first time the node can spill,
	 * kept until the agent stops (tunnel_port never changes). -1: not. */
	int endpoint_fd[2];
	struct sw_gateway_peers *gateway_peers;	/* the workers' gateways' */
	struct sw_http *http;

	struct sw_loop *loop;
	struct sw_resolver *resolver;	/* for services' VIPs */
	struct sw_rpc_server *rpc;		/* the control socket */
	struct sw_io sig_io, ino_io, tick_io, reload_io, http_io;
	struct sw_io links_io;			/* links come and go */
	struct sw_attached *ifaces;		/* attached now */
	int n_ifaces;
	int lockfd;
	struct watched config_watch, certs_watch;

	bool ready, stop;
	bool draining;				/* SIGTERM with spilled connections */
	bool said_flow_table_handoff;		/* logged once */
	bool said_notrack_failed;	/* warned: steered packets are tracked */
	__u64 drain_deadline_ns;
	__u64 next_collect_ns, flows_scanned;
	__u64 reloads_ok, reloads_failed, cert_reloads_ok, cert_reloads_failed;
	__u64 flows_released_link_gone;	/* their clients' link went */
	int n_node_addrs;		/* in node_addrs: where NodePorts match */
	struct agent_vip_name **vip_names;	/* services named, not VIP'd */
	int n_vip_names;
	struct sw_task vips_task;		/* ask about new names */
	__u64 next_resolve_ns;
};

/* agent.c */
int agent_load_datapath(struct agent *a, const struct sw_config *cfg,
			struct sw_error *e);
int agent_finish_upgrade(struct agent *a, struct sw_error *e);

/* reconcile.c */
int agent_apply(struct agent *a, struct sw_config *next, bool first,
		struct sw_error *e);
void agent_service_config(const struct agent *a,
			  const struct sw_service_config_entry *s,
			  struct sw_service_config *out);

/* interfaces.c */
/*
 * Attach to every link next names or matches now, and detach from those
 * attached before that it no longer wants. On failure nothing is forgotten.
 */
int agent_ifaces_apply(struct agent *a, const struct sw_config *next,
		       struct sw_error *e);
/* Links came or went (links_io is readable): attach, or forget. */
void agent_ifaces_changed(struct agent *a);
/*
 * Put the node's addresses in the datapath's node_addrs map and turn
 * NodePort matching on, while a service of a->cfg has a node_port; else
 * empty it and turn matching off.
 */
void agent_node_addrs_sync(struct agent *a);

/* vips.c: services whose VIPs are their name's addresses */
/* The names of cfg's services without a vip (free() it; NULL: no memory). */
char (*agent_vips_named(const struct sw_config *cfg, int *n))[SW_NAME_MAX + 1];
/* Follow these names from now on (new ones are asked about at once). */
void agent_vips_track(struct agent *a, char (*names)[SW_NAME_MAX + 1], int n);
/* A name's known addresses (sw_vips_fn, arg the agent). */
int agent_vips_of(void *arg, const char *name, char (*out)[INET6_ADDRSTRLEN],
		  int max);
/* Look the names up again: all, or those never answered yet. */
void agent_vips_resolve(struct agent *a, bool all);
void agent_vips_free(struct agent *a);

/* agent.c: apply the file's text again (the VIPs of a name changed). */
int agent_reapply(struct agent *a, struct sw_error *e);

/* serve.c */
/* The control socket's verbs (an sw_rpc_handler, arg the agent). */
enum sw_rpc_status agent_serve_request(void *arg, int argc, char *argv[],
				       FILE *out);
int agent_serve_http(void *arg, const char *url, FILE *out);

#endif /* SW_AGENT_AGENT_PRIV_H */
