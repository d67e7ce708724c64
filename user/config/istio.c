// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Istio DestinationRules and ServiceEntries as a spillway configuration.
 *
 * Two passes. The first reads every document of every input in order (the
 * documents stay loaded: the objects below point into them), checks each
 * object's shape and warns, in file order, about every field that has no
 * spillway meaning. The second pairs each ServiceEntry with the
 * DestinationRule of its host and builds services and remotes from the
 * pair. The first error ends the import; warnings never do.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "spillway/defaults.h"
#include "lib/addr.h"
#include "lib/text.h"
#include "lib/util.h"
#include "config/istio.h"

#define KEEPALIVE_MAX_NS (SW_KEEPALIVE_MAX_S * NS_PER_S)

/* "spec.trafficPolicy.portLevelSettings[12].connectionPool.tcp.maxConnections" */
#define FIELD_MAX SW_FIELD_MAX

/* metadata.namespace "/" metadata.name */
#define OBJECT_NAME_MAX (2 * SW_SHORT_NAME_MAX + 2)

/* Istio's east-west gateway port: where AUTO_PASSTHROUGH gateways listen. */
#define ISTIO_EAST_WEST_PORT 15443

static const char *const api_versions[] = {
	"networking.istio.io/v1", "networking.istio.io/v1beta1",
	"networking.istio.io/v1alpha3",
};

/* A DestinationRule or ServiceEntry, as messages name it. */
struct object {
	const char *path;
	int doc;			/* 1-based, in its file */
	const char *kind;
	char name[OBJECT_NAME_MAX + 1];
	yaml_document_t *ydoc;
};

struct port_max {
	__u16 port;
	__u32 max;
	const yaml_node_t *node;
};

/* A DestinationRule, read. */
struct rule {
	struct object obj;
	char host[SW_NAME_MAX + 1];	/* as a fully qualified name */
	const yaml_node_t *host_node;
	__u32 max;			/* 0: only per port */
	struct port_max *ports;
	int n_ports;
	bool has_tunnel;		/* any of the remote settings below */
	struct sw_remote_config tunnel;	/* name and gateway unused */
	const yaml_node_t *failover;	/* localityLbSetting.failover */
	const yaml_node_t *priority;	/* localityLbSetting.failoverPriority */
	bool used;
};

struct se_port {
	__u16 number;
	int index;			/* in spec.ports */
	const char *name;
	const yaml_node_t *node;
};

struct se_endpoint {
	const char *address;
	const char *network;		/* NULL: none written */
	const yaml_node_t *address_node, *network_node;
	char locality[3][SW_SHORT_NAME_MAX + 1];	/* region, zone, subzone */
	const yaml_node_t *ports;	/* mapping: port name -> number */
	const yaml_node_t *labels;
	const yaml_node_t *node;
	int index;			/* in spec.endpoints */
};

/* A ServiceEntry, read. */
struct entry {
	struct object obj;
	const char **hosts;
	int n_hosts;
	const char **addresses;
	const yaml_node_t **address_nodes;
	int n_addresses;
	struct se_port *ports;
	int n_ports;
	struct se_endpoint *endpoints;
	int n_endpoints;
};

struct importer {
	const struct sw_istio_opts *o;
	FILE *notes;
	struct sw_error *e;
	struct sw_config *cfg;
	yaml_document_t **docs;
	int n_docs;
	struct rule *rules;
	int n_rules;
	struct entry *entries;
	int n_entries;
	const struct rule **remote_settings;	/* per cfg->remotes[i]: from */
};

/* ------------------------------------------------------------------------ */
/* Messages: FILE:LINE:COLUMN: [LEVEL: ]document N, KIND NAME: FIELD: ... */

struct where {
	char pos[PATH_MAX + 48];		/* FILE:LINE:COLUMN */
	char what[OBJECT_NAME_MAX + FIELD_MAX + 64];	/* document N, ... */
};

static void where(struct where *w, const struct object *o,
		  const yaml_node_t *n, const char *field)
{
	snprintf(w->pos, sizeof(w->pos), "%s:%zu:%zu", o->path,
		 n->start_mark.line + 1, n->start_mark.column + 1);
	/* Before its kind and name are known, an object is its document. */
	snprintf(w->what, sizeof(w->what), "document %d%s%s%s%s: %s%s", o->doc,
		 *o->name ? ", " : "", o->kind, *o->name ? " " : "", o->name,
		 field, *field ? ": " : "");
}

static void say(struct importer *im, const char *level,
		const struct object *o, const yaml_node_t *n, const char *field,
		const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* A warning or note: one line on notes. */
static void say(struct importer *im, const char *level,
		const struct object *o, const yaml_node_t *n, const char *field,
		const char *fmt, ...)
{
	struct where w;
	va_list ap;

	where(&w, o, n, field);
	fprintf(im->notes, "%s: %s%s", w.pos, level, w.what);
	va_start(ap, fmt);
	vfprintf(im->notes, fmt, ap);
	va_end(ap);
	fputc('\n', im->notes);
}

#define warn(im, ...) say(im, "warning: ", __VA_ARGS__)
#define note(im, ...) say(im, "note: ", __VA_ARGS__)

static int fail(struct importer *im, const struct object *o,
		const yaml_node_t *n, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(struct importer *im, const struct object *o,
		const yaml_node_t *n, const char *field, const char *fmt, ...)
{
	char msg[sizeof(im->e->msg)];
	struct where w;
	va_list ap;

	where(&w, o, n, field);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return sw_fail(im->e, -EINVAL, "%s: %s%s", w.pos, w.what, msg);
}

static int out_of_memory(struct importer *im)
{
	return sw_fail(im->e, -ENOMEM, "out of memory importing Istio objects");
}

/* ------------------------------------------------------------------------ */
/* Nodes */

static yaml_node_t *node(const struct object *o, int id)
{
	return yaml_document_get_node(o->ydoc, id);
}

/* The value of key in mapping n; NULL if n is no mapping or has no such key. */
static const yaml_node_t *get(const struct object *o, const yaml_node_t *n,
			      const char *key)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(o, p->key);

		if (k->type == YAML_SCALAR_NODE &&
		    !strcmp((const char *)k->data.scalar.value, key))
			return node(o, p->value);
	}
	return NULL;
}

static const char *kind_name(const yaml_node_t *n)
{
	return n->type == YAML_SEQUENCE_NODE ? "a list" :
	       n->type == YAML_MAPPING_NODE ? "a mapping" : "a string";
}

/* The text of a scalar; NULL with e set for anything else. */
static const char *text(struct importer *im, const struct object *o,
			const yaml_node_t *n, const char *field)
{
	if (n->type == YAML_SCALAR_NODE &&
	    strlen((const char *)n->data.scalar.value) == n->data.scalar.length)
		return (const char *)n->data.scalar.value;
	fail(im, o, n, field, "found %s; expected a string", kind_name(n));
	return NULL;
}

static int list(struct importer *im, const struct object *o,
		const yaml_node_t *n, const char *field,
		const yaml_node_item_t **items)
{
	*items = NULL;
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(im, o, n, field, "found %s; expected a list",
			    kind_name(n));
	*items = n->data.sequence.items.start;
	return n->data.sequence.items.top - n->data.sequence.items.start;
}

static int number(struct importer *im, const struct object *o,
		  const yaml_node_t *n, const char *field, __u32 min, __u32 max,
		  __u32 *out)
{
	const char *s = text(im, o, n, field);

	if (!s)
		return -EINVAL;
	if (sw_parse_u32(s, min, max, out))
		return fail(im, o, n, field, "'%s' is not allowed; expected a "
			    "whole number from %u to %u", s, min, max);
	return 0;
}

/* A duration for the spillway setting key, which takes max at most. */
static int duration(struct importer *im, const struct object *o,
		    const yaml_node_t *n, const char *field, const char *key,
		    __u64 min, __u64 max, __u64 *ns)
{
	const char *s = text(im, o, n, field);
	char lo[48], hi[48];

	if (!s)
		return -EINVAL;
	if (sw_duration_parse(s, SW_DURATION_GO, ns) || !*ns)
		return fail(im, o, n, field, "'%s' is not a duration; expected "
			    "one greater than 0 such as 10s, 1.5s, 100ms or 1h",
			    s);
	if (*ns < min || *ns > max)
		return fail(im, o, n, field, "%s is not allowed: it becomes "
			    "%s, which takes %s to %s; expected a duration in "
			    "that range", s, key,
			    sw_duration_format(min, lo, sizeof(lo)),
			    sw_duration_format(max, hi, sizeof(hi)));
	return 0;
}

/*
 * Walk mapping n: values[i] gets the node of keys[i] if keys[i].ignored is
 * NULL (imported); keys with a reason, and keys not in the table (with the
 * reason others, or as unknown), are warned about. A reason "" accepts the
 * key without a word: it changes nothing spillway does.
 */
struct key_use {
	const char *name;
	const char *ignored;
};

static int walk(struct importer *im, const struct object *o,
		const yaml_node_t *n, const char *field,
		const struct key_use *keys, int n_keys, const char *others,
		const yaml_node_t **values)
{
	char f[FIELD_MAX];

	for (int i = 0; i < n_keys; i++)
		values[i] = NULL;
	if (n->type != YAML_MAPPING_NODE)
		return fail(im, o, n, field, "found %s; expected a mapping",
			    kind_name(n));
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = node(o, p->key);
		const char *name = text(im, o, k, field);
		int i = 0;

		if (!name)
			return -EINVAL;
		while (i < n_keys && strcmp(keys[i].name, name))
			i++;
		sw_field_key(f, field, name);
		if (i == n_keys)
			warn(im, o, k, f, "not imported: %s", others ? others :
			     "spillway does not know this field (is it spelled "
			     "right?)");
		else if (keys[i].ignored && *keys[i].ignored)
			warn(im, o, k, f, "not imported: %s", keys[i].ignored);
		else if (!keys[i].ignored)
			values[i] = node(o, p->value);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* DestinationRule */

static const char L4_HTTP[] = "spillway works at L4: it limits connections, "
	"not HTTP requests";
static const char PER_REMOTE[] = "per port, spillway takes only "
	"maxConnections; tunnel settings are per remote (set them in "
	"spec.trafficPolicy)";
static const char NO_EJECT_SHARE[] = "spillway probes each remote's "
	"gateway as a whole; there are no hosts to eject by share";
static const char ONE_AT_A_TIME[] = "a spilled connection goes to the "
	"first healthy remote of overflow_to; there is no balancing";
static const char OWN_TLS[] = "the tunnel always uses spillway's own "
	"mutual TLS (tls.dir, tls.allow_identities)";

enum { DR_HOST, DR_POLICY, DR_SUBSETS, DR_EXPORT, DR_SELECTOR };
static const struct key_use dr_keys[] = {
	[DR_HOST] = { "host", NULL },
	[DR_POLICY] = { "trafficPolicy", NULL },
	[DR_SUBSETS] = { "subsets", "subsets select workloads by label, which "
			 "spillway does not see: every connection to the VIP "
			 "counts against one threshold" },
	[DR_EXPORT] = { "exportTo", "spillway's configuration applies on the "
			"node whose agent reads it, to every client" },
	[DR_SELECTOR] = { "workloadSelector", "spillway applies to every "
			  "client of the node's interfaces, not to selected "
			  "workloads" },
};

enum { TP_POOL, TP_OUTLIER, TP_LB, TP_PORTS, TP_TLS, TP_PROXY, TP_TUNNEL };
static const struct key_use tp_keys[] = {
	[TP_POOL] = { "connectionPool", NULL },
	[TP_OUTLIER] = { "outlierDetection", NULL },
	[TP_LB] = { "loadBalancer", NULL },
	[TP_PORTS] = { "portLevelSettings", NULL },
	[TP_TLS] = { "tls", OWN_TLS },
	[TP_PROXY] = { "proxyProtocol", "spillway's tunnel carries the "
		       "client's address in a Forwarded header, not PROXY" },
	[TP_TUNNEL] = { "tunnel", "spillway's tunnel is its own HTTP/2 "
			"CONNECT over mutual TLS" },
};

enum { POOL_TCP, POOL_HTTP };
static const struct key_use pool_keys[] = {
	[POOL_TCP] = { "tcp", NULL },
	[POOL_HTTP] = { "http", NULL },
};

enum { TCP_MAX, TCP_CONNECT, TCP_KEEPALIVE, TCP_DURATION, TCP_IDLE };
static const struct key_use tcp_keys[] = {
	[TCP_MAX] = { "maxConnections", NULL },
	[TCP_CONNECT] = { "connectTimeout", NULL },
	[TCP_KEEPALIVE] = { "tcpKeepalive", NULL },
	[TCP_DURATION] = { "maxConnectionDuration", "spillway never ends a "
			   "connection: existing connections never move" },
	[TCP_IDLE] = { "idleTimeout", "spillway does not close idle "
		       "connections; its flow table forgets them after "
		       "datapath.idle_timeout" },
};

static const struct key_use port_tcp_keys[] = {
	[TCP_MAX] = { "maxConnections", NULL },
};

enum { KA_TIME, KA_INTERVAL, KA_PROBES };
static const struct key_use keepalive_keys[] = {
	[KA_TIME] = { "time", NULL },
	[KA_INTERVAL] = { "interval", NULL },
	[KA_PROBES] = { "probes", NULL },
};

enum { OD_5XX, OD_GATEWAY, OD_INTERVAL, OD_EJECTION };
static const struct key_use outlier_keys[] = {
	[OD_5XX] = { "consecutive5xxErrors", NULL },
	[OD_GATEWAY] = { "consecutiveGatewayErrors", NULL },
	[OD_INTERVAL] = { "interval", NULL },
	[OD_EJECTION] = { "baseEjectionTime", NULL },
};

enum { LB_LOCALITY };
static const struct key_use lb_keys[] = {
	[LB_LOCALITY] = { "localityLbSetting", NULL },
};

enum { LOC_FAILOVER, LOC_PRIORITY, LOC_ENABLED, LOC_DISTRIBUTE };
static const struct key_use locality_keys[] = {
	[LOC_FAILOVER] = { "failover", NULL },
	[LOC_PRIORITY] = { "failoverPriority", NULL },
	[LOC_ENABLED] = { "enabled", NULL },
	[LOC_DISTRIBUTE] = { "distribute", "spillway sends overflow to one "
			     "remote at a time, in order" },
};

enum { PLS_PORT, PLS_POOL };
static const struct key_use pls_keys[] = {
	[PLS_PORT] = { "port", NULL },
	[PLS_POOL] = { "connectionPool", NULL },
};

enum { PORT_NUMBER };
static const struct key_use port_keys[] = {
	[PORT_NUMBER] = { "number", NULL },
};

/* connectionPool.http: every key has a reason, none is imported. */
static int read_http(struct importer *im, const struct object *o,
		     const yaml_node_t *n, const char *field)
{
	return walk(im, o, n, field, NULL, 0, L4_HTTP, NULL);
}

static int read_keepalive(struct importer *im, struct rule *r,
			  const yaml_node_t *n, const char *field)
{
	struct sw_keepalive_config *k = &r->tunnel.keepalive;
	const yaml_node_t *v[ARRAY_SIZE(keepalive_keys)];
	char f[FIELD_MAX];
	__u64 ns;

	if (walk(im, &r->obj, n, field, keepalive_keys, ARRAY_SIZE(keepalive_keys),
		 NULL, v))
		return -EINVAL;
	k->enabled = r->has_tunnel = true;
	/* Envoy, too, counts keepalive timers in whole seconds. */
	if (v[KA_TIME]) {
		if (duration(im, &r->obj, v[KA_TIME], sw_field_key(f, field, "time"),
			     "remotes[].keepalive.time", NS_PER_S, KEEPALIVE_MAX_NS,
			     &ns))
			return -EINVAL;
		k->time_ns = ns / NS_PER_S * NS_PER_S;
	}
	if (v[KA_INTERVAL]) {
		if (duration(im, &r->obj, v[KA_INTERVAL],
			     sw_field_key(f, field, "interval"),
			     "remotes[].keepalive.interval", NS_PER_S,
			     KEEPALIVE_MAX_NS,
			     &ns))
			return -EINVAL;
		k->interval_ns = ns / NS_PER_S * NS_PER_S;
	}
	return v[KA_PROBES] ? number(im, &r->obj, v[KA_PROBES],
				     sw_field_key(f, field, "probes"), 1,
				     SW_KEEPALIVE_MAX_PROBES,
				     &k->probes) : 0;
}

/* connectionPool of trafficPolicy (top) or of one of its portLevelSettings. */
static int read_pool(struct importer *im, struct rule *r, const yaml_node_t *n,
		     const char *field, __u32 *max, bool top)
{
	const yaml_node_t *v[ARRAY_SIZE(pool_keys)], *t[ARRAY_SIZE(tcp_keys)];
	char f[FIELD_MAX], tcp[FIELD_MAX];

	if (walk(im, &r->obj, n, field, pool_keys, ARRAY_SIZE(pool_keys), NULL, v))
		return -EINVAL;
	if (v[POOL_HTTP] &&
	    read_http(im, &r->obj, v[POOL_HTTP], sw_field_key(f, field, "http")))
		return -EINVAL;
	if (!v[POOL_TCP])
		return 0;
	sw_field_key(tcp, field, "tcp");
	if (top ? walk(im, &r->obj, v[POOL_TCP], tcp, tcp_keys, ARRAY_SIZE(tcp_keys),
		       NULL, t) :
		  walk(im, &r->obj, v[POOL_TCP], tcp, port_tcp_keys,
		       ARRAY_SIZE(port_tcp_keys), PER_REMOTE, t))
		return -EINVAL;
	if (t[TCP_MAX] && number(im, &r->obj, t[TCP_MAX],
				 sw_field_key(f, tcp, "maxConnections"), 1,
				 UINT32_MAX, max))
		return -EINVAL;
	if (!top)
		return 0;
	if (t[TCP_CONNECT]) {
		if (duration(im, &r->obj, t[TCP_CONNECT],
			     sw_field_key(f, tcp, "connectTimeout"),
			     "remotes[].connect_timeout",
			     SW_CONNECT_TIMEOUT_MIN_NS, SW_CONNECT_TIMEOUT_MAX_NS,
			     &r->tunnel.connect_timeout_ns))
			return -EINVAL;
		r->has_tunnel = true;
	}
	return t[TCP_KEEPALIVE] ? read_keepalive(im, r, t[TCP_KEEPALIVE],
					 sw_field_key(f, tcp, "tcpKeepalive")) : 0;
}

/*
 * consecutive5xxErrors and consecutiveGatewayErrors -> health.failures (the
 * smaller that is not 0: 0 turns a kind off), interval -> health.interval,
 * baseEjectionTime -> health.ejection_time.
 */
static int read_outlier(struct importer *im, struct rule *r,
			const yaml_node_t *n, const char *field)
{
	const yaml_node_t *v[ARRAY_SIZE(outlier_keys)];
	__u32 failures = 0;
	char f[FIELD_MAX];

	if (walk(im, &r->obj, n, field, outlier_keys, ARRAY_SIZE(outlier_keys),
		 NO_EJECT_SHARE, v))
		return -EINVAL;
	for (int i = OD_5XX; i <= OD_GATEWAY; i++) {
		__u32 errors;

		if (!v[i])
			continue;
		if (number(im, &r->obj, v[i],
			   sw_field_key(f, field, outlier_keys[i].name), 0,
			   SW_PROBE_FAILURES_MAX, &errors))
			return -EINVAL;
		if (errors && (!failures || errors < failures))
			failures = errors;
	}
	if (failures) {
		r->tunnel.probe_failures = failures;
		r->has_tunnel = true;
	}
	if (v[OD_INTERVAL]) {
		if (duration(im, &r->obj, v[OD_INTERVAL],
			     sw_field_key(f, field, "interval"),
			     "remotes[].health.interval",
			     SW_PROBE_INTERVAL_MIN_NS, SW_PROBE_INTERVAL_MAX_NS,
			     &r->tunnel.probe_interval_ns))
			return -EINVAL;
		r->has_tunnel = true;
	}
	if (v[OD_EJECTION]) {
		if (duration(im, &r->obj, v[OD_EJECTION],
			     sw_field_key(f, field, "baseEjectionTime"),
			     "remotes[].health.ejection_time", 1,
			     SW_EJECTION_TIME_MAX_NS, &r->tunnel.ejection_time_ns))
			return -EINVAL;
		r->has_tunnel = true;
	}
	return 0;
}

static int read_lb(struct importer *im, struct rule *r, const yaml_node_t *n,
		   const char *field)
{
	const yaml_node_t *v[ARRAY_SIZE(lb_keys)], *l[ARRAY_SIZE(locality_keys)];
	char f[FIELD_MAX], g[FIELD_MAX];
	const char *enabled;

	if (walk(im, &r->obj, n, field, lb_keys, ARRAY_SIZE(lb_keys), ONE_AT_A_TIME, v))
		return -EINVAL;
	if (!v[LB_LOCALITY])
		return 0;
	sw_field_key(f, field, "localityLbSetting");
	if (walk(im, &r->obj, v[LB_LOCALITY], f, locality_keys,
		 ARRAY_SIZE(locality_keys), NULL, l))
		return -EINVAL;
	if (l[LOC_ENABLED]) {
		enabled = text(im, &r->obj, l[LOC_ENABLED],
			       sw_field_key(g, f, "enabled"));
		if (!enabled)
			return -EINVAL;
		if (!strcmp(enabled, "false")) {
			note(im, &r->obj, l[LOC_ENABLED], g, "locality "
			     "failover is off: remotes keep the order of the "
			     "ServiceEntry's endpoints");
			return 0;
		}
	}
	r->failover = l[LOC_FAILOVER];
	r->priority = l[LOC_PRIORITY];
	return 0;
}

static int read_port_level(struct importer *im, struct rule *r,
			   const yaml_node_t *n, const char *field)
{
	const yaml_node_item_t *items;
	int count = list(im, &r->obj, n, field, &items);
	char f[FIELD_MAX], g[FIELD_MAX], h[FIELD_MAX];

	if (count < 0)
		return -EINVAL;
	r->ports = calloc(count ? count : 1, sizeof(*r->ports));
	if (!r->ports)
		return out_of_memory(im);
	for (int i = 0; i < count; i++) {
		const yaml_node_t *item = node(&r->obj, items[i]);
		const yaml_node_t *v[ARRAY_SIZE(pls_keys)], *p[ARRAY_SIZE(port_keys)];
		struct port_max *pm = &r->ports[r->n_ports];
		__u32 port;

		sw_field_item(f, field, i);
		if (walk(im, &r->obj, item, f, pls_keys, ARRAY_SIZE(pls_keys),
			 "per port, spillway takes only "
			 "connectionPool.tcp.maxConnections", v))
			return -EINVAL;
		if (!v[PLS_PORT])
			return fail(im, &r->obj, item, f, "missing 'port'; "
				    "expected port: {number: N}");
		if (walk(im, &r->obj, v[PLS_PORT], sw_field_key(g, f, "port"),
			 port_keys, ARRAY_SIZE(port_keys), NULL, p))
			return -EINVAL;
		if (!p[PORT_NUMBER])
			return fail(im, &r->obj, v[PLS_PORT], g, "missing "
				    "'number'; expected the service port");
		if (number(im, &r->obj, p[PORT_NUMBER],
			   sw_field_key(h, g, "number"), 1, 65535, &port))
			return -EINVAL;
		pm->port = port;
		pm->node = item;
		if (v[PLS_POOL] &&
		    read_pool(im, r, v[PLS_POOL], sw_field_key(g, f, "connectionPool"),
			      &pm->max, false))
			return -EINVAL;
		if (pm->max)
			r->n_ports++;
	}
	return 0;
}

/* A short name ("echo") is a service in the rule's own namespace. */
static int read_host(struct importer *im, struct rule *r, const yaml_node_t *n,
		     const char *ns)
{
	const char *host = text(im, &r->obj, n, "spec.host");

	if (!host)
		return -EINVAL;
	r->host_node = n;
	if (strchr(host, '.'))
		snprintf(r->host, sizeof(r->host), "%s", host);
	else
		snprintf(r->host, sizeof(r->host), "%s.%s.svc.cluster.local",
			 host, ns);
	if (host[0] == '*' || !sw_is_dns_name(r->host))
		return fail(im, &r->obj, n, "spec.host", "'%s' is not a host "
			    "spillway can import; expected one service's DNS "
			    "name (lowercase, no wildcard) such as "
			    "echo.default.svc.cluster.local", host);
	return 0;
}

static int read_rule(struct importer *im, struct rule *r,
		     const yaml_node_t *spec, const char *ns)
{
	const yaml_node_t *v[ARRAY_SIZE(dr_keys)], *t[ARRAY_SIZE(tp_keys)];
	const char *field = "spec.trafficPolicy";
	char f[FIELD_MAX];

	sw_remote_defaults(&r->tunnel);
	if (walk(im, &r->obj, spec, "spec", dr_keys, ARRAY_SIZE(dr_keys), NULL, v))
		return -EINVAL;
	if (!v[DR_HOST])
		return fail(im, &r->obj, spec, "spec.host", "missing; expected "
			    "the service's host name");
	if (read_host(im, r, v[DR_HOST], ns))
		return -EINVAL;
	if (!v[DR_POLICY])
		return fail(im, &r->obj, spec, "spec.trafficPolicy.connection"
			    "Pool.tcp.maxConnections", "missing; expected the "
			    "connection threshold (here or per port in "
			    "spec.trafficPolicy.portLevelSettings)");
	if (walk(im, &r->obj, v[DR_POLICY], field, tp_keys, ARRAY_SIZE(tp_keys), NULL, t) ||
	    (t[TP_POOL] && read_pool(im, r, t[TP_POOL],
				     sw_field_key(f, field, "connectionPool"),
				     &r->max, true)) ||
	    (t[TP_OUTLIER] && read_outlier(im, r, t[TP_OUTLIER],
					   sw_field_key(f, field, "outlierDetection"))) ||
	    (t[TP_LB] && read_lb(im, r, t[TP_LB],
				 sw_field_key(f, field, "loadBalancer"))) ||
	    (t[TP_PORTS] && read_port_level(im, r, t[TP_PORTS],
					    sw_field_key(f, field, "portLevelSettings"))))
		return -EINVAL;
	if (!r->max && !r->n_ports)
		return fail(im, &r->obj, v[DR_POLICY], "spec.trafficPolicy."
			    "connectionPool.tcp.maxConnections", "missing; "
			    "expected the connection threshold (here or per "
			    "port in spec.trafficPolicy.portLevelSettings)");
	return 0;
}

/* ------------------------------------------------------------------------ */
/* ServiceEntry */

enum { SE_HOSTS, SE_ADDRESSES, SE_PORTS, SE_ENDPOINTS, SE_LOCATION,
       SE_RESOLUTION, SE_EXPORT, SE_SANS, SE_SELECTOR };
static const struct key_use se_keys[] = {
	[SE_HOSTS] = { "hosts", NULL },
	[SE_ADDRESSES] = { "addresses", NULL },
	[SE_PORTS] = { "ports", NULL },
	[SE_ENDPOINTS] = { "endpoints", NULL },
	[SE_LOCATION] = { "location", "" },
	[SE_RESOLUTION] = { "resolution", "" },
	[SE_EXPORT] = { "exportTo", "spillway's configuration applies on the "
			"node whose agent reads it, to every client" },
	[SE_SANS] = { "subjectAltNames", "the tunnel checks a gateway's "
		      "identity against tls.allow_identities" },
	[SE_SELECTOR] = { "workloadSelector", "spillway needs endpoints with "
			  "addresses, not selected workloads" },
};

enum { SP_NUMBER, SP_NAME, SP_PROTOCOL, SP_TARGET };
static const struct key_use se_port_keys[] = {
	[SP_NUMBER] = { "number", NULL },
	[SP_NAME] = { "name", NULL },
	[SP_PROTOCOL] = { "protocol", NULL },
	[SP_TARGET] = { "targetPort", "the gateway connects to the target its "
			"exports name; set the port there" },
};

enum { EP_ADDRESS, EP_PORTS, EP_LOCALITY, EP_NETWORK, EP_LABELS, EP_WEIGHT,
       EP_ACCOUNT };
static const struct key_use endpoint_keys[] = {
	[EP_ADDRESS] = { "address", NULL },
	[EP_PORTS] = { "ports", NULL },
	[EP_LOCALITY] = { "locality", NULL },
	[EP_NETWORK] = { "network", NULL },
	[EP_LABELS] = { "labels", NULL },
	[EP_WEIGHT] = { "weight", "spillway fills remotes in order; it does "
			"not weight them" },
	[EP_ACCOUNT] = { "serviceAccount", "the tunnel checks a gateway's "
			 "identity against tls.allow_identities" },
};

/* A required, non-empty list of strings. */
static int read_strings(struct importer *im, const struct object *o,
			const yaml_node_t *spec, const yaml_node_t *n,
			const char *field, const char *what, const char ***out,
			const yaml_node_t ***nodes, int *count)
{
	const yaml_node_item_t *items;
	char f[FIELD_MAX];
	int c;

	if (!n)
		return fail(im, o, spec, field, "missing; expected %s", what);
	c = list(im, o, n, field, &items);
	if (c < 0)
		return -EINVAL;
	if (!c)
		return fail(im, o, n, field, "empty; expected %s", what);
	*out = calloc(c, sizeof(**out));
	if (nodes)
		*nodes = calloc(c, sizeof(**nodes));
	if (!*out || (nodes && !*nodes))
		return out_of_memory(im);
	for (int i = 0; i < c; i++) {
		const yaml_node_t *item = node(o, items[i]);

		(*out)[i] = text(im, o, item, sw_field_item(f, field, i));
		if (!(*out)[i])
			return -EINVAL;
		if (nodes)
			(*nodes)[i] = item;
	}
	*count = c;
	return 0;
}

static int read_se_ports(struct importer *im, struct entry *s,
			 const yaml_node_t *spec, const yaml_node_t *n)
{
	const char *field = "spec.ports";
	const yaml_node_item_t *items;
	char f[FIELD_MAX], g[FIELD_MAX];
	int count;

	if (!n)
		return fail(im, &s->obj, spec, field, "missing; expected the "
			    "service's ports");
	count = list(im, &s->obj, n, field, &items);
	if (count <= 0)
		return count ? -EINVAL : fail(im, &s->obj, n, field, "empty; "
					      "expected the service's ports");
	s->ports = calloc(count, sizeof(*s->ports));
	if (!s->ports)
		return out_of_memory(im);
	for (int i = 0; i < count; i++) {
		const yaml_node_t *item = node(&s->obj, items[i]), *v[ARRAY_SIZE(se_port_keys)];
		struct se_port *p = &s->ports[s->n_ports];
		const char *proto = "TCP";
		__u32 number_;

		sw_field_item(f, field, i);
		if (walk(im, &s->obj, item, f, se_port_keys, ARRAY_SIZE(se_port_keys),
			 NULL, v))
			return -EINVAL;
		if (!v[SP_NUMBER] || !v[SP_NAME])
			return fail(im, &s->obj, item, f, "missing '%s'; expected "
				    "number and name", v[SP_NUMBER] ? "name" :
				    "number");
		if (number(im, &s->obj, v[SP_NUMBER], sw_field_key(g, f, "number"),
			   1, 65535, &number_) ||
		    !(p->name = text(im, &s->obj, v[SP_NAME],
				     sw_field_key(g, f, "name"))) ||
		    (v[SP_PROTOCOL] &&
		     !(proto = text(im, &s->obj, v[SP_PROTOCOL],
				    sw_field_key(g, f, "protocol")))))
			return -EINVAL;
		p->number = number_;
		p->index = i;
		p->node = item;
		if (!strcasecmp(proto, "UDP") || !strcasecmp(proto, "SCTP")) {
			warn(im, &s->obj, item, f, "port %u not imported: "
			     "spillway carries TCP only, not %s", p->number,
			     proto);
			continue;
		}
		s->n_ports++;
	}
	return 0;
}

/* "region/zone/subzone", each part optional. */
static int read_locality(struct importer *im, struct entry *s,
			 struct se_endpoint *ep, const yaml_node_t *n,
			 const char *field)
{
	const char *l = text(im, &s->obj, n, field);

	for (int i = 0; l && *l && i < 3; i++) {
		size_t len = strcspn(l, "/");

		if (len > SW_SHORT_NAME_MAX)
			return fail(im, &s->obj, n, field, "'%s' has a part "
				    "longer than %d characters; expected "
				    "region/zone/subzone", l, SW_SHORT_NAME_MAX);
		memcpy(ep->locality[i], l, len);
		l += len + (l[len] == '/');
	}
	return l ? 0 : -EINVAL;
}

static int read_endpoints(struct importer *im, struct entry *s,
			  const yaml_node_t *n)
{
	const char *field = "spec.endpoints";
	const yaml_node_item_t *items;
	char f[FIELD_MAX], g[FIELD_MAX];
	int count = list(im, &s->obj, n, field, &items);

	if (count < 0)
		return -EINVAL;
	s->endpoints = calloc(count ? count : 1, sizeof(*s->endpoints));
	if (!s->endpoints)
		return out_of_memory(im);
	for (int i = 0; i < count; i++) {
		const yaml_node_t *item = node(&s->obj, items[i]), *v[ARRAY_SIZE(endpoint_keys)];
		struct se_endpoint *ep = &s->endpoints[i];

		sw_field_item(f, field, i);
		if (walk(im, &s->obj, item, f, endpoint_keys, ARRAY_SIZE(endpoint_keys),
			 NULL, v))
			return -EINVAL;
		if (!v[EP_ADDRESS])
			return fail(im, &s->obj, item, sw_field_key(g, f, "address"),
				    "missing; expected the address of the "
				    "endpoint (another network's gateway)");
		ep->node = item;
		ep->index = i;
		ep->address_node = v[EP_ADDRESS];
		ep->network_node = v[EP_NETWORK];
		ep->ports = v[EP_PORTS];
		ep->labels = v[EP_LABELS];
		if (!(ep->address = text(im, &s->obj, v[EP_ADDRESS],
					 sw_field_key(g, f, "address"))) ||
		    (v[EP_NETWORK] &&
		     !(ep->network = text(im, &s->obj, v[EP_NETWORK],
					  sw_field_key(g, f, "network")))) ||
		    (v[EP_LOCALITY] &&
		     read_locality(im, s, ep, v[EP_LOCALITY],
				   sw_field_key(g, f, "locality"))))
			return -EINVAL;
		s->n_endpoints++;
	}
	return 0;
}

static int read_entry(struct importer *im, struct entry *s,
		      const yaml_node_t *spec)
{
	const yaml_node_t *v[ARRAY_SIZE(se_keys)];

	if (walk(im, &s->obj, spec, "spec", se_keys, ARRAY_SIZE(se_keys), NULL, v))
		return -EINVAL;
	if (read_strings(im, &s->obj, spec, v[SE_HOSTS], "spec.hosts",
			 "the service's host names", &s->hosts, NULL,
			 &s->n_hosts) ||
	    read_strings(im, &s->obj, spec, v[SE_ADDRESSES], "spec.addresses",
			 "the service's VIPs (spillway counts connections to "
			 "VIP:port)", &s->addresses, &s->address_nodes,
			 &s->n_addresses) ||
	    read_se_ports(im, s, spec, v[SE_PORTS]))
		return -EINVAL;
	return v[SE_ENDPOINTS] ? read_endpoints(im, s, v[SE_ENDPOINTS]) : 0;
}

/* ------------------------------------------------------------------------ */
/* Documents */

/* *a as an array of n elements; -ENOMEM leaves it as it was. */
static int grow(void **a, int n, size_t size)
{
	void *grown = realloc(*a, (n ? n : 1) * size);

	if (!grown)
		return -ENOMEM;
	*a = grown;
	return 0;
}

static int read_object(struct importer *im, const struct object *base,
		       const yaml_node_t *root);

/* kind: List (what kubectl get -o yaml prints): each item is an object. */
static int read_list(struct importer *im, const struct object *o,
		     const yaml_node_t *root)
{
	const yaml_node_t *items_n = get(o, root, "items");
	const yaml_node_item_t *items;
	int count;

	if (!items_n)
		return fail(im, o, root, "items", "missing; expected the List's "
			    "objects");
	count = list(im, o, items_n, "items", &items);
	for (int i = 0; i < count; i++)
		if (read_object(im, o, node(o, items[i])))
			return -EINVAL;
	return count < 0 ? -EINVAL : 0;
}

static int read_object(struct importer *im, const struct object *base,
		       const yaml_node_t *root)
{
	const yaml_node_t *kind_n = get(base, root, "kind");
	const yaml_node_t *api_n = get(base, root, "apiVersion");
	const yaml_node_t *meta = get(base, root, "metadata");
	const yaml_node_t *name_n = get(base, meta, "name");
	const yaml_node_t *ns_n = get(base, meta, "namespace");
	const yaml_node_t *spec = get(base, root, "spec");
	const char *kind, *api, *name = "(no name)", *ns = "default";
	struct object o = *base;
	bool known = false;

	if (root->type == YAML_SCALAR_NODE && !root->data.scalar.length)
		return 0;	/* an empty document: "---" twice */
	if (root->type != YAML_MAPPING_NODE)
		return fail(im, &o, root, "", "found %s; expected a Kubernetes "
			    "object (a mapping with apiVersion and kind)",
			    kind_name(root));
	if (!kind_n || !api_n)
		return fail(im, &o, root, kind_n ? "apiVersion" : "kind",
			    "missing; expected a Kubernetes object");
	if (!(kind = text(im, &o, kind_n, "kind")) ||
	    !(api = text(im, &o, api_n, "apiVersion")) ||
	    (name_n && !(name = text(im, &o, name_n, "metadata.name"))) ||
	    (ns_n && !(ns = text(im, &o, ns_n, "metadata.namespace"))))
		return -EINVAL;
	if (!strcmp(api, "v1") && !strcmp(kind, "List"))
		return read_list(im, base, root);
	o.kind = kind;
	snprintf(o.name, sizeof(o.name), "%s/%s", ns, name);
	for (size_t i = 0; i < ARRAY_SIZE(api_versions); i++)
		known |= !strcmp(api, api_versions[i]);
	if (!known || (strcmp(kind, "DestinationRule") &&
		       strcmp(kind, "ServiceEntry"))) {
		note(im, &o, root, "", "skipped: spillway imports "
		     "DestinationRule and ServiceEntry of networking.istio.io "
		     "v1, v1beta1 or v1alpha3, not %s %s", api, kind);
		return 0;
	}
	if (!spec)
		return fail(im, &o, root, "spec", "missing; expected the %s's "
			    "spec", kind);
	if (!strcmp(kind, "DestinationRule")) {
		struct rule *r;

		if (grow((void **)&im->rules, im->n_rules + 1, sizeof(*r)))
			return out_of_memory(im);
		r = &im->rules[im->n_rules++];
		memset(r, 0, sizeof(*r));
		r->obj = o;
		return read_rule(im, r, spec, ns);
	} else {
		struct entry *s;

		if (grow((void **)&im->entries, im->n_entries + 1, sizeof(*s)))
			return out_of_memory(im);
		s = &im->entries[im->n_entries++];
		memset(s, 0, sizeof(*s));
		s->obj = o;
		return read_entry(im, s, spec);
	}
}

/* The name of an input in messages. */
static const char *input_name(const struct sw_istio_input *in)
{
	return strcmp(in->path, "-") ? in->path : "(stdin)";
}

/* Load every document of an input; the objects are read afterwards. */
static int load(struct importer *im, const struct sw_istio_input *in,
		int *first)
{
	const char *path = input_name(in);
	yaml_parser_t y;
	int err = 0, doc = 0;

	*first = im->n_docs;
	if (!yaml_parser_initialize(&y))
		return out_of_memory(im);
	yaml_parser_set_input_string(&y, (const unsigned char *)in->text,
				     in->len);
	for (;;) {
		yaml_document_t *d = malloc(sizeof(*d));

		if (!d || grow((void **)&im->docs, im->n_docs + 1,
			       sizeof(*im->docs))) {
			free(d);
			err = out_of_memory(im);
			break;
		}
		doc++;
		if (!yaml_parser_load(&y, d)) {
			free(d);
			err = sw_yaml_syntax_error(path, doc, &y, in->text,
						   in->len, im->e);
			break;
		}
		if (!yaml_document_get_root_node(d)) {	/* the stream's end */
			yaml_document_delete(d);
			free(d);
			break;
		}
		im->docs[im->n_docs++] = d;
	}
	yaml_parser_delete(&y);
	return err;
}

static int read_inputs(struct importer *im, const struct sw_istio_input *in,
		       int n_in)
{
	for (int i = 0; i < n_in; i++) {
		const char *path = input_name(&in[i]);
		int first, err = load(im, &in[i], &first);

		if (err)
			return err;
		for (int d = first; d < im->n_docs; d++) {
			struct object base = { .path = path, .doc = d - first + 1,
					       .kind = "", .name = "",
					       .ydoc = im->docs[d] };

			err = read_object(im, &base,
					  yaml_document_get_root_node(im->docs[d]));
			if (err)
				return err;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Remotes: the endpoints of a ServiceEntry that are in another network */

static bool is_remote(const struct importer *im, const struct se_endpoint *ep)
{
	return ep->network && (!im->o->network ||
			       strcmp(ep->network, im->o->network));
}

static const char *remote_name(const struct importer *im, const char *network)
{
	for (int i = 0; i < im->o->n_renames; i++)
		if (!strcmp(im->o->renames[i].network, network))
			return im->o->renames[i].remote;
	return network;
}

/*
 * The value a failoverPriority label has for an endpoint: the network and
 * locality stand for Istio's topology labels, anything else is a label.
 */
static const char *label_value(const struct object *o,
			       const struct se_endpoint *ep, const char *key)
{
	static const char *const topology[] = {
		"topology.kubernetes.io/region", "topology.kubernetes.io/zone",
		"topology.istio.io/subzone",
	};
	const yaml_node_t *v;

	if (!strcmp(key, "topology.istio.io/network"))
		return ep->network;
	for (int i = 0; i < 3; i++)
		if (!strcmp(key, topology[i]))
			return ep->locality[i][0] ? ep->locality[i] : NULL;
	v = get(o, ep->labels, key);
	return v && v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value :
						 NULL;
}

struct candidate {
	const struct se_endpoint *ep;
	int score;	/* failoverPriority: leading labels matched */
	int rank;	/* failover: where its region comes */
};

/* Leading labels of failoverPriority on which ep matches this cluster. */
static int priority_score(struct importer *im, const struct rule *r,
			  const struct entry *s, const struct se_endpoint *self,
			  const struct se_endpoint *ep, int *score)
{
	const char *field = "spec.trafficPolicy.loadBalancer.localityLbSetting."
			    "failoverPriority";
	const yaml_node_item_t *items;
	int count = list(im, &r->obj, r->priority, field, &items);
	char f[FIELD_MAX], key[FIELD_MAX];

	if (count < 0)
		return -EINVAL;
	for (*score = 0; *score < count; (*score)++) {
		const char *label = text(im, &r->obj, node(&r->obj, items[*score]),
					 sw_field_item(f, field, *score));
		const char *eq, *want, *have;

		if (!label)
			return -EINVAL;
		eq = strchr(label, '=');
		snprintf(key, sizeof(key), "%.*s",
			 eq ? (int)(eq - label) : (int)strlen(label), label);
		want = eq ? eq + 1 : label_value(&s->obj, self, key);
		have = label_value(&s->obj, ep, key);
		if (!want || !have || strcmp(want, have))
			break;
	}
	return 0;
}

/* Regions in the order failover[] names them for this cluster's region. */
static int failover_rank(struct importer *im, const struct rule *r,
			 const struct se_endpoint *self,
			 const struct se_endpoint *ep, int *rank)
{
	const char *field = "spec.trafficPolicy.loadBalancer.localityLbSetting."
			    "failover";
	const char *here = self->locality[0], *region = ep->locality[0];
	const yaml_node_item_t *items;
	int count = list(im, &r->obj, r->failover, field, &items), k = 1;
	char f[FIELD_MAX], g[FIELD_MAX];

	if (count < 0)
		return -EINVAL;
	*rank = *region && !strcmp(region, here) ? 0 : INT32_MAX;
	for (int i = 0; i < count && *rank == INT32_MAX; i++) {
		const yaml_node_t *item = node(&r->obj, items[i]);
		const yaml_node_t *from_n = get(&r->obj, item, "from");
		const yaml_node_t *to_n = get(&r->obj, item, "to");
		const char *from, *to;

		sw_field_item(f, field, i);
		if (!from_n || !to_n)
			return fail(im, &r->obj, item, f, "missing '%s'; expected "
				    "from: REGION and to: REGION",
				    from_n ? "to" : "from");
		if (!(from = text(im, &r->obj, from_n, sw_field_key(g, f, "from"))) ||
		    !(to = text(im, &r->obj, to_n, sw_field_key(g, f, "to"))))
			return -EINVAL;
		if (*here && strcmp(from, here))
			continue;
		if (!strcmp(to, region))
			*rank = k;
		k++;
	}
	return 0;
}

/* This cluster's locality: --locality, else its first local endpoint's. */
static void local_self(const struct importer *im, const struct entry *s,
		       struct se_endpoint *self)
{
	const char *l = im->o->locality;

	memset(self, 0, sizeof(*self));
	self->network = im->o->network;
	for (int i = 0; !l && i < s->n_endpoints; i++)
		if (!is_remote(im, &s->endpoints[i])) {
			memcpy(self->locality, s->endpoints[i].locality,
			       sizeof(self->locality));
			return;
		}
	for (int i = 0; l && *l && i < 3; i++) {
		size_t len = strcspn(l, "/");

		snprintf(self->locality[i], sizeof(self->locality[i]), "%.*s",
			 (int)len, l);
		l += len + (l[len] == '/');
	}
}

/* Remote endpoints, best first: failoverPriority, then failover, then file order. */
static int order_remotes(struct importer *im, const struct entry *s,
			 const struct rule *r, struct candidate *c, int *n)
{
	struct se_endpoint self;

	local_self(im, s, &self);
	*n = 0;
	for (int i = 0; i < s->n_endpoints; i++) {
		const struct se_endpoint *ep = &s->endpoints[i];
		struct candidate cand = { .ep = ep };
		int j;

		if (!is_remote(im, ep))
			continue;
		if ((r->priority && priority_score(im, r, s, &self, ep,
						   &cand.score)) ||
		    (r->failover && failover_rank(im, r, &self, ep, &cand.rank)))
			return -EINVAL;
		/* Insertion keeps equal candidates in file order. */
		for (j = *n; j > 0 && (c[j - 1].score < cand.score ||
				       (c[j - 1].score == cand.score &&
					c[j - 1].rank > cand.rank)); j--)
			c[j] = c[j - 1];
		c[j] = cand;
		(*n)++;
	}
	return 0;
}

/* --gateway-port, else the endpoint's port for the service's, else 15008. */
static int gateway_port(struct importer *im, const struct entry *s,
			const struct se_endpoint *ep, __u16 *out)
{
	char f[FIELD_MAX];

	*out = im->o->gateway_port ? im->o->gateway_port :
				     SW_DEFAULT_GATEWAY_PORT;
	if (im->o->gateway_port)
		return 0;
	for (int i = 0; i < s->n_ports; i++) {
		const yaml_node_t *v = get(&s->obj, ep->ports, s->ports[i].name);
		__u32 port;

		if (!v)
			continue;
		snprintf(f, sizeof(f), "spec.endpoints[%d].ports.%s", ep->index,
			 s->ports[i].name);
		if (number(im, &s->obj, v, f, 1, 65535, &port))
			return -EINVAL;
		if (port == ISTIO_EAST_WEST_PORT)
			note(im, &s->obj, v, f, "%u is Istio's east-west "
			     "gateway port; a spillway gateway listens on its "
			     "tunnel.listen port (%u by default): pass "
			     "--gateway-port PORT unless it listens on %u",
			     port, SW_DEFAULT_GATEWAY_PORT, port);
		*out = port;
		return 0;
	}
	return 0;
}

static bool same_tunnel(const struct sw_remote_config *a,
			const struct sw_remote_config *b)
{
	return a->connect_timeout_ns == b->connect_timeout_ns &&
	       a->keepalive.enabled == b->keepalive.enabled &&
	       a->keepalive.time_ns == b->keepalive.time_ns &&
	       a->keepalive.interval_ns == b->keepalive.interval_ns &&
	       a->keepalive.probes == b->keepalive.probes &&
	       a->probe_interval_ns == b->probe_interval_ns &&
	       a->probe_failures == b->probe_failures &&
	       a->ejection_time_ns == b->ejection_time_ns;
}

/* The rule's connectTimeout, tcpKeepalive and outlierDetection, once per remote. */
static void apply_tunnel(struct importer *im, int i, const struct rule *r)
{
	struct sw_remote_config *rc = &im->cfg->remotes[i];
	const struct rule *from = im->remote_settings[i];

	if (!r->has_tunnel)
		return;
	if (!from) {
		rc->connect_timeout_ns = r->tunnel.connect_timeout_ns;
		rc->keepalive = r->tunnel.keepalive;
		rc->probe_interval_ns = r->tunnel.probe_interval_ns;
		rc->probe_failures = r->tunnel.probe_failures;
		rc->ejection_time_ns = r->tunnel.ejection_time_ns;
		im->remote_settings[i] = r;
	} else if (from != r && !same_tunnel(&from->tunnel, &r->tunnel)) {
		warn(im, &r->obj, r->host_node, "spec.trafficPolicy", "its "
		     "connectTimeout, tcpKeepalive and outlierDetection are not "
		     "applied to remote %s: spillway's tunnel settings are per "
		     "remote, and %s %s (document %d of %s) set them first",
		     rc->name, from->obj.kind, from->obj.name, from->obj.doc,
		     from->obj.path);
	}
}

/* The remote for ep (added if new); its index in cfg->remotes. */
static int add_remote(struct importer *im, const struct entry *s,
		      const struct se_endpoint *ep, const char *name,
		      const struct rule *r, int *index)
{
	struct sw_config *cfg = im->cfg;
	char f[FIELD_MAX], a[SW_NAME_MAX + 16], b[SW_NAME_MAX + 16];
	struct sw_hostport gw = { .host = "" };
	__u8 addr[16], family;
	int i;

	if (gateway_port(im, s, ep, &gw.port))
		return -EINVAL;
	snprintf(f, sizeof(f), "spec.endpoints[%d].address", ep->index);
	if (strlen(ep->address) > SW_NAME_MAX ||
	    (sw_addr_parse(ep->address, addr, &family) &&
	     !sw_is_dns_name(ep->address)))
		return fail(im, &s->obj, ep->address_node, f, "'%s' is not a gateway "
			    "spillway can reach; expected an IPv4 or IPv6 "
			    "address or a DNS name", ep->address);
	strcpy(gw.host, ep->address);
	for (i = 0; i < cfg->n_remotes && strcmp(cfg->remotes[i].name, name); i++)
		;
	if (i < cfg->n_remotes) {
		if (strcmp(cfg->remotes[i].gateway.host, gw.host) ||
		    cfg->remotes[i].gateway.port != gw.port)
			warn(im, &s->obj, ep->address_node, f, "remote %s already goes "
			     "to gateway %s; spillway takes one gateway per "
			     "network, so %s is not used", name,
			     sw_hostport_format(&cfg->remotes[i].gateway, a,
						sizeof(a)),
			     sw_hostport_format(&gw, b, sizeof(b)));
	} else {
		if (i >= SW_MAX_REMOTES - 1)
			return fail(im, &s->obj, ep->node, f, "more than %d "
				    "remote networks; expected at most %d (the "
				    "size of the datapath's remotes map)", i, i);
		if (grow((void **)&cfg->remotes, i + 1, sizeof(*cfg->remotes)) ||
		    grow((void **)&im->remote_settings, i + 1,
			 sizeof(*im->remote_settings)))
			return out_of_memory(im);
		memset(&cfg->remotes[i], 0, sizeof(cfg->remotes[i]));
		sw_remote_defaults(&cfg->remotes[i]);
		strcpy(cfg->remotes[i].name, name);
		cfg->remotes[i].gateway = gw;
		im->remote_settings[i] = NULL;
		cfg->n_remotes++;
	}
	apply_tunnel(im, i, r);
	*index = i;
	return 0;
}

/* overflow_to of the services of s: its remote networks, best first. */
static int overflow_to(struct importer *im, const struct entry *s,
		       const struct rule *r,
		       char names[SW_MAX_OVERFLOW_REMOTES][SW_SHORT_NAME_MAX + 1],
		       int *n_names)
{
	struct candidate *c = calloc(s->n_endpoints + 1, sizeof(*c));
	char f[FIELD_MAX];
	int n, err;

	if (!c)
		return out_of_memory(im);
	err = order_remotes(im, s, r, c, &n);
	*n_names = 0;
	for (int i = 0; !err && i < n; i++) {
		const struct se_endpoint *ep = c[i].ep;
		const char *name = remote_name(im, ep->network);
		bool dup = false;
		int index;

		snprintf(f, sizeof(f), "spec.endpoints[%d].network", ep->index);
		if (!sw_is_dns_label(name)) {
			err = fail(im, &s->obj, ep->network_node, f, "'%s' is not a "
				   "DNS label, which a spillway remote's name "
				   "must be; pass --remote-name %s=NAME",
				   name, ep->network);
			break;
		}
		for (int j = 0; j < *n_names; j++)
			dup |= !strcmp(names[j], name);
		if (dup || *n_names == SW_MAX_OVERFLOW_REMOTES) {
			warn(im, &s->obj, ep->network_node, f, "not imported: %s",
			     dup ? "an endpoint of this network comes first; "
			     "spillway takes one gateway per network" :
			     "spillway tries at most 4 remotes per service");
			continue;
		}
		err = add_remote(im, s, ep, name, r, &index);
		if (!err)
			strcpy(names[(*n_names)++], name);
	}
	free(c);
	return err;
}

/* ------------------------------------------------------------------------ */
/* Services: one per address and port of a ServiceEntry */

static const struct rule *rule_for(struct importer *im, const struct entry *s)
{
	const struct rule *found = NULL;

	for (int i = 0; i < im->n_rules; i++) {
		struct rule *r = &im->rules[i];
		bool match = false;

		for (int h = 0; h < s->n_hosts; h++)
			match |= !strcmp(r->host, s->hosts[h]);
		if (!match)
			continue;
		if (found) {
			warn(im, &r->obj, r->host_node, "spec.host", "not "
			     "imported for ServiceEntry %s: %s %s (document %d "
			     "of %s) is for the same host and comes first",
			     s->obj.name, found->obj.kind, found->obj.name,
			     found->obj.doc, found->obj.path);
			continue;
		}
		r->used = true;
		found = r;
	}
	return found;
}

static __u32 max_for(const struct rule *r, __u16 port)
{
	for (int i = 0; i < r->n_ports; i++)
		if (r->ports[i].port == port)
			return r->ports[i].max;
	return r->max;
}

/*
 * HOST for an entry of one address and one port. With several ports each
 * service is PORT-NAME.HOST (port-NUMBER.HOST if the name is no DNS label);
 * addresses after the first add aI. (I its index in spec.addresses).
 */
static int service_name(struct importer *im, const struct entry *s, int a,
			const struct se_port *p, char out[SW_NAME_MAX + 1])
{
	char port[SW_SHORT_NAME_MAX + 2] = "", addr[16] = "", name[2 * SW_NAME_MAX];

	if (s->n_ports > 1 && sw_is_dns_label(p->name))
		snprintf(port, sizeof(port), "%s.", p->name);
	else if (s->n_ports > 1)
		snprintf(port, sizeof(port), "port-%u.", p->number);
	if (a)
		snprintf(addr, sizeof(addr), "a%d.", a);
	snprintf(name, sizeof(name), "%s%s%s", port, addr, s->hosts[0]);
	if (!sw_is_dns_name(name))
		return fail(im, &s->obj, s->address_nodes[a], "spec.hosts[0]",
			    "'%s' cannot name a spillway service ('%s'); "
			    "expected a DNS name of at most %d characters "
			    "(lowercase, no wildcard)", s->hosts[0], name,
			    SW_NAME_MAX);
	strcpy(out, name);
	return 0;
}

static int add_service(struct importer *im, const struct entry *s, int a,
		       const struct se_port *p, __u32 max,
		       char remotes[SW_MAX_OVERFLOW_REMOTES][SW_SHORT_NAME_MAX + 1],
		       int n_remotes)
{
	struct sw_config *cfg = im->cfg;
	struct sw_service_config_entry *svc;
	char f[FIELD_MAX], name[SW_NAME_MAX + 1];
	int n = cfg->n_services;

	sw_field_item(f, "spec.addresses", a);
	if (service_name(im, s, a, p, name))
		return -EINVAL;
	if (n >= SW_MAX_SERVICES)
		return fail(im, &s->obj, s->address_nodes[a], f, "more than %d "
			    "services; expected at most %d (the size of the "
			    "datapath's services map)", n, n);
	if (grow((void **)&cfg->services, n + 1, sizeof(*cfg->services)))
		return out_of_memory(im);
	svc = &cfg->services[n];
	memset(svc, 0, sizeof(*svc));
	strcpy(svc->name, name);
	strcpy(svc->vip, s->addresses[a]);
	sw_service_key_make(&svc->key, svc->vip, p->number);
	svc->max_connections = svc->resume_below = max;
	svc->n_overflow_to = n_remotes;
	memcpy(svc->overflow_to, remotes, sizeof(svc->overflow_to));
	for (int i = 0; i < n; i++) {
		const struct sw_service_config_entry *o = &cfg->services[i];

		if (!strcmp(o->name, name) ||
		    !memcmp(&o->key, &svc->key, sizeof(o->key)))
			return fail(im, &s->obj, s->address_nodes[a], f,
				    "%s port %u would be service %s, but "
				    "service %s (%s port %u) was imported "
				    "first; expected each VIP, port and name "
				    "once", svc->vip, p->number, name, o->name,
				    o->vip, o->key.port);
	}
	cfg->n_services++;
	return 0;
}

static int add_services(struct importer *im, const struct entry *s,
			const struct rule *r)
{
	char remotes[SW_MAX_OVERFLOW_REMOTES][SW_SHORT_NAME_MAX + 1] = { "" };
	char f[FIELD_MAX];
	int n_remotes = 0;

	for (int h = 1; h < s->n_hosts; h++)
		warn(im, &s->obj, s->address_nodes[0],
		     sw_field_item(f, "spec.hosts", h), "'%s' not imported: "
		     "spillway names the service after spec.hosts[0]",
		     s->hosts[h]);
	if (overflow_to(im, s, r, remotes, &n_remotes))
		return -EINVAL;
	if (!n_remotes)
		warn(im, &s->obj, s->address_nodes[0], "spec.endpoints", "no "
		     "endpoint in another network: the service is imported "
		     "but cannot spill (connections over maxConnections stay "
		     "local)");
	for (int a = 0; a < s->n_addresses; a++) {
		__u8 addr[16], family;

		sw_field_item(f, "spec.addresses", a);
		if (sw_addr_parse(s->addresses[a], addr, &family)) {
			warn(im, &s->obj, s->address_nodes[a], f, "'%s' not "
			     "imported: spillway counts connections to one "
			     "VIP, an IPv4 or IPv6 address", s->addresses[a]);
			continue;
		}
		for (int p = 0; p < s->n_ports; p++) {
			__u32 max = max_for(r, s->ports[p].number);

			if (!max) {
				warn(im, &s->obj, s->ports[p].node,
				     sw_field_item(f, "spec.ports", s->ports[p].index),
				     "port %u not imported: %s %s sets no "
				     "maxConnections for it (neither in "
				     "trafficPolicy nor in portLevelSettings)",
				     s->ports[p].number, r->obj.kind, r->obj.name);
				continue;
			}
			if (add_service(im, s, a, &s->ports[p], max, remotes,
					n_remotes))
				return -EINVAL;
		}
	}
	return 0;
}

/* Port-level settings for a port the ServiceEntry does not have. */
static void check_rule_ports(struct importer *im, const struct rule *r,
			     const struct entry *s)
{
	for (int i = 0; i < r->n_ports; i++) {
		bool found = false;

		for (int p = 0; p < s->n_ports; p++)
			found |= s->ports[p].number == r->ports[i].port;
		if (!found)
			warn(im, &r->obj, r->ports[i].node,
			     "spec.trafficPolicy.portLevelSettings", "port %u "
			     "not imported: ServiceEntry %s has no such port",
			     r->ports[i].port, s->obj.name);
	}
}

static int build(struct importer *im)
{
	for (int i = 0; i < im->n_entries; i++) {
		const struct entry *s = &im->entries[i];
		const struct rule *r = rule_for(im, s);

		if (!r) {
			warn(im, &s->obj, s->address_nodes[0], "spec.hosts",
			     "skipped: no DestinationRule for '%s' among the "
			     "inputs; a spillway service needs its threshold "
			     "(connectionPool.tcp.maxConnections)", s->hosts[0]);
			continue;
		}
		check_rule_ports(im, r, s);
		if (add_services(im, s, r))
			return -EINVAL;
	}
	for (int i = 0; i < im->n_rules; i++) {
		const struct rule *r = &im->rules[i];

		if (!r->used)
			warn(im, &r->obj, r->host_node, "spec.host", "skipped: "
			     "no ServiceEntry for '%s' among the inputs; "
			     "spillway takes the VIP, ports and remote "
			     "endpoints from one", r->host);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* What the Istio objects do not say: from the options */

static int fill_node(struct importer *im)
{
	const struct sw_istio_opts *o = im->o;
	struct sw_config *cfg = im->cfg;

	sw_config_defaults(cfg);
	if (!sw_is_dns_label(o->cluster))
		return sw_fail(im->e, -EINVAL, "--cluster '%s' is not a DNS "
			       "label; expected 1 to %d lowercase letters, "
			       "digits or '-'", o->cluster, SW_SHORT_NAME_MAX);
	strcpy(cfg->cluster, o->cluster);
	cfg->interfaces = calloc(o->n_interfaces + 1, sizeof(*cfg->interfaces));
	if (!cfg->interfaces)
		return out_of_memory(im);
	for (int i = 0; i < o->n_interfaces; i++) {
		size_t len = strlen(o->interfaces[i]);

		if (!len || len >= IFNAMSIZ || strpbrk(o->interfaces[i], "/: \t"))
			return sw_fail(im->e, -EINVAL, "--interface '%s' is not "
				       "an interface name; expected 1 to %d "
				       "characters, none of them '/', ':' or "
				       "whitespace", o->interfaces[i],
				       IFNAMSIZ - 1);
		strcpy(cfg->interfaces[i].name, o->interfaces[i]);
		cfg->interfaces[i].attach = SW_ATTACH_TC;
	}
	cfg->n_interfaces = o->n_interfaces;
	if (o->metrics_listen) {
		if (sw_hostport_parse(o->metrics_listen, &cfg->metrics_listen))
			return sw_fail(im->e, -EINVAL, "--metrics '%s' is not an "
				       "address and port; expected one such as "
				       "127.0.0.1:15020", o->metrics_listen);
		cfg->has_metrics = true;
	}
	if (!cfg->n_remotes)	/* nothing spills: no tunnel, no certificates */
		return 0;
	cfg->has_tls = true;
	if (!*o->tls_dir || strlen(o->tls_dir) >= sizeof(cfg->tls_dir))
		return sw_fail(im->e, -EINVAL, "--tls-dir '%s' cannot be used; "
			       "expected the directory holding root-cert.pem, "
			       "cert-chain.pem and key.pem", o->tls_dir);
	strcpy(cfg->tls_dir, o->tls_dir);
	cfg->allow_identities = calloc(o->n_identities + 1,
				       sizeof(*cfg->allow_identities));
	if (!cfg->allow_identities)
		return out_of_memory(im);
	for (int i = 0; i < o->n_identities; i++) {
		if (strlen(o->identities[i]) > SW_IDENTITY_MAX)
			return sw_fail(im->e, -EINVAL, "--allow-identity '%.64s...' "
				       "is longer than %d characters",
				       o->identities[i], SW_IDENTITY_MAX);
		strcpy(cfg->allow_identities[i], o->identities[i]);
	}
	cfg->n_allow_identities = o->n_identities;
	return 0;
}

static void importer_free(struct importer *im)
{
	for (int i = 0; i < im->n_rules; i++)
		free(im->rules[i].ports);
	for (int i = 0; i < im->n_entries; i++) {
		free(im->entries[i].hosts);
		free(im->entries[i].addresses);
		free(im->entries[i].address_nodes);
		free(im->entries[i].ports);
		free(im->entries[i].endpoints);
	}
	for (int i = 0; i < im->n_docs; i++) {
		yaml_document_delete(im->docs[i]);
		free(im->docs[i]);
	}
	free(im->docs);
	free(im->rules);
	free(im->entries);
	free(im->remote_settings);
}

int sw_istio_import(const struct sw_istio_opts *o,
		    const struct sw_istio_input *inputs, int n_inputs,
		    struct sw_config *cfg, FILE *notes, struct sw_error *e)
{
	struct sw_error ignored;
	struct importer im = { .o = o, .notes = notes, .e = e ? e : &ignored,
			       .cfg = cfg };
	int err;

	memset(cfg, 0, sizeof(*cfg));
	im.e->msg[0] = '\0';
	err = read_inputs(&im, inputs, n_inputs);
	if (!err)
		err = build(&im);
	if (!err && !cfg->n_services)
		err = sw_fail(im.e, -EINVAL, "nothing to import: expected at "
			      "least one ServiceEntry with addresses and ports "
			      "and a DestinationRule with maxConnections for "
			      "its host (see the warnings above)");
	if (!err)
		err = fill_node(&im);
	importer_free(&im);
	if (err)
		sw_config_free(cfg);
	return err;
}

int sw_istio_import_files(const struct sw_istio_opts *o,
			  const char *const *paths, int n_paths,
			  struct sw_config *cfg, FILE *notes,
			  struct sw_error *e)
{
	struct sw_istio_input *in = calloc(n_paths + 1, sizeof(*in));
	int err = in ? 0 : sw_fail(e, -ENOMEM, "out of memory");
	int n = 0;

	memset(cfg, 0, sizeof(*cfg));
	for (; !err && n < n_paths; n++) {
		char *text;

		in[n].path = paths[n];
		err = sw_config_read(strcmp(paths[n], "-") ? paths[n] :
				     "/dev/stdin", &text, &in[n].len, e);
		in[n].text = err ? NULL : text;
	}
	if (!err)
		err = sw_istio_import(o, in, n_paths, cfg, notes, e);
	for (int i = 0; in && i < n; i++)
		free((char *)in[i].text);
	free(in);
	return err;
}
