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
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "spillway/abi.h"
#include "spillway.skel.h"
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

static int build_view(struct agent *a, struct sw_view *v, struct sw_error *e)
{
	bool dp = sw_datapath_loaded(&a->dp);

	memset(v, 0, sizeof(*v));
	v->cfg = &a->cfg;
	v->services = calloc(a->cfg.n_services + 1, sizeof(*v->services));
	v->remotes = calloc(a->cfg.n_remotes + 1, sizeof(*v->remotes));
	if (!v->services || !v->remotes)
		return sw_fail(e, -ENOMEM, "out of memory");
	view_datapath(a, v);
	for (int i = 0; i < a->cfg.n_services; i++) {
		v->services[i].cfg = &a->cfg.services[i];
		v->services[i].in_map = dp && !sw_service_get(&a->dp,
			&a->cfg.services[i].key, &v->services[i].live);
	}
	for (int i = 0; i < a->cfg.n_remotes; i++) {
		struct sw_remote r = {};

		v->remotes[i].cfg = &a->cfg.remotes[i];
		v->remotes[i].id = a->remote_ids[i];
		v->remotes[i].healthy = dp && !sw_remote_get(&a->dp,
						a->remote_ids[i], &r) && r.healthy;
		v->remotes[i].tunnel = sw_tunnel_counters(a->tunnel,
							  a->cfg.remotes[i].name);
		v->remotes[i].ejected_ns = sw_tunnel_ejected_ns(a->tunnel,
			a->cfg.remotes[i].name, sw_now_ns());
	}
	v->gateway = sw_gateway_counters(a->gateway);
	v->fallback = sw_tunnel_fallbacks(a->tunnel);
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
	agent_service_config(a, s, &c);
	c.max_connections = r->max_connections;
	c.resume_below = r->resume_below;
	if (sw_service_set(&a->dp, &s->key, &c, &e)) {
		fprintf(out, "%s\n", e.msg);
		return SW_RPC_FAILED;
	}
	log_info("service %s: max_connections %u, resume_below %u (set from "
		 "the CLI; the next configuration reload restores the file's "
		 "values)", s->name, c.max_connections, c.resume_below);
	fprintf(out, "%s: max_connections %u, resume_below %u\n", s->name,
		c.max_connections, c.resume_below);
	return SW_RPC_OK;
}

static const char *service_name(const struct sw_config *cfg,
				const struct sw_service_key *key)
{
	for (int i = 0; i < cfg->n_services; i++)
		if (!memcmp(&cfg->services[i].key, key, sizeof(*key)))
			return cfg->services[i].name;
	return "";
}

static const char *remote_name(const struct agent *a, __u32 id)
{
	for (int i = 0; i < a->cfg.n_remotes; i++)
		if (a->remote_ids[i] == id)
			return a->cfg.remotes[i].name;
	return "";
}

static enum sw_rpc_status do_flows(struct agent *a, const struct sw_request *r,
				   FILE *out)
{
	const struct sw_service_config_entry *only = NULL;
	/* No datapath: no flow table, an empty list. */
	int fd = sw_datapath_loaded(&a->dp) ?
		 bpf_map__fd(a->dp.skel->maps.flows) : -1;
	struct sw_flow_key key, prev;
	__u64 shown = 0, matched = 0;
	struct sw_flow f;
	struct json j;
	void *p = NULL;

	if (r->service[0]) {
		only = sw_config_service(&a->cfg, r->service);
		if (!only)
			return no_such_service(a, r->service, out);
	}
	report_flows_begin(out, r->json, &j);
	for (; !bpf_map_get_next_key(fd, p, &key); prev = key, p = &prev) {
		struct sw_flow_row row = { .key = &key, .flow = &f,
					   .now_ns = sw_now_ns() };

		if (bpf_map_lookup_elem(fd, &key, &f) ||
		    (only && memcmp(&only->key, &key.svc, sizeof(key.svc))))
			continue;
		matched++;
		if (r->limit && shown == r->limit)
			continue;	/* counted, not shown */
		row.service = service_name(&a->cfg, &key.svc);
		row.remote = f.decision == SW_REMOTE ? remote_name(a, f.remote) : "";
		report_flow(out, r->json, &j, &row);
		shown++;
	}
	report_flows_end(out, r->json, &j, shown, matched);
	return SW_RPC_OK;
}

void agent_serve_request(struct agent *a)
{
	struct sw_rpc_request req;
	enum sw_rpc_status status;
	struct sw_request r;
	struct sw_error e = {};
	size_t len = 0;
	char *body = NULL;
	FILE *out;

	if (sw_rpc_accept(a->ctl_io.fd, &req, &e)) {
		log_warn("control socket: %s", e.msg);
		return;
	}
	out = open_memstream(&body, &len);
	if (!out) {
		sw_rpc_reply(&req, SW_RPC_FAILED, "out of memory\n", 14);
		return;
	}
	if (sw_request_parse(req.argc, req.argv, &r, &e)) {
		fprintf(out, "%s\n", e.msg);
		status = SW_RPC_USAGE;
	} else if (r.verb == SW_VERB_STATUS) {
		status = do_status(a, &r, out);
	} else if (r.verb == SW_VERB_SERVICE_SET) {
		status = do_service_set(a, &r, out);
	} else {
		status = do_flows(a, &r, out);
	}
	fclose(out);
	sw_rpc_reply(&req, status, body, len);
	free(body);
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
		fputs("ok\n", out);
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
