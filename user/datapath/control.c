// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "spillway.skel.h"
#include "lib/clock.h"
#include "datapath/control.h"

static int run_ctl(struct sw_datapath *dp, struct sw_ctl *req,
		   struct sw_error *e)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = req,
		    .ctx_size_in = sizeof(*req));
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(dp->skel->progs.spill_ctl),
				     &opts);
	if (err)
		return sw_fail(e, -errno, "running spill_ctl failed: %s",
			       strerror(errno));
	return req->err;
}

int sw_service_resume_below(__u32 max_connections, __u32 *resume_below,
			    const char *max_name, struct sw_error *e)
{
	if (!*resume_below)
		*resume_below = max_connections;
	if (*resume_below <= max_connections)
		return 0;
	return sw_fail(e, -EINVAL, "%u is more than %s (%u); expected a whole "
		       "number from 1 to %u", *resume_below, max_name,
		       max_connections, max_connections);
}

int sw_service_set(struct sw_datapath *dp, const struct sw_service_key *key,
		   const struct sw_service_config *cfg, struct sw_error *e)
{
	struct sw_ctl req = { .op = SW_CTL_SERVICE_SET };
	int err;

	req.service.key = *key;
	req.service.cfg = *cfg;
	err = sw_service_resume_below(cfg->max_connections,
				      &req.service.cfg.resume_below,
				      "max_connections", e);
	if (err)
		return sw_prefix(e, err, "resume_below ");
	err = run_ctl(dp, &req, e);
	if (err == -E2BIG)
		return sw_fail(e, err, "the services map is full (%u services)",
			       SW_MAX_SERVICES);
	if (err)
		return sw_fail(e, err, "cannot set the service: %s",
			       strerror(-err));
	return 0;
}

int sw_service_get(struct sw_datapath *dp, const struct sw_service_key *key,
		   struct sw_service *out)
{
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.services), key, out))
		return -errno;
	return 0;
}

int sw_service_add(struct sw_datapath *dp, const struct sw_service_key *key,
		   const struct sw_service_delta *delta, struct sw_error *e)
{
	struct sw_ctl req = { .op = SW_CTL_SERVICE_ADD };
	int err;

	req.add.key = *key;
	req.add.delta = *delta;
	err = run_ctl(dp, &req, e);
	if (err && err != -ENOENT)
		return sw_fail(e, err, "cannot add to the service's counters: %s",
			       strerror(-err));
	return err;
}

int sw_service_delete(struct sw_datapath *dp, const struct sw_service_key *key,
		      struct sw_error *e)
{
	if (bpf_map_delete_elem(bpf_map__fd(dp->skel->maps.services), key))
		return sw_fail(e, -errno, "cannot remove the service: %s",
			       strerror(errno));
	return 0;
}

int sw_services_prune(struct sw_datapath *dp,
		      bool (*keep)(const struct sw_service_key *key, void *arg),
		      void *arg, struct sw_error *e)
{
	int fd = bpf_map__fd(dp->skel->maps.services);
	struct sw_service_key key, prev;
	void *p = NULL;

	while (!bpf_map_get_next_key(fd, p, &key)) {
		if (!keep(&key, arg)) {
			int err = sw_service_delete(dp, &key, e);

			if (err)
				return err;
			continue;	/* key is gone: continue after prev */
		}
		prev = key;
		p = &prev;
	}
	return 0;
}

int sw_flow_get(struct sw_datapath *dp, const struct sw_flow_key *key,
		struct sw_flow *out)
{
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.flows), key, out))
		return -errno;
	return 0;
}

int sw_flows_walk(struct sw_datapath *dp, sw_flow_visit visit, void *arg,
		  struct sw_error *e)
{
	int fd = bpf_map__fd(dp->skel->maps.flows), err = 0, stop = 0;
	__u32 n = SW_FLOWS_WALK_BATCH, batch, size = SW_FLOWS_WALK_BATCH;
	struct sw_flow_key *keys = NULL;
	struct sw_flow *flows = NULL;
	bool first = true, last = false;

	while (!last && !stop && !err) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

		if (!keys && (!(keys = calloc(size, sizeof(*keys))) ||
			      !(flows = calloc(size, sizeof(*flows))))) {
			err = sw_fail(e, -ENOMEM, "out of memory");
			break;
		}
		n = size;
		if (bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch,
					 keys, flows, &n, &opts)) {
			err = -errno;
			/*
			 * One hash bucket holds more entries than fit: a
			 * bigger buffer, the same position.
			 */
			if (err == -ENOSPC && size < SW_FLOWS_WALK_BATCH_MAX) {
				free(keys);
				free(flows);
				keys = NULL;
				flows = NULL;
				size *= 4;
				err = 0;
				continue;
			}
			if (err != -ENOENT) {
				sw_fail(e, err, "cannot read the flow table: %s",
					strerror(-err));
				break;
			}
			err = 0;
			last = true;	/* n entries, the table's last */
		}
		first = false;
		for (__u32 i = 0; i < n && !stop; i++)
			stop = visit(arg, &keys[i], &flows[i]);
	}
	free(keys);
	free(flows);
	return err;
}

int sw_link_gone(struct sw_datapath *dp, int ifindex, __u32 *released,
		 struct sw_error *e)
{
	struct sw_ctl req = { .op = SW_CTL_LINK_GONE };
	int err;

	req.link.ifindex = ifindex;
	err = run_ctl(dp, &req, e);
	*released = req.link.released;
	if (err < 0)
		return sw_fail(e, err, "cannot release the flows of link %d: %s",
			       ifindex, strerror(-err));
	return 0;
}

int sw_remote_get(struct sw_datapath *dp, __u32 id, struct sw_remote *out)
{
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.remotes), &id, out))
		return -errno;
	return 0;
}

int sw_remote_set(struct sw_datapath *dp, __u32 id, const char *name,
		  bool healthy, struct sw_error *e)
{
	struct sw_remote r = {};

	if (id == 0 || id >= SW_MAX_REMOTES)
		return sw_fail(e, -EINVAL, "remote id %u is out of range 1..%u",
			       id, SW_MAX_REMOTES - 1);
	if (!name && sw_remote_get(dp, id, &r))
		return sw_fail(e, -errno, "cannot read remote %u: %s", id,
			       strerror(errno));
	if (name)
		snprintf(r.name, sizeof(r.name), "%s", name);
	r.healthy = healthy;
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.remotes), &id, &r,
				BPF_ANY))
		return sw_fail(e, -errno, "cannot set remote %u: %s", id,
			       strerror(errno));
	return 0;
}

static int write_heartbeat(struct sw_datapath *dp, __u64 ns, struct sw_error *e)
{
	struct sw_agent a = { .heartbeat_ns = ns, .pid = getpid() };
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.agent), &zero, &a,
				BPF_ANY))
		return sw_fail(e, -errno, "cannot write the agent heartbeat: %s",
			       strerror(errno));
	return 0;
}

int sw_agent_heartbeat(struct sw_datapath *dp, __u64 now_ns, struct sw_error *e)
{
	return write_heartbeat(dp, now_ns ? now_ns : sw_now_ns(), e);
}

int sw_agent_heartbeat_stop(struct sw_datapath *dp, struct sw_error *e)
{
	return write_heartbeat(dp, 0, e);	/* 0: no agent (service.h) */
}

int sw_collect(struct sw_datapath *dp, const struct sw_collect_params *params,
	       struct sw_collect_result *result, struct sw_error *e)
{
	struct sw_ctl req = { .op = SW_CTL_COLLECT };
	int err;

	req.collect.params = *params;
	if (!req.collect.params.now_ns)
		req.collect.params.now_ns = sw_now_ns();
	err = run_ctl(dp, &req, e);
	if (err)
		return sw_fail(e, err, "flow collection failed: %s",
			       strerror(-err));
	*result = req.collect.result;
	return 0;
}

int sw_flow_fall_back(struct sw_datapath *dp, const struct sw_flow_key *key,
		      struct sw_error *e)
{
	struct sw_ctl req = { .op = SW_CTL_FLOW_FALLBACK };
	int err;

	req.flow.key = *key;
	err = run_ctl(dp, &req, e);
	if (err == -ENOENT) {		/* a NodePort's flow has no VIP */
		memset(req.flow.key.svc.vip, 0, sizeof(req.flow.key.svc.vip));
		err = run_ctl(dp, &req, e);
	}
	if (err)
		return sw_fail(e, err, "cannot move the flow's slot to local: %s",
			       err == -ENOENT ? "no such open flow" :
			       err == -EALREADY ? "moved already" : strerror(-err));
	return 0;
}

int sw_stats_read(struct sw_datapath *dp, struct sw_stats *sum,
		  struct sw_error *e)
{
	enum { FIELDS = sizeof(struct sw_stats) / sizeof(__u64) };
	int ncpu = libbpf_num_possible_cpus();
	__u64 *sumv = (__u64 *)sum;
	struct sw_stats *percpu;
	__u32 zero = 0;
	int err = 0;

	_Static_assert(sizeof(struct sw_stats) % sizeof(__u64) == 0,
		       "sw_stats holds only __u64 counters");
	if (ncpu <= 0)
		return sw_fail(e, ncpu, "cannot count CPUs");
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return sw_fail(e, -ENOMEM, "out of memory");
	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.stats), &zero,
				percpu)) {
		err = sw_fail(e, -errno, "cannot read stats: %s",
			      strerror(errno));
	} else {
		for (int c = 0; c < ncpu; c++)
			for (int f = 0; f < FIELDS; f++)
				sumv[f] += ((__u64 *)&percpu[c])[f];
	}
	free(percpu);
	return err;
}

int sw_node_addrs_set(struct sw_datapath *dp,
		      const struct sw_node_addr_key *addrs, int n,
		      struct sw_error *e)
{
	int fd = bpf_map__fd(dp->skel->maps.node_addrs);
	struct sw_node_addr_key key, next;
	__u32 one = 1;
	bool more;

	for (int i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, &addrs[i], &one, BPF_ANY))
			return sw_fail(e, -errno, "cannot add the node's address "
				       "%d of %d to the node_addrs map: %s%s",
				       i + 1, n, strerror(errno),
				       errno == E2BIG ? " (more addresses than "
				       "SW_MAX_NODE_ADDRS)" : "");
	/* Then what the node no longer has goes. */
	more = !bpf_map_get_next_key(fd, NULL, &key);
	while (more) {
		bool kept = false;

		more = !bpf_map_get_next_key(fd, &key, &next);
		for (int i = 0; i < n && !kept; i++)
			kept = !memcmp(&addrs[i], &key, sizeof(key));
		if (!kept && bpf_map_delete_elem(fd, &key) && errno != ENOENT)
			return sw_fail(e, -errno, "cannot remove an address the "
				       "node no longer has from node_addrs: %s",
				       strerror(errno));
		key = next;
	}
	return 0;
}
