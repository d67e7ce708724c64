// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What the agent answers: the CLI's verbs on the control socket (status,
 * service set, flows) and /metrics, /healthz, /readyz over HTTP, from a view
 * of the applied configuration next to the live maps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spillway/abi.h"
#include "agent/agent_priv.h"
#include "datapath/control.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "agent/report.h"
#include "agent/request.h"
#include "agent/rpc.h"

/* ------------------------------------------------------------------------
 * The view of configuration and maps that status and metrics report
 */

/* What the datapath is, for the view: loaded or not, XDP mode's handoff. */
static void view_datapath(const struct agent *a, struct sw_view *v)
{
	v->datapath = sw_datapath_loaded(&a->dp);
	v->xdp_handoff = a->dp.xdp ? sw_handoff_name(a->dp.handoff) : "";
	v->xdp_meta_refused = sw_datapath_meta_refused(&a->dp);
}

/* The tunnel's counters: the workers', summed (and the agent's resolver). */
static void view_workers(struct agent *a, struct sw_view *v)
{
	const struct sw_resolver_stats *r = sw_resolver_stats(a->resolver);
	struct agent_counts *sum = v->counts;

	agent_workers_count(a, sum, v->workers);
	v->n_workers = a->n_workers;
	v->resolver = sum->resolver;
	v->resolver.cached += r->cached;
	v->resolver.queries += r->queries;
	v->resolver.failed += r->failed;
	v->gateway = sum->gateway ? &sum->gw : NULL;
	v->fallback = sum->client ? &sum->fallback : NULL;
}

/* What the workers counted for remote i (NULL: no tunnel client). */
static void view_remote_tunnel(const struct sw_view *v, int i, __u64 now)
{
	const struct agent_counts *sum = v->counts;
	struct sw_view_remote *r = &v->remotes[i];

	for (int k = 0; sum->client && k < sum->n_remotes; k++) {
		if (strcmp(sum->remote[k].name, r->cfg->name))
			continue;
		r->tunnel = &sum->remote[k].c;
		r->ejected_ns = sum->remote[k].ejected_until_ns > now ?
				sum->remote[k].ejected_until_ns - now : 0;
	}
}

static int build_view(struct agent *a, struct sw_view *v, struct sw_error *e)
{
	bool dp = sw_datapath_loaded(&a->dp);
	__u64 now = sw_now_ns();

	memset(v, 0, sizeof(*v));
	v->cfg = &a->cfg;
	v->ifaces = a->ifaces;
	v->n_ifaces = a->n_ifaces;
	v->flows_released_link_gone = a->flows_released_link_gone;
	v->services = calloc(a->cfg.n_services + 1, sizeof(*v->services));
	v->remotes = calloc(a->cfg.n_remotes + 1, sizeof(*v->remotes));
	v->counts = malloc(sizeof(*v->counts));
	v->workers = calloc(a->n_workers + 1, sizeof(*v->workers));
	if (!v->services || !v->remotes || !v->counts || !v->workers)
		return sw_fail(e, -ENOMEM, "out of memory");
	view_datapath(a, v);
	view_workers(a, v);
	for (int i = 0; i < a->cfg.n_services; i++) {
		struct sw_service *live = &v->services[i].live;

		v->services[i].cfg = &a->cfg.services[i];
		v->services[i].in_map = dp && !sw_service_get(&a->dp,
			&a->cfg.services[i].key, live);
		/* What the next SYN finds, not the flag's last setting. */
		live->flags = v->services[i].in_map && sw_service_spills_next(live) ?
			      SW_SVC_OVERFLOWING : 0;
	}
	for (int i = 0; i < a->cfg.n_remotes; i++) {
		struct sw_remote r = {};

		v->remotes[i].cfg = &a->cfg.remotes[i];
		v->remotes[i].id = a->remote_ids[i];
		v->remotes[i].healthy = dp && !sw_remote_get(&a->dp,
						a->remote_ids[i], &r) && r.healthy;
		view_remote_tunnel(v, i, now);
	}
	v->cert_not_after = a->tls ? sw_tls_not_after(a->tls) : 0;
	v->cert_reloads_ok = a->cert_reloads_ok;
	v->cert_reloads_failed = a->cert_reloads_failed;
	v->flows_scanned = a->flows_scanned;
	v->reloads_ok = a->reloads_ok;
	v->reloads_failed = a->reloads_failed;
	v->ready = a->ready;
	v->draining = a->draining;
	return dp ? sw_stats_read(&a->dp, &v->stats, e) : 0;
}

static void free_view(struct sw_view *v)
{
	free(v->services);
	free(v->remotes);
	free(v->counts);
	free(v->workers);
}

/* ------------------------------------------------------------------------
 * Verbs served on the control socket
 */

static enum sw_rpc_status do_status(struct agent *a, const struct sw_request *r,
				    FILE *out)
{
	struct sw_error e = {};
	struct sw_view v;
	int err = build_view(a, &v, &e);

	if (!err)
		report_status(out, r->json, &v);
	else
		fprintf(out, "%s\n", e.msg);
	free_view(&v);
	return err ? SW_RPC_FAILED : SW_RPC_OK;
}

static enum sw_rpc_status no_such_service(struct agent *a, const char *name,
					  FILE *out)
{
	fprintf(out, "no service named '%s'; the configuration has:", name);
	for (int i = 0; i < a->cfg.n_services; i++)
		fprintf(out, " %s", a->cfg.services[i].name);
	fputc('\n', out);
	return SW_RPC_FAILED;
}

static enum sw_rpc_status do_service_set(struct agent *a,
					 const struct sw_request *r, FILE *out)
{
	const struct sw_service_config_entry *s = sw_config_service(&a->cfg,
								    r->service);
	struct sw_service_config c;
	struct sw_error e = {};

	if (!s)
		return no_such_service(a, r->service, out);
	if (!sw_datapath_loaded(&a->dp)) {
		fprintf(out, "this agent runs no datapath (%s has no interfaces), "
			"so nothing counts %s's connections here; set the "
			"threshold on the agents of the nodes its clients reach\n",
			a->cfg.path, s->name);
		return SW_RPC_FAILED;
	}
	/* Every VIP of the name (a Service resolved by name may have two). */
	for (int i = 0; i < a->cfg.n_services; i++) {
		if (strcmp(a->cfg.services[i].name, s->name))
			continue;
		agent_service_config(a, &a->cfg.services[i], &c);
		c.max_connections = r->max_connections;
		c.resume_below = r->resume_below;
		if (sw_service_set(&a->dp, &a->cfg.services[i].key, &c, &e)) {
			fprintf(out, "%s\n", e.msg);
			return SW_RPC_FAILED;
		}
	}
	log_info("service %s: max_connections %u, resume_below %u (set from "
		 "the CLI; the next configuration reload restores the file's "
		 "values)", s->name, c.max_connections, c.resume_below);
	fprintf(out, "%s: max_connections %u, resume_below %u\n", s->name,
		c.max_connections, c.resume_below);
	return SW_RPC_OK;
}

static const char *remote_name(const struct agent *a, __u32 id)
{
	for (int i = 0; i < a->cfg.n_remotes; i++)
		if (a->remote_ids[i] == id)
			return a->cfg.remotes[i].name;
	return "";
}

/* Where flows are shown, as sw_flows_walk goes. */
struct flows_shown {
	struct agent *a;
	const struct sw_request *r;
	const struct sw_service_config_entry *only;	/* --service */
	FILE *out;
	struct json j;
	__u64 shown;
	bool more;		/* a match beyond --limit: the walk stopped */
};

static int show_flow(void *arg, const struct sw_flow_key *key,
		     const struct sw_flow *f)
{
	struct flows_shown *fs = arg;
	const struct sw_service_config_entry *svc =
		sw_config_service_by_key(&fs->a->cfg, &key->svc);
	struct sw_flow_row row = { .key = key, .flow = f,
				   .now_ns = sw_now_ns() };

	/* By name: a service resolved from its name may have several VIPs. */
	if (fs->only && (!svc || strcmp(svc->name, fs->only->name)))
		return 0;
	if (fs->r->limit && fs->shown == fs->r->limit) {
		fs->more = true;
		return 1;
	}
	row.service = svc ? svc->name : "";
	row.remote = f->decision == SW_REMOTE ? remote_name(fs->a, f->remote) : "";
	report_flow(fs->out, fs->r->json, &fs->j, &row);
	fs->shown++;
	return 0;
}

/*
 * The flow table, read in batches and only as far as --limit needs (the
 * table holds up to millions of flows, and this runs on the event loop).
 */
static enum sw_rpc_status do_flows(struct agent *a, const struct sw_request *r,
				   FILE *out)
{
	struct flows_shown fs = { .a = a, .r = r, .out = out };
	struct sw_error e = {};

	if (r->service[0]) {
		fs.only = sw_config_service(&a->cfg, r->service);
		if (!fs.only)
			return no_such_service(a, r->service, out);
	}
	report_flows_begin(out, r->json, &fs.j);
	/* No datapath: no flow table, an empty list. */
	if (sw_datapath_loaded(&a->dp) &&
	    sw_flows_walk(&a->dp, show_flow, &fs, &e))
		log_warn("flows: %s", e.msg);
	report_flows_end(out, r->json, &fs.j, fs.shown, fs.more);
	return SW_RPC_OK;
}

enum sw_rpc_status agent_serve_request(void *arg, int argc, char *argv[],
					FILE *out)
{
	struct agent *a = arg;
	struct sw_request r;
	struct sw_error e = {};

	if (sw_request_parse(argc, argv, &r, &e)) {
		fprintf(out, "%s\n", e.msg);
		return SW_RPC_USAGE;
	}
	if (r.verb == SW_VERB_STATUS)
		return do_status(a, &r, out);
	if (r.verb == SW_VERB_SERVICE_SET)
		return do_service_set(a, &r, out);
	return do_flows(a, &r, out);
}

/* ------------------------------------------------------------------------
 * HTTP: /metrics, /healthz, /readyz
 */

int agent_serve_http(void *arg, const char *url, FILE *out)
{
	struct agent *a = arg;
	struct sw_error e = {};
	struct sw_view v;
	int status = 200;

	if (!strcmp(url, "/healthz")) {
		unsigned int stalled = agent_workers_stalled(a);

		if (stalled)
			fprintf(out, "%u worker(s) stalled: not ticking for "
				"%d s or more\n", stalled, SW_WORKER_STALL_S);
		else
			fputs("ok\n", out);
		status = stalled ? 503 : 200;
	} else if (!strcmp(url, "/readyz")) {
		fputs(a->ready ? "ready\n" : a->draining ? "draining\n" :
		      "not ready\n", out);
		status = a->ready ? 200 : 503;
	} else if (!strcmp(url, "/metrics")) {
		if (build_view(a, &v, &e)) {
			fprintf(out, "%s\n", e.msg);
			status = 500;
		} else {
			report_metrics(out, &v);
		}
		free_view(&v);
	} else {
		fputs("not found: try /metrics, /healthz or /readyz\n", out);
		status = 404;
	}
	return status;
}
