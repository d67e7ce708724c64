// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Making the kernel match a configuration: remote ids and names, services
 * (changed in place, so live counters and flows stay), interfaces, and the
 * steering policy route. Everything that can be checked against the host is
 * checked before anything changes.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "spillway/abi.h"
#include "spillway/defaults.h"
#include "agent/agent_priv.h"
#include "datapath/control.h"
#include "lib/log.h"
#include "datapath/notrack.h"
#include "lib/links.h"
#include "lib/util.h"
#include "datapath/route.h"
#include "datapath/sysctl.h"

static const struct sw_steer_route steer_route = {
	.mark = SW_DEFAULT_STEER_MARK,
	.table = SW_DEFAULT_ROUTE_TABLE,
	.pref = SW_DEFAULT_RULE_PREF,
};

/*
 * Remote ids: a remote keeps the id its name has in the remotes map (so a
 * restarted agent finds the ids its flows point at); a new name takes the
 * lowest id that no name holds. Without a datapath, no name holds one.
 */
static int assign_remote_ids(struct agent *a, const struct sw_config *next,
			     __u32 *ids, struct sw_error *e)
{
	static struct sw_remote map[SW_MAX_REMOTES];
	bool taken[SW_MAX_REMOTES] = { true };	/* id 0 is never used */

	for (__u32 id = 1; id < SW_MAX_REMOTES; id++)
		if (!sw_datapath_loaded(&a->dp) ||
		    sw_remote_get(&a->dp, id, &map[id]))
			memset(&map[id], 0, sizeof(map[id]));
	for (int i = 0; i < next->n_remotes; i++) {
		ids[i] = 0;
		for (__u32 id = 1; id < SW_MAX_REMOTES && !ids[i]; id++)
			if (!strcmp(map[id].name, next->remotes[i].name))
				ids[i] = id;
		taken[ids[i]] = true;
	}
	for (int i = 0; i < next->n_remotes; i++) {
		for (__u32 id = 1; id < SW_MAX_REMOTES && !ids[i]; id++)
			if (!taken[id] && !map[id].name[0])
				ids[i] = id;
		if (!ids[i])
			return sw_fail(e, -ENOSPC, "remotes[%d]: no free remote "
				       "id (at most %u remotes)", i,
				       SW_MAX_REMOTES - 1);
		taken[ids[i]] = true;
	}
	return 0;
}

/* What can be checked against this host before anything changes. */
static int check_host(struct agent *a, const struct sw_config *next,
		      bool first, struct sw_error *e)
{
	/* A name given exactly must be there; a pattern may match none. */
	for (int i = 0; i < next->n_interfaces; i++)
		if (!sw_ifname_is_pattern(next->interfaces[i].name) &&
		    !if_nametoindex(next->interfaces[i].name))
			return sw_fail(e, -ENODEV, "%s: interfaces[%d]: no "
				       "interface '%s' in this network "
				       "namespace (see 'ip link')", next->path,
				       i, next->interfaces[i].name);
	/* Settings of a datapath not loaded yet take effect when it loads. */
	if (first || !sw_datapath_loaded(&a->dp))
		return 0;
	if (next->flow_capacity != a->cfg.flow_capacity ||
	    next->tunnel_port != a->cfg.tunnel_port)
		return sw_fail(e, -EINVAL, "%s: datapath.flow_capacity and "
			       "datapath.tunnel_port cannot change while the "
			       "agent runs; restart the agent to apply them",
			       next->path);
	return 0;
}

static void service_config(const struct sw_service_config_entry *s,
			   const struct sw_config *cfg, const __u32 *remote_ids,
			   struct sw_service_config *out)
{
	memset(out, 0, sizeof(*out));
	out->max_connections = s->max_connections;
	out->resume_below = s->resume_below;
	for (int k = 0; k < s->n_overflow_to; k++)
		for (int r = 0; r < cfg->n_remotes; r++)
			if (!strcmp(cfg->remotes[r].name, s->overflow_to[k]))
				out->overflow_to[k] = remote_ids[r];
}

static bool configured(const struct sw_service_key *key, void *cfg)
{
	return sw_config_service_by_key(cfg, key) != NULL;
}

/* Services in the map that the configuration no longer has go. */
static int remove_unconfigured(struct agent *a, const struct sw_config *next,
			       struct sw_error *e)
{
	return sw_services_prune(&a->dp, configured, (void *)next, e);
}

/*
 * Settings of the node's network namespace that spillway depends on, each
 * with the condition that makes it needed and the reason, which goes into
 * the log when the agent changes it and into the error when it cannot.
 */
struct node_setting {
	const char *name;
	long want;
	bool (*needed)(const struct sw_config *cfg);
	const char *why;
};

static bool has_datapath(const struct sw_config *cfg)
{
	return cfg->n_interfaces > 0;
}

/* A gateway connects to its targets, a tunnel client to its services
 * (local fallback), at the rate connections spill. */
static bool connects_out(const struct sw_config *cfg)
{
	return cfg->has_tunnel || cfg->n_remotes > 0;
}

static const struct node_setting node_settings[] = {
	/*
	 * A spilled connection whose server closes first leaves a TIME_WAIT
	 * socket VIP:port <- client:port here (the tunnel endpoint closed
	 * first). A later SYN from that client port that stays local is to
	 * be forwarded, but early demux attaches the TIME_WAIT socket to it
	 * before routing, and ip_forward drops every packet that carries a
	 * socket. Covers IPv6 too. Costs one route lookup per packet for the
	 * node's own TCP sockets.
	 */
	{ "net.ipv4.tcp_early_demux", 0, has_datapath,
	  "with early demux, a new local connection from the client port of "
	  "a closed spilled one is dropped" },
	/*
	 * The gateway closes first towards the target whenever the client
	 * does, so TIME_WAIT sockets to one target pile up on the gateway:
	 * 28,232 ports / 60 s caps a target at ~470 spilled connections/s,
	 * after which connect() fails (EADDRNOTAVAIL, a 502 per connection).
	 * A node's local fallbacks to a VIP are the same (measured: 3,000
	 * fallbacks/s fell to ~250/s once the ports were in TIME_WAIT).
	 * Reuse lets connect() take a port whose TIME_WAIT is over 1 s old
	 * (TCP timestamps, on by default, keep it safe).
	 */
	{ "net.ipv4.tcp_tw_reuse", 1, connects_out,
	  "without reuse, TIME_WAIT sockets exhaust the ports of connections "
	  "to one target (a gateway's, a node's local fallbacks) at ~470/s" },
};

static int ensure_node_settings(const struct sw_config *cfg,
				struct sw_error *e)
{
	for (size_t i = 0; i < ARRAY_SIZE(node_settings);
	     i++) {
		const struct node_setting *n = &node_settings[i];
		bool changed;
		long old;
		int err;

		if (!n->needed(cfg))
			continue;
		err = sw_sysctl_ensure(n->name, n->want, &old, &changed, e);
		if (err)
			return sw_prefix(e, err, "setting %s=%ld (%s): ",
					 n->name, n->want, n->why);
		if (changed)
			log_info("set %s=%ld (was %ld): %s; 'spillway down' "
				 "leaves it so", n->name, n->want, old, n->why);
	}
	return 0;
}

/* Remotes (names first, so services can point at them), then services. */
static int apply_maps(struct agent *a, const struct sw_config *next,
		      const __u32 *ids, bool first, struct sw_error *e)
{
	int err;

	for (__u32 id = 1; id < SW_MAX_REMOTES; id++) {
		struct sw_remote r;
		bool keep = false;

		for (int i = 0; i < next->n_remotes; i++)
			keep |= ids[i] == id;
		if (!keep && !sw_remote_get(&a->dp, id, &r) && r.name[0] &&
		    (err = sw_remote_set(&a->dp, id, "", false, e)))
			return err;
	}
	for (int i = 0; i < next->n_remotes; i++) {
		struct sw_remote r = {};
		bool healthy;

		/* Health is probed; until then, unknown means no overflow. */
		sw_remote_get(&a->dp, ids[i], &r);
		healthy = !first && !strcmp(r.name, next->remotes[i].name) &&
			  r.healthy;
		err = sw_remote_set(&a->dp, ids[i], next->remotes[i].name,
				    healthy, e);
		if (err)
			return err;
	}
	for (int i = 0; i < next->n_services; i++) {
		struct sw_service_config c;

		service_config(&next->services[i], next, ids, &c);
		err = sw_service_set(&a->dp, &next->services[i].key, &c, e);
		if (err)
			return sw_prefix(e, err, "services[%d] (%s): ", i,
					 next->services[i].name);
	}
	return remove_unconfigured(a, next, e);
}

/*
 * Steered packets out of conntrack (datapath/notrack.h). Without it
 * spilled connections still work where nothing NATs the VIP on the node, so
 * a failure is a warning, said once until it works again, not a refusal.
 */
static void keep_out_of_conntrack(struct agent *a)
{
	struct sw_error e = {};

	if (!sw_notrack_ensure(SW_DEFAULT_STEER_MARK, &e)) {
		a->said_notrack_failed = false;
		return;
	}
	if (!a->said_notrack_failed)
		log_warn("%s; where kube-proxy (or any NAT) rewrites a VIP on "
			 "this node, connections spilled from it are reset",
			 e.msg);
	a->said_notrack_failed = true;
}

/*
 * Make the kernel match next: the datapath (loaded when interfaces first
 * appear), remotes, services, interfaces, the policy route, the notrack
 * table. On success next
 * becomes a->cfg (and next is emptied).
 */
int agent_apply(struct agent *a, struct sw_config *next, bool first,
		struct sw_error *e)
{
	__u32 ids[SW_MAX_REMOTES] = {};
	int n_named, left_out, err;
	char (*named)[SW_NAME_MAX + 1] = agent_vips_named(next, &n_named);
	char why[SW_NAME_MAX + 128];

	/* Services named, not VIP'd: their name's addresses, as known now. */
	left_out = named ? sw_config_expand_vips(next, agent_vips_of, a, why,
						 sizeof(why)) : -ENOMEM;
	if (left_out < 0) {
		free(named);
		return sw_fail(e, -ENOMEM, "out of memory");
	}
	if (left_out)
		log_warn("%s: %s", next->path, why);
	err = check_host(a, next, first, e);

	if (!err && next->n_interfaces)
		err = agent_load_datapath(a, next, e);
	if (!err)
		err = assign_remote_ids(a, next, ids, e);
	if (!err)
		err = ensure_node_settings(next, e);
	if (!err && sw_datapath_loaded(&a->dp))
		err = apply_maps(a, next, ids, first, e);
	if (!err && sw_datapath_loaded(&a->dp))
		err = agent_ifaces_apply(a, next, e);
	if (!err && next->n_interfaces)
		err = sw_steer_route_ensure(&steer_route, e);
	if (!err && next->n_interfaces)
		keep_out_of_conntrack(a);
	if (!err)
		err = agent_finish_upgrade(a, e);
	if (err) {
		free(named);
		return err;
	}
	agent_vips_track(a, named, n_named);
	free(named);
	if (next->n_services && !sw_datapath_loaded(&a->dp))
		log_warn("%s: %d service(s) but no interfaces: nothing counts "
			 "their connections until an interface is configured",
			 next->path, next->n_services);
	if (a->dp.xdp && a->dp.handoff == SW_HANDOFF_FLOW_TABLE &&
	    !a->said_flow_table_handoff) {
		a->said_flow_table_handoff = true;
		log_info("attach: xdp hands off by the flow table on this kernel "
			 "(it refuses XDP metadata): each packet to a VIP is "
			 "looked up in XDP and again in TC; attach: tc costs less "
			 "here");
	}

	sw_config_free(&a->cfg);
	a->cfg = *next;
	memset(next, 0, sizeof(*next));
	memcpy(a->remote_ids, ids, sizeof(ids));
	agent_node_addrs_sync(a);
	return 0;
}

void agent_service_config(const struct agent *a,
			  const struct sw_service_config_entry *s,
			  struct sw_service_config *out)
{
	service_config(s, &a->cfg, a->remote_ids, out);
}
