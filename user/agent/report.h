/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the agent reports: `status`, `flows` and /metrics, each as a table
 * or JSON (or Prometheus text) from the same data, a view of the applied
 * configuration next to the live maps.
 */
#ifndef SW_AGENT_REPORT_H
#define SW_AGENT_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "spillway/abi.h"
#include "config/config.h"
#include "agent/worker.h"
#include "tunnel/fallback.h"
#include "lib/json.h"
#include "lib/resolve.h"
#include "tunnel/tunnel_stats.h"

struct sw_view_service {
	const struct sw_service_config_entry *cfg;
	struct sw_service live;		/* zero if not in the map */
	bool in_map;
};

struct sw_view_remote {
	const struct sw_remote_config *cfg;
	__u32 id;
	bool healthy;
	__u64 ejected_ns;			/* unhealthy at least this long */
	const struct sw_tunnel_counters *tunnel;	/* NULL: no tunnel client */
};

struct sw_view {
	const struct sw_config *cfg;
	struct sw_view_service *services;	/* one per cfg->services */
	struct sw_view_remote *remotes;		/* one per cfg->remotes */
	struct sw_stats stats;
	__u64 flows_scanned;			/* by the last collection */
	__u64 reloads_ok, reloads_failed;
	const struct sw_tunnel_counters *gateway;	/* NULL: not a gateway */
	const struct sw_fallback_counters *fallback;	/* NULL: no tunnel client */
	time_t cert_not_after;				/* 0: no certificates */
	__u64 cert_reloads_ok, cert_reloads_failed;
	bool ready;
	bool draining;			/* stopping: spilled connections finish */
	bool datapath;			/* loaded (a node with interfaces) */
	const char *xdp_handoff;	/* "": XDP mode not loaded */
	bool xdp_meta_refused;		/* a driver refused XDP metadata */
	struct sw_resolver_stats resolver;	/* names looked up */
	const struct sw_attached *ifaces;	/* attached now */
	int n_ifaces;
	__u64 flows_released_link_gone;
	struct agent_counts *counts;		/* the workers' sum (owned) */
	struct agent_worker_view *workers;	/* one per worker */
	unsigned int n_workers;
};

void report_status(FILE *out, bool json, const struct sw_view *v);
void report_metrics(FILE *out, const struct sw_view *v);

/* flows: a header, one call per flow, a footer. */
struct sw_flow_row {
	const char *service;		/* its name, or "" if not configured */
	const char *remote;		/* its remote's name, or "" */
	const struct sw_flow_key *key;
	const struct sw_flow *flow;
	__u64 now_ns;
};

void report_flows_begin(FILE *out, bool json, struct json *j);
void report_flow(FILE *out, bool json, struct json *j,
		 const struct sw_flow_row *row);
/* more: a flow beyond the limit matched (the list is not complete). */
void report_flows_end(FILE *out, bool json, struct json *j, __u64 shown,
		      bool more);

/* The words `status` uses for a service's state and a flow's state. */
const char *sw_service_state(const struct sw_service *s);
const char *sw_flow_state(__u32 state);

#endif /* SW_AGENT_REPORT_H */
