// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "spillway/defaults.h"
#include "lib/addr.h"
#include "lib/util.h"
#include "agent/report.h"

const char *sw_service_state(const struct sw_service *s)
{
	return s->flags & SW_SVC_OVERFLOWING ? "overflowing" : "normal";
}

const char *sw_flow_state(__u32 state)
{
	if (state & SW_FLOW_RST)
		return "reset";
	if ((state & (SW_FLOW_FIN_CLIENT | SW_FLOW_FIN_SERVER)) ==
	    (SW_FLOW_FIN_CLIENT | SW_FLOW_FIN_SERVER))
		return "closed";
	if (state & (SW_FLOW_FIN_CLIENT | SW_FLOW_FIN_SERVER))
		return "closing";
	if (state & SW_FLOW_RELEASED)
		return "expired";
	return state & SW_FLOW_ACKED ? "established" : "half-open";
}

/* A service entry's VIP: "*" for a NodePort's (any of the node's addresses). */
static const char *vip_text(const struct sw_service_config_entry *s)
{
	return s->vip[0] ? s->vip : "*";
}

/* A service's VIP:port as host:port text ([v6]:port, *:30080). */
static const char *vip_port(const struct sw_service_config_entry *s, char *buf,
			    size_t len)
{
	struct sw_hostport hp = { .port = s->key.port };

	snprintf(hp.host, sizeof(hp.host), "%s", vip_text(s));
	return sw_hostport_format(&hp, buf, len);
}

static void status_json(FILE *out, const struct sw_view *v)
{
	char gw[SW_NAME_MAX + 16];
	struct json j;

	json_init(&j, out);
	json_object(&j);
	json_field_str(&j, "cluster", v->cfg->cluster);
	json_field_bool(&j, "ready", v->ready);
	json_field_bool(&j, "draining", v->draining);
	json_field_object(&j, "datapath");
	json_field_bool(&j, "loaded", v->datapath);
	json_field_str(&j, "xdp_handoff", v->xdp_handoff);
	json_field_bool(&j, "xdp_meta_refused", v->xdp_meta_refused);
	json_end(&j);
	json_field_array(&j, "interfaces");
	for (int i = 0; i < v->n_ifaces; i++) {
		json_object(&j);
		json_field_str(&j, "name", v->ifaces[i].name);
		json_field_str(&j, "attach",
			       sw_attach_mode_name(v->ifaces[i].attach));
		json_field_str(&j, "matched", v->ifaces[i].matched);
		json_field_str(&j, "bridge", v->ifaces[i].bridge_name);
		json_end(&j);
	}
	json_end(&j);
	json_field_object(&j, "workers");
	json_field_uint(&j, "count", v->n_workers);
	json_field_array(&j, "each");
	for (unsigned int i = 0; i < v->n_workers; i++) {
		const struct agent_worker_view *w = &v->workers[i];

		json_object(&j);
		json_field_uint(&j, "id", i);
		json_field_bool(&j, "alive", w->alive);
		json_field_uint(&j, "tick_age_ms", w->tick_age_ns / 1000000);
		json_field_uint(&j, "streams", w->streams);
		json_field_uint(&j, "streams_total", w->streams_total);
		json_end(&j);
	}
	json_end(&j);
	json_end(&j);
	json_field_object(&j, "resolver");
	json_field_uint(&j, "queries", v->resolver.queries);
	json_field_uint(&j, "cached", v->resolver.cached);
	json_field_uint(&j, "failed", v->resolver.failed);
	json_end(&j);
	json_field_array(&j, "services");
	for (int i = 0; i < v->cfg->n_services; i++) {
		const struct sw_service_config_entry *c = v->services[i].cfg;
		const struct sw_service *l = &v->services[i].live;

		json_object(&j);
		json_field_str(&j, "name", c->name);
		json_field_str(&j, "vip", vip_text(c));
		json_field_uint(&j, "port", c->key.port);
		json_field_str(&j, "protocol", "tcp");
		json_field_uint(&j, "max_connections", l->cfg.max_connections);
		json_field_uint(&j, "resume_below", l->cfg.resume_below);
		json_field_uint(&j, "active_local", l->active_local);
		json_field_uint(&j, "active_remote", l->active_remote);
		json_field_uint(&j, "local_total", l->local_total);
		json_field_uint(&j, "overflowed_total", l->overflowed_total);
		json_field_uint(&j, "overflow_unavailable_total",
				l->overflow_unavailable_total);
		json_field_uint(&j, "local_fallback_total", l->local_fallback_total);
		json_field_uint(&j, "handshakes_aged_total",
				l->handshakes_aged_total);
		json_field_str(&j, "state", sw_service_state(l));
		json_end(&j);
	}
	json_end(&j);
	json_field_array(&j, "remotes");
	for (int i = 0; i < v->cfg->n_remotes; i++) {
		const struct sw_view_remote *r = &v->remotes[i];

		sw_hostport_format(&r->cfg->gateway, gw, sizeof(gw));
		json_object(&j);
		json_field_str(&j, "name", r->cfg->name);
		json_field_str(&j, "gateway", gw);
		json_field_bool(&j, "healthy", r->healthy);
		json_field_uint(&j, "ejected_ms", r->ejected_ns / 1000000);
		if (r->tunnel) {
			json_field_uint(&j, "connections", r->tunnel->connections_open);
			json_field_uint(&j, "streams", r->tunnel->streams_open);
		}
		json_end(&j);
	}
	json_end(&j);
	json_end(&j);
	fputc('\n', out);
}

static void status_text(FILE *out, const struct sw_view *v)
{
	char vip[SW_NAME_MAX + 16], gw[SW_NAME_MAX + 16];

	fprintf(out, "cluster %s, %s\n", v->cfg->cluster,
		v->ready ? "ready" : v->draining ? "draining: stopping once its "
		"spilled connections end; new connections stay local" :
		"not ready");
	if (!v->datapath)
		fprintf(out, "datapath: none (no interfaces: gateway only)\n");
	else if (v->xdp_handoff[0])
		fprintf(out, "datapath: loaded; XDP mode hands off by %s%s\n",
			v->xdp_handoff, v->xdp_meta_refused ? " (a driver "
			"refused metadata: by the flow table since)" : "");
	else
		fprintf(out, "datapath: loaded\n");
	if (v->datapath) {
		fprintf(out, "interfaces:");
		for (int i = 0; i < v->n_ifaces; i++) {
			const struct sw_attached *f = &v->ifaces[i];
			bool matched = strcmp(f->name, f->matched);

			fprintf(out, " %s (%s%s%s%s%s)", f->name,
				sw_attach_mode_name(f->attach),
				matched ? ", matches " : "",
				matched ? f->matched : "",
				f->bridge_name[0] ? ", port of " : "",
				f->bridge_name);
		}
		fprintf(out, "%s\n", v->n_ifaces ? "" : " none yet (no link "
			"matches the configured patterns)");
	}
	fprintf(out, "workers: %u", v->n_workers);
	for (unsigned int i = 0; i < v->n_workers; i++)
		if (!v->workers[i].alive)
			fprintf(out, "; worker %u stalled (no tick for %" PRIu64
				" s)", i, (uint64_t)(v->workers[i].tick_age_ns /
						     NS_PER_S));
	fputc('\n', out);
	fputc('\n', out);
	fprintf(out, "%-32s %-24s %6s %6s %6s %6s %10s %11s  %s\n", "SERVICE",
		"VIP:PORT", "MAX", "RESUME", "LOCAL", "REMOTE", "OVERFLOWED",
		"UNAVAILABLE", "STATE");
	for (int i = 0; i < v->cfg->n_services; i++) {
		const struct sw_view_service *s = &v->services[i];

		vip_port(s->cfg, vip, sizeof(vip));
		fprintf(out, "%-32s %-24s %6u %6u %6u %6u %10" PRIu64 " %11" PRIu64
			"  %s\n", s->cfg->name, vip, s->live.cfg.max_connections,
			s->live.cfg.resume_below, s->live.active_local,
			s->live.active_remote, (uint64_t)s->live.overflowed_total,
			(uint64_t)s->live.overflow_unavailable_total,
			sw_service_state(&s->live));
	}
	if (!v->cfg->n_remotes)
		return;
	fprintf(out, "\n%-32s %-40s %5s %7s  %s\n", "REMOTE", "GATEWAY", "CONNS",
		"STREAMS", "HEALTHY");
	for (int i = 0; i < v->cfg->n_remotes; i++) {
		const struct sw_view_remote *r = &v->remotes[i];
		const struct sw_tunnel_counters *c = r->tunnel;
		char health[64], d[32];

		if (r->ejected_ns)
			snprintf(health, sizeof(health), "no (ejected for %s)",
				 sw_duration_format(r->ejected_ns, d, sizeof(d)));
		else
			snprintf(health, sizeof(health), "%s", r->healthy ? "yes" : "no");
		sw_hostport_format(&r->cfg->gateway, gw, sizeof(gw));
		fprintf(out, "%-32s %-40s %5" PRIu64 " %7" PRIu64 "  %s\n",
			r->cfg->name, gw, (uint64_t)(c ? c->connections_open : 0),
			(uint64_t)(c ? c->streams_open : 0), health);
	}
}

void report_status(FILE *out, bool json, const struct sw_view *v)
{
	if (json)
		status_json(out, v);
	else
		status_text(out, v);
}

/* ---- flows ---- */

void report_flows_begin(FILE *out, bool json, struct json *j)
{
	if (json) {
		json_init(j, out);
		json_object(j);
		json_field_array(j, "flows");
		return;
	}
	fprintf(out, "%-46s %-32s %-16s %-12s %8s %8s\n", "CLIENT", "SERVICE",
		"DECISION", "STATE", "AGE", "IDLE");
}

static __u64 seconds_since(__u64 then, __u64 now)
{
	return now > then ? (now - then) / 1000000000ull : 0;
}

void report_flow(FILE *out, bool json, struct json *j,
		 const struct sw_flow_row *r)
{
	const struct sw_flow *f = r->flow;
	bool remote = f->decision == SW_REMOTE;
	char client[SW_ADDR_STRLEN], where[SW_SHORT_NAME_MAX + 16];
	char ep[SW_ADDR_STRLEN + 16];

	sw_addr_format(r->key->client, r->key->svc.family, client);
	if (f->state & SW_FLOW_LOCAL_FALLBACK)
		snprintf(where, sizeof(where), "local (fallback)");
	else
		snprintf(where, sizeof(where), "%s%s%s", remote ? "remote " : "local",
			 remote ? r->remote : "",
			 !remote && (f->state & SW_FLOW_UNAVAILABLE) ? " (kept)" : "");
	if (json) {
		json_object(j);
		json_field_str(j, "client", client);
		json_field_uint(j, "client_port", r->key->client_port);
		json_field_str(j, "service", r->service);
		json_field_uint(j, "port", r->key->svc.port);
		json_field_str(j, "decision", remote ? "remote" : "local");
		json_field_str(j, "remote", r->remote);
		json_field_bool(j, "unavailable", f->state & SW_FLOW_UNAVAILABLE);
		json_field_bool(j, "local_fallback",
				f->state & SW_FLOW_LOCAL_FALLBACK);
		json_field_str(j, "state", sw_flow_state(f->state));
		json_field_uint(j, "age_s",
				seconds_since(f->created_ns, r->now_ns));
		json_field_uint(j, "idle_s",
				seconds_since(f->last_seen_ns, r->now_ns));
		json_end(j);
		return;
	}
	snprintf(ep, sizeof(ep), r->key->svc.family == SW_INET6 ? "[%s]:%u" :
		 "%s:%u", client, r->key->client_port);
	fprintf(out, "%-46s %-32s %-16s %-12s %7" PRIu64 "s %7" PRIu64 "s\n", ep,
		r->service[0] ? r->service : "(not configured)", where,
		sw_flow_state(f->state),
		(uint64_t)seconds_since(f->created_ns, r->now_ns),
		(uint64_t)seconds_since(f->last_seen_ns, r->now_ns));
}

void report_flows_end(FILE *out, bool json, struct json *j, __u64 shown,
		      bool more)
{
	if (json) {
		json_end(j);
		json_field_uint(j, "shown", shown);
		json_field_bool(j, "more", more);
		json_end(j);
		fputc('\n', out);
		return;
	}
	if (more)
		fprintf(out, "(the first %" PRIu64 " flows shown, more match; "
			"--limit 0 shows all)\n", (uint64_t)shown);
}

/* ---- metrics (Prometheus text exposition format 0.0.4) ---- */

static void help(FILE *out, const char *name, const char *type,
		 const char *text)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* A family of one sample without labels. */
static void single(FILE *out, const char *name, const char *type,
		   const char *text, __u64 value)
{
	help(out, name, type, text);
	fprintf(out, "%s %" PRIu64 "\n", name, (uint64_t)value);
}

static void service_labels(FILE *out, const struct sw_view_service *s)
{
	fprintf(out, "{service=\"%s\",vip=\"%s\",port=\"%u\"", s->cfg->name,
		vip_text(s->cfg), s->cfg->key.port);
}

/* One metric per service, from one field of its live entry. */
static void service_metric(FILE *out, const struct sw_view *v,
			   const char *name, const char *type,
			   const char *text, const char *extra_label,
			   size_t field, bool is_u64)
{
	help(out, name, type, text);
	for (int i = 0; i < v->cfg->n_services; i++) {
		const struct sw_view_service *s = &v->services[i];
		const __u8 *base = (const __u8 *)&s->live + field;
		__u64 value;

		if (is_u64) {
			memcpy(&value, base, sizeof(value));
		} else {
			__u32 v32;

			memcpy(&v32, base, sizeof(v32));
			value = v32;
		}
		fputs(name, out);
		service_labels(out, s);
		fprintf(out, "%s} %" PRIu64 "\n", extra_label ? extra_label : "",
			(uint64_t)value);
	}
}

#define LIVE(f) offsetof(struct sw_service, f)

/*
 * Datapath counters: every sw_stats field, in families with one label. A
 * family's first row carries its HELP text (F), the others only a sample (S).
 */
static const struct stat_metric {
	const char *metric, *help, *label, *value;
	size_t field;
} stat_metrics[] = {
#define F(metric, help, label, value, f) \
	{ metric, help, label, value, offsetof(struct sw_stats, f) }
#define S(metric, label, value, f) F(metric, NULL, label, value, f)
	F("spillway_datapath_packets_total", "Packets the datapath saw, on "
	  "every attached interface and CPU.", NULL, NULL, packets),
	F("spillway_datapath_new_connections_total", "First SYNs of new "
	  "connections to a service, by the decision taken: local, remote "
	  "(spilled), unavailable (should have spilled, kept local), or "
	  "untracked because the flow table was full.",
	  "decision", "local", new_local),
	S("spillway_datapath_new_connections_total", "decision", "remote", new_remote),
	S("spillway_datapath_new_connections_total", "decision", "unavailable", overflow_unavailable),
	S("spillway_datapath_new_connections_total", "decision", "untracked_table_full", table_full),
	F("spillway_datapath_spill_refused_total", "Spills kept local, by reason "
	  "(no_agent: no live agent heartbeat).", "reason", "no_agent", no_agent),
	F("spillway_datapath_untracked_packets_total", "Non-SYN packets to a "
	  "service VIP of connections not in the flow table, passed untouched.", NULL, NULL, untracked),
	F("spillway_datapath_steer_total", "Packets of spilled connections "
	  "assigned to the local tunnel endpoint, by result (orphan_steered: "
	  "untracked packets of a live endpoint socket).",
	  "result", "steered", steered),
	S("spillway_datapath_steer_total", "result", "no_endpoint", steer_no_endpoint),
	S("spillway_datapath_steer_total", "result", "refused", steer_refused),
	S("spillway_datapath_steer_total", "result", "orphan_steered", orphans_steered),
	F("spillway_datapath_released_total", "Local or remote slots given "
	  "back, by why the connection ended.", "reason", "fin", released_fin),
	S("spillway_datapath_released_total", "reason", "rst", released_rst),
	S("spillway_datapath_released_total", "reason", "half_open", released_half_open),
	S("spillway_datapath_released_total", "reason", "idle", released_idle),
	F("spillway_datapath_state_contention_total", "Flow state changes that gave "
	  "up after losing every compare-and-swap race to other CPUs; must stay "
	  "0.",
	  NULL, NULL, state_contention),
	F("spillway_datapath_agent_bypass_total", "Packets carrying the agent's "
	  "bypass mark (its own sockets), passed without a decision.",
	  NULL, NULL, agent_bypass),
	F("spillway_datapath_passed_total", "Packets passed untouched because "
	  "they are not for spillway or cannot be parsed, by kind.",
	  "kind", "not_ip", not_ip),
	S("spillway_datapath_passed_total", "kind", "not_tcp", not_tcp),
	S("spillway_datapath_passed_total", "kind", "vlan", vlan),
	S("spillway_datapath_passed_total", "kind", "truncated_eth", truncated_eth),
	S("spillway_datapath_passed_total", "kind", "truncated_ip", truncated_ip),
	S("spillway_datapath_passed_total", "kind", "truncated_ipv6", truncated_ipv6),
	S("spillway_datapath_passed_total", "kind", "truncated_tcp", truncated_tcp),
	S("spillway_datapath_passed_total", "kind", "bad_ip_version", bad_ip_version),
	S("spillway_datapath_passed_total", "kind", "bad_ihl", bad_ihl),
	S("spillway_datapath_passed_total", "kind", "bad_ip_len", bad_ip_len),
	S("spillway_datapath_passed_total", "kind", "fragment", fragments),
	S("spillway_datapath_passed_total", "kind", "ipv6_ext_unsupported", ipv6_ext_unsupported),
	S("spillway_datapath_passed_total", "kind", "bad_tcp_doff", bad_tcp_doff),
	S("spillway_datapath_passed_total", "kind", "bad_tcp_flags", bad_tcp_flags),
	F("spillway_datapath_unusual_total", "Valid packets of an unusual shape, "
	  "handled, by kind.", "kind", "ip_options", ip_options),
	S("spillway_datapath_unusual_total", "kind", "ipv6_ext_headers", ipv6_ext_headers),
#undef S
#undef F
};

static void datapath_metrics(FILE *out, const struct sw_view *v)
{
	for (size_t i = 0; i < ARRAY_SIZE(stat_metrics); i++) {
		const struct stat_metric *m = &stat_metrics[i];
		__u64 value;

		memcpy(&value, (const __u8 *)&v->stats + m->field, sizeof(value));
		if (m->help)
			help(out, m->metric, "counter", m->help);
		if (m->label)
			fprintf(out, "%s{%s=\"%s\"} %" PRIu64 "\n", m->metric,
				m->label, m->value, (uint64_t)value);
		else
			fprintf(out, "%s %" PRIu64 "\n", m->metric, (uint64_t)value);
	}
}

/* Tunnel counters: per remote (client side) or of the gateway. */
struct tunnel_source {
	char labels[SW_SHORT_NAME_MAX + 16];	/* remote="NAME", or "" */
	const struct sw_tunnel_counters *c;
};

static void sample(FILE *out, const char *name, const char *labels,
		   const char *extra, __u64 value)
{
	const char *sep = labels[0] && extra[0] ? "," : "";

	if (labels[0] || extra[0])
		fprintf(out, "%s{%s%s%s} %" PRIu64 "\n", name, labels, sep, extra,
			(uint64_t)value);
	else
		fprintf(out, "%s %" PRIu64 "\n", name, (uint64_t)value);
}

/* Each worker: alive, its tick's age, the streams it carries and carried. */
static void worker_metrics(FILE *out, const struct sw_view *v)
{
	static const struct {
		const char *name, *type, *help;
	} m[] = {
		{ "spillway_worker_alive", "gauge", "1 while the worker's event "
		  "loop ticks (each second); 0 once it has not for "
		  "SW_WORKER_STALL_S: its connections are stuck." },
		{ "spillway_worker_tick_age_seconds", "gauge", "Since the "
		  "worker's event loop last ticked." },
		{ "spillway_worker_streams", "gauge", "Tunnel streams the worker "
		  "carries now, as client and as gateway." },
		{ "spillway_worker_streams_total", "counter", "Tunnel streams the "
		  "worker carried to their end, as client and as gateway." },
	};
	char label[32];

	single(out, "spillway_workers", "gauge", "Tunnel workers (event loops "
	       "on their own threads; tunnel.workers).", v->n_workers);
	for (size_t k = 0; k < ARRAY_SIZE(m); k++) {
		help(out, m[k].name, m[k].type, m[k].help);
		for (unsigned int i = 0; i < v->n_workers; i++) {
			const struct agent_worker_view *w = &v->workers[i];
			__u64 value[] = { w->alive, w->tick_age_ns / NS_PER_S,
					  w->streams, w->streams_total };

			snprintf(label, sizeof(label), "worker=\"%u\"", i);
			sample(out, m[k].name, label, "", value[k]);
		}
	}
}

static void tunnel_family(FILE *out, const char *prefix,
			  const struct tunnel_source *src, int n)
{
	char name[96], extra[64];

	snprintf(name, sizeof(name), "%s_connections", prefix);
	help(out, name, "gauge", "Open mutual-TLS HTTP/2 connections.");
	for (int i = 0; i < n; i++)
		sample(out, name, src[i].labels, "", src[i].c->connections_open);
	snprintf(name, sizeof(name), "%s_streams_open", prefix);
	help(out, name, "gauge", "CONNECT streams open (tunnelled connections).");
	for (int i = 0; i < n; i++)
		sample(out, name, src[i].labels, "", src[i].c->streams_open);
	snprintf(name, sizeof(name), "%s_streams_total", prefix);
	help(out, name, "counter", "CONNECT streams ended, by the answer they got.");
	for (int i = 0; i < n; i++)
		for (int r = 0; r < SW_STREAM_N; r++) {
			snprintf(extra, sizeof(extra), "result=\"%s\"",
				 sw_stream_result_names[r]);
			sample(out, name, src[i].labels, extra, src[i].c->streams[r]);
		}
	snprintf(name, sizeof(name), "%s_bytes_total", prefix);
	help(out, name, "counter", "Bytes tunnelled, sent to and received "
	     "from the other cluster.");
	for (int i = 0; i < n; i++) {
		sample(out, name, src[i].labels, "direction=\"sent\"",
		       src[i].c->bytes_sent);
		sample(out, name, src[i].labels, "direction=\"received\"",
		       src[i].c->bytes_received);
	}
	snprintf(name, sizeof(name), "%s_buffered_bytes", prefix);
	help(out, name, "gauge", "Memory holding bytes from the other cluster "
	     "that the local sockets have not taken yet.");
	for (int i = 0; i < n; i++)
		sample(out, name, src[i].labels, "", src[i].c->buffered_bytes);
	if (src[0].c->buffer_budget) {
		snprintf(name, sizeof(name), "%s_buffer_budget_bytes", prefix);
		help(out, name, "gauge", "Past this much buffered, connections "
		     "holding buffered bytes are not read until it falls back.");
		sample(out, name, "", "", src[0].c->buffer_budget);
	}
	snprintf(name, sizeof(name), "%s_handshake_failures_total", prefix);
	help(out, name, "counter", "Connections that failed before HTTP/2, by "
	     "reason.");
	for (int i = 0; i < n; i++)
		for (int r = 0; r < SW_HS_N; r++) {
			snprintf(extra, sizeof(extra), "reason=\"%s\"",
				 sw_hs_reason_names[r]);
			sample(out, name, src[i].labels, extra,
			       src[i].c->handshake_failures[r]);
		}
}

static void tunnel_metrics(FILE *out, const struct sw_view *v)
{
	struct tunnel_source src[SW_MAX_REMOTES];
	int n = 0;

	for (int i = 0; i < v->cfg->n_remotes && n < SW_MAX_REMOTES; i++) {
		if (!v->remotes[i].tunnel)
			continue;
		snprintf(src[n].labels, sizeof(src[n].labels), "remote=\"%s\"",
			 v->remotes[i].cfg->name);
		src[n++].c = v->remotes[i].tunnel;
	}
	if (n)
		tunnel_family(out, "spillway_tunnel", src, n);
	if (v->gateway) {
		src[0].labels[0] = '\0';
		src[0].c = v->gateway;
		tunnel_family(out, "spillway_gateway", src, 1);
	}
	if (v->fallback) {
		help(out, "spillway_fallback_connections", "gauge",
		     "Spilled connections being served in this cluster after "
		     "their remote would not take them.");
		sample(out, "spillway_fallback_connections", "", "",
		       v->fallback->open);
		help(out, "spillway_fallback_total", "counter",
		     "Local fallbacks, by result: served, or failed (the local "
		     "service could not be reached either: reset).");
		sample(out, "spillway_fallback_total", "", "result=\"served\"",
		       v->fallback->served);
		sample(out, "spillway_fallback_total", "", "result=\"failed\"",
		       v->fallback->failed);
	}
	if (!v->cert_not_after)
		return;
	single(out, "spillway_certificate_not_after_timestamp_seconds", "gauge",
	       "When this node's certificate chain expires (Unix time).",
	       (__u64)v->cert_not_after);
	single(out, "spillway_certificate_not_after_seconds", "gauge",
	       "Deprecated name of "
	       "spillway_certificate_not_after_timestamp_seconds (the same "
	       "value).", (__u64)v->cert_not_after);
	help(out, "spillway_certificate_reloads_total", "counter",
	     "Certificate reloads, by result.");
	fprintf(out, "spillway_certificate_reloads_total{result=\"ok\"} %" PRIu64
		"\nspillway_certificate_reloads_total{result=\"rejected\"} %"
		PRIu64 "\n", (uint64_t)v->cert_reloads_ok,
		(uint64_t)v->cert_reloads_failed);
}

void report_metrics(FILE *out, const struct sw_view *v)
{
	help(out, "spillway_build_info", "gauge", "Always 1: the agent's "
	     "version and the layout version of the maps it uses, as labels.");
	fprintf(out, "spillway_build_info{version=\"%s\",layout_version=\"%u\"}"
		" 1\n", SW_VERSION, SW_LAYOUT_VERSION);
	service_metric(out, v, "spillway_service_active_connections", "gauge",
		       "Connections holding a slot, by where they went.",
		       ",location=\"local\"", LIVE(active_local), false);
	for (int i = 0; i < v->cfg->n_services; i++) {
		fputs("spillway_service_active_connections", out);
		service_labels(out, &v->services[i]);
		fprintf(out, ",location=\"remote\"} %u\n",
			v->services[i].live.active_remote);
	}
	service_metric(out, v, "spillway_service_max_connections", "gauge",
		       "The threshold: local connections allowed.", NULL,
		       LIVE(cfg.max_connections), false);
	service_metric(out, v, "spillway_service_resume_below", "gauge",
		       "While overflowing, spill until local active is below this.",
		       NULL, LIVE(cfg.resume_below), false);
	service_metric(out, v, "spillway_service_overflowing", "gauge",
		       "1 while the next new connection would spill.",
		       NULL, LIVE(flags), false);
	service_metric(out, v, "spillway_service_local_total", "counter",
		       "New connections admitted with a local slot.", NULL,
		       LIVE(local_total), true);
	service_metric(out, v, "spillway_service_overflowed_total", "counter",
		       "New connections spilled to a remote.", NULL,
		       LIVE(overflowed_total), true);
	service_metric(out, v, "spillway_service_overflow_unavailable_total",
		       "counter", "New connections that should have spilled "
		       "but no remote could take: kept local.", NULL,
		       LIVE(overflow_unavailable_total), true);
	service_metric(out, v, "spillway_service_local_fallback_total",
		       "counter", "Spilled connections the remote would not "
		       "take, served in this cluster by the agent.", NULL,
		       LIVE(local_fallback_total), true);
	service_metric(out, v, "spillway_service_handshakes_aged_total",
		       "counter", "Local handshakes the client did not "
		       "acknowledge within 268-537 ms: their slots stopped "
		       "counting (a SYN flood shows here).", NULL,
		       LIVE(handshakes_aged_total), true);

	help(out, "spillway_remote_healthy", "gauge",
	     "1 if the remote takes new overflow.");
	for (int i = 0; i < v->cfg->n_remotes; i++)
		fprintf(out, "spillway_remote_healthy{remote=\"%s\"} %d\n",
			v->remotes[i].cfg->name, v->remotes[i].healthy);

	single(out, "spillway_datapath_loaded", "gauge", "1 if this agent runs "
	       "the datapath (its configuration has interfaces); 0 on a "
	       "gateway-only agent.", v->datapath);
	if (v->xdp_handoff[0]) {
		help(out, "spillway_datapath_xdp_handoff", "gauge",
		     "1 for how XDP mode hands decisions to TC: metadata, or "
		     "flow-table where the kernel refuses XDP metadata.");
		fprintf(out, "spillway_datapath_xdp_handoff{handoff=\"%s\"} 1\n",
			v->xdp_handoff);
		single(out, "spillway_datapath_xdp_meta_refused", "gauge",
		       "1 once a driver refused XDP metadata at run time: XDP "
		       "mode reads decisions from the flow table since.",
		       v->xdp_meta_refused);
	}
	if (v->datapath) {
		single(out, "spillway_flow_table_capacity", "gauge", "Connections "
		       "the flow table can track at once (datapath.flow_capacity)"
		       "; past it new connections pass untracked (table_full).",
		       v->cfg->flow_capacity);
		single(out, "spillway_flow_table_entries", "gauge", "Entries in "
		       "the flow table, as the last collection found them.",
		       v->flows_scanned);
		datapath_metrics(out, v);
	}
	tunnel_metrics(out, v);

	single(out, "spillway_interfaces_attached", "gauge", "Interfaces the "
	       "datapath is attached to (named, or matching a pattern such as "
	       "cali*).", v->n_ifaces);
	single(out, "spillway_interface_gone_flows_released_total", "counter",
	       "Flows released because the link their client came through went "
	       "away (a deleted pod's connections), since the agent started.",
	       v->flows_released_link_gone);
	single(out, "spillway_resolver_queries_total", "counter", "DNS questions "
	       "asked for gateways' and export targets' names and services' "
	       "VIPs.", v->resolver.queries);
	single(out, "spillway_resolver_failures_total", "counter",
	       "DNS questions that got no address.", v->resolver.failed);
	single(out, "spillway_resolver_cache_hits_total", "counter", "Names "
	       "answered from an earlier answer within its TTL.",
	       v->resolver.cached);
	single(out, "spillway_flows_tracked", "gauge", "Deprecated name of "
	       "spillway_flow_table_entries (the same value; 0 without a "
	       "datapath).", v->flows_scanned);
	help(out, "spillway_config_reloads_total", "counter",
	     "Configuration reloads, by result.");
	fprintf(out, "spillway_config_reloads_total{result=\"ok\"} %" PRIu64 "\n"
		"spillway_config_reloads_total{result=\"rejected\"} %" PRIu64 "\n",
		(uint64_t)v->reloads_ok, (uint64_t)v->reloads_failed);
	worker_metrics(out, v);
	single(out, "spillway_ready", "gauge", "1 once the datapath is attached "
	       "and the configuration applied.", v->ready);
	single(out, "spillway_draining", "gauge", "1 while stopping: spilled "
	       "connections finish, new connections stay local.", v->draining);
}
