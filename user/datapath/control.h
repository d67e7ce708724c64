/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Changing and reading the datapath's state. Whatever must be atomic with
 * respect to packets (service configuration beside live counters, releasing
 * a flow's slot) is done in the kernel by spill_ctl.
 */
#ifndef SW_DATAPATH_CONTROL_H
#define SW_DATAPATH_CONTROL_H

#include <stdbool.h>

#include "spillway/abi.h"
#include "datapath/datapath.h"
#include "lib/error.h"

/*
 * The rule for a service's thresholds, wherever they are set (the
 * configuration, `spillway service set`, sw_service_set): resume_below
 * from 1 to max_connections, 0 standing for max_connections. Sets
 * *resume_below to what applies. -EINVAL if it is above max_connections,
 * and e says "R is more than MAX_NAME (M); expected ...", max_name being
 * how the caller's user writes max_connections; the caller puts the name
 * of resume_below in front. The kernel clamps it too (bpf/service.h).
 */
int sw_service_resume_below(__u32 max_connections, __u32 *resume_below,
			    const char *max_name, struct sw_error *e);

/* Create a service or change it in place; resume_below 0 means "= max". */
int sw_service_set(struct sw_datapath *dp, const struct sw_service_key *key,
		   const struct sw_service_config *cfg, struct sw_error *e);
int sw_service_get(struct sw_datapath *dp, const struct sw_service_key *key,
		   struct sw_service *out);
/*
 * Add to the live counters of the service instance delta->epoch, atomically
 * with the packets counting alongside. -ENOENT if that instance is gone.
 */
int sw_service_add(struct sw_datapath *dp, const struct sw_service_key *key,
		   const struct sw_service_delta *delta, struct sw_error *e);
/* Remove a service; its flows keep their decisions, its slots are gone. */
int sw_service_delete(struct sw_datapath *dp, const struct sw_service_key *key,
		      struct sw_error *e);

/* Remove every service keep() says no to (what a configuration dropped). */
int sw_services_prune(struct sw_datapath *dp,
		      bool (*keep)(const struct sw_service_key *key, void *arg),
		      void *arg, struct sw_error *e);

/* A flow's entry: 0, or -ENOENT when the table does not have it. */
int sw_flow_get(struct sw_datapath *dp, const struct sw_flow_key *key,
		struct sw_flow *out);

/*
 * Every flow, read SW_FLOWS_WALK_BATCH at a time (one BPF_MAP_LOOKUP_BATCH
 * each, not two system calls a flow), handed to visit until it returns
 * nonzero: the rest of the table is not read. A table that changes
 * meanwhile may show a flow twice or not at all, as any walk of a live
 * hash map. 0, or a negative errno (e says why).
 */
#define SW_FLOWS_WALK_BATCH 256
#define SW_FLOWS_WALK_BATCH_MAX 16384	/* one hash bucket's worst case */
typedef int (*sw_flow_visit)(void *arg, const struct sw_flow_key *key,
			     const struct sw_flow *flow);
int sw_flows_walk(struct sw_datapath *dp, sw_flow_visit visit, void *arg,
		  struct sw_error *e);

/*
 * A link went: release the flows of the clients last seen on it (a deleted
 * pod's connections), *released saying how many.
 */
int sw_link_gone(struct sw_datapath *dp, int ifindex, __u32 *released,
		 struct sw_error *e);

/*
 * Make the node_addrs map hold exactly addrs: the node's own addresses,
 * where the datapath matches NodePorts (bpf/nodeport.h).
 */
int sw_node_addrs_set(struct sw_datapath *dp,
		      const struct sw_node_addr_key *addrs, int n,
		      struct sw_error *e);

/* Name a remote id and set its health (name NULL: keep the name). */
int sw_remote_set(struct sw_datapath *dp, __u32 id, const char *name,
		  bool healthy, struct sw_error *e);
int sw_remote_get(struct sw_datapath *dp, __u32 id, struct sw_remote *out);

/* Refresh the agent heartbeat (now_ns 0: now) that lets connections spill. */
int sw_agent_heartbeat(struct sw_datapath *dp, __u64 now_ns, struct sw_error *e);
/* Withdraw it: from now on new connections stay local (an agent draining). */
int sw_agent_heartbeat_stop(struct sw_datapath *dp, struct sw_error *e);

/* Expire flows (params.now_ns 0: now) and release their slots. */
int sw_collect(struct sw_datapath *dp, const struct sw_collect_params *params,
	       struct sw_collect_result *result, struct sw_error *e);

/*
 * A spilled flow the agent serves locally after all (its remote refused it):
 * its slot moves from remote to local. -ENOENT if the flow has ended or is
 * not tracked (nothing to move), -EALREADY if it was moved before. key is
 * the connection's own tuple: a NodePort's flow (keyed without the node's
 * address) is found from it too.
 */
int sw_flow_fall_back(struct sw_datapath *dp, const struct sw_flow_key *key,
		      struct sw_error *e);

/* The per-CPU counters, summed. */
int sw_stats_read(struct sw_datapath *dp, struct sw_stats *sum,
		  struct sw_error *e);

#endif /* SW_DATAPATH_CONTROL_H */
