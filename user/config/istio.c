// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Istio DestinationRules and ServiceEntries as a spillway configuration.
 *
 * Two passes. The first reads every document of every input in order (the
 * documents stay loaded: the objects below point into them), checks each
 * object's shape and warns, in file order, about every field that has no
 * spillway meaning. The second pairs each ServiceEntry with the
 * DestinationRule of its host and builds services and remotes from the
 * pair. Messages about one object are held until it is known whether it
 * imports: an object that cannot is skipped with one warning saying why
 * (strict: its first error ends the import). Warnings never end it.
 */
#include <arpa/inet.h>
#include <errno.h>
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
#include "config/yaml.h"

#define KEEPALIVE_MAX_NS (SW_KEEPALIVE_MAX_S * NS_PER_S)

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
	struct sw_yaml y;		/* context: "document N, KIND NAME: " */
	int doc;			/* 1-based, in its file */
	const char *kind;
	char name[OBJECT_NAME_MAX + 1];
};

struct port_max {
	__u16 port;
	__u32 max;
	const yaml_node_t *node;
	int index;			/* in portLevelSettings */
};

/* A DestinationRule, read. */
struct rule {
	struct object obj;
	char host[SW_NAME_MAX + 1];	/* as a fully qualified name */
	const yaml_node_t *host_node;
	const yaml_node_t *policy_node;	/* spec.trafficPolicy */
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
	const yaml_node_t **host_nodes;
	const yaml_node_t *hosts_node;	/* the list */
	int n_hosts;
	const char **addresses;		/* none: VIPs from spec.hosts[0] */
	const yaml_node_t **address_nodes;
	int n_addresses;
	const yaml_node_t *spec;
	struct se_port *ports;
	int n_ports;
	struct se_endpoint *endpoints;
	const yaml_node_t *endpoints_node;	/* NULL: none written */
	int n_endpoints;
};

struct importer {
	const struct sw_istio_opts *o;
	struct sw_yaml_report report;	/* notes: warnings and notes */
	struct sw_error *e;
	struct sw_config *cfg;
	struct sw_yaml_docs docs;
	struct rule *rules;
	int n_rules;
	struct entry *entries;
	int n_entries;
	const struct rule **remote_settings;	/* per cfg->remotes[i]: from */
	char locality[3][SW_SHORT_NAME_MAX + 1];	/* --locality, parsed */
};

/* ------------------------------------------------------------------------ */
/* Messages: FILE:LINE:COLUMN: [LEVEL: ]document N, KIND NAME: FIELD: ... */

static int out_of_memory(struct importer *im)
{
	return sw_fail(im->e, -ENOMEM, "out of memory importing Istio objects");
}

/* The messages about one object, while it is read or built. */
struct held {
	struct sw_yaml_report outer;	/* where they go if it imports */
	char *text;
	size_t len;
};

/* Hold the messages from here on (strict: let them through). */
static int hold(struct importer *im, struct held *h)
{
	h->text = NULL;
	if (im->o->strict)
		return 0;
	h->outer = im->report;
	memset(&im->report, 0, sizeof(im->report));
	im->report.notes = open_memstream(&h->text, &h->len);
	if (im->report.notes)
		return 0;
	im->report = h->outer;
	return out_of_memory(im);
}

/*
 * err: what reading or building the object gave. If the object imports,
 * its messages go out; if it cannot, one warning says why, and it is not
 * an error. Any other failure (out of memory) is returned.
 */
static int release(struct importer *im, struct held *h, int err)
{
	struct sw_yaml_report inner = im->report;

	if (im->o->strict)
		return err;
	if (inner.errors && !err)
		err = -EINVAL;
	im->report = h->outer;
	if (fclose(inner.notes) && !err)
		err = out_of_memory(im);
	if (!err && im->report.notes)
		fwrite(h->text, 1, h->len, im->report.notes);
	else if (err == -EINVAL && inner.errors)
		sw_yaml_skipped(&inner, im->report.notes);
	free(h->text);
	return err == -EINVAL && inner.errors ? 0 : err;
}

/* Fields of Istio objects not in a table are warned about, never refused. */
static const char UNKNOWN_FIELD[] = "spillway does not know this field (is "
	"it spelled right?)";

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

/* The threshold: a rule without one has nothing to import. */
#define MAX_FIELD "spec.trafficPolicy.connectionPool.tcp.maxConnections"
static const char NO_MAX[] = "missing; expected the connection threshold "
	"(here or per port in spec.trafficPolicy.portLevelSettings)";

enum { DR_HOST, DR_POLICY, DR_SUBSETS, DR_EXPORT, DR_SELECTOR };
static const struct sw_yaml_key dr_keys[] = {
	[DR_HOST] = { .name = "host" },
	[DR_POLICY] = { .name = "trafficPolicy" },
	[DR_SUBSETS] = {
		.name = "subsets",
		.ignored = "subsets select workloads by label, which spillway "
			   "does not see: every connection to the VIP counts "
			   "against one threshold",
	},
	[DR_EXPORT] = {
		.name = "exportTo",
		.ignored = "spillway's configuration applies on the node "
			   "whose agent reads it, to every client",
	},
	[DR_SELECTOR] = {
		.name = "workloadSelector",
		.ignored = "spillway applies to every client of the node's "
			   "interfaces, not to selected workloads",
	},
};

enum { TP_POOL, TP_OUTLIER, TP_LB, TP_PORTS, TP_TLS, TP_PROXY, TP_TUNNEL };
static const struct sw_yaml_key tp_keys[] = {
	[TP_POOL] = { .name = "connectionPool" },
	[TP_OUTLIER] = { .name = "outlierDetection" },
	[TP_LB] = { .name = "loadBalancer" },
	[TP_PORTS] = { .name = "portLevelSettings" },
	[TP_TLS] = { .name = "tls", .ignored = OWN_TLS },
	[TP_PROXY] = {
		.name = "proxyProtocol",
		.ignored = "spillway's tunnel carries the client's address in "
			   "a Forwarded header, not PROXY",
	},
	[TP_TUNNEL] = {
		.name = "tunnel",
		.ignored = "spillway's tunnel is its own HTTP/2 CONNECT over "
			   "mutual TLS",
	},
};

enum { POOL_TCP, POOL_HTTP };
static const struct sw_yaml_key pool_keys[] = {
	[POOL_TCP] = { .name = "tcp" },
	[POOL_HTTP] = { .name = "http" },
};

enum { TCP_MAX, TCP_CONNECT, TCP_KEEPALIVE, TCP_DURATION, TCP_IDLE };
static const struct sw_yaml_key tcp_keys[] = {
	[TCP_MAX] = { .name = "maxConnections" },
	[TCP_CONNECT] = { .name = "connectTimeout" },
	[TCP_KEEPALIVE] = { .name = "tcpKeepalive" },
	[TCP_DURATION] = {
		.name = "maxConnectionDuration",
		.ignored = "spillway never ends a connection: existing "
			   "connections never move",
	},
	[TCP_IDLE] = {
		.name = "idleTimeout",
		.ignored = "spillway does not close idle connections; its "
			   "flow table forgets them after "
			   "datapath.idle_timeout",
	},
};

static const struct sw_yaml_key port_tcp_keys[] = {
	[TCP_MAX] = { .name = "maxConnections" },
};

enum { KA_TIME, KA_INTERVAL, KA_PROBES };
static const struct sw_yaml_key keepalive_keys[] = {
	[KA_TIME] = { .name = "time" },
	[KA_INTERVAL] = { .name = "interval" },
	[KA_PROBES] = { .name = "probes" },
};

enum { OD_5XX, OD_GATEWAY, OD_ERRORS, OD_INTERVAL, OD_EJECTION };
static const struct sw_yaml_key outlier_keys[] = {
	[OD_5XX] = { .name = "consecutive5xxErrors" },
	[OD_GATEWAY] = { .name = "consecutiveGatewayErrors" },
	[OD_ERRORS] = { .name = "consecutiveErrors" },	/* deprecated */
	[OD_INTERVAL] = { .name = "interval" },
	[OD_EJECTION] = { .name = "baseEjectionTime" },
};

enum { LB_LOCALITY };
static const struct sw_yaml_key lb_keys[] = {
	[LB_LOCALITY] = { .name = "localityLbSetting" },
};

enum { LOC_FAILOVER, LOC_PRIORITY, LOC_ENABLED, LOC_DISTRIBUTE };
static const struct sw_yaml_key locality_keys[] = {
	[LOC_FAILOVER] = { .name = "failover" },
	[LOC_PRIORITY] = { .name = "failoverPriority" },
	[LOC_ENABLED] = { .name = "enabled" },
	[LOC_DISTRIBUTE] = {
		.name = "distribute",
		.ignored = "spillway sends overflow to one remote at a time, "
			   "in order",
	},
};

enum { PLS_PORT, PLS_POOL };
static const struct sw_yaml_key pls_keys[] = {
	[PLS_PORT] = { .name = "port" },
	[PLS_POOL] = { .name = "connectionPool" },
};

enum { PORT_NUMBER };
static const struct sw_yaml_key port_keys[] = {
	[PORT_NUMBER] = { .name = "number" },
};

static int read_keepalive(struct rule *r, const yaml_node_t *n,
			  const char *field)
{
	struct sw_keepalive_config *k = &r->tunnel.keepalive;
	const yaml_node_t *v[ARRAY_SIZE(keepalive_keys)];
	const struct sw_yaml *y = &r->obj.y;
	char f[SW_FIELD_MAX];
	__u64 ns;

	if (sw_yaml_mapping(y, n, field, keepalive_keys,
			    ARRAY_SIZE(keepalive_keys), UNKNOWN_FIELD, v))
		return -EINVAL;
	k->enabled = r->has_tunnel = true;
	/* Envoy, too, counts keepalive timers in whole seconds. */
	if (v[KA_TIME]) {
		if (sw_yaml_duration(y, v[KA_TIME],
				     sw_field_key(f, field, "time"), NS_PER_S,
				     KEEPALIVE_MAX_NS,
				     "remotes[].keepalive.time", &ns))
			return -EINVAL;
		k->time_ns = ns / NS_PER_S * NS_PER_S;
	}
	if (v[KA_INTERVAL]) {
		if (sw_yaml_duration(y, v[KA_INTERVAL],
				     sw_field_key(f, field, "interval"),
				     NS_PER_S, KEEPALIVE_MAX_NS,
				     "remotes[].keepalive.interval", &ns))
			return -EINVAL;
		k->interval_ns = ns / NS_PER_S * NS_PER_S;
	}
	return v[KA_PROBES] ? sw_yaml_u32(y, v[KA_PROBES],
					  sw_field_key(f, field, "probes"), 1,
					  SW_KEEPALIVE_MAX_PROBES,
					  &k->probes) : 0;
}

/* connectionPool of trafficPolicy (top) or of one of its portLevelSettings. */
static int read_pool(struct rule *r, const yaml_node_t *n, const char *field,
		     __u32 *max, bool top)
{
	const yaml_node_t *v[ARRAY_SIZE(pool_keys)], *t[ARRAY_SIZE(tcp_keys)];
	const struct sw_yaml *y = &r->obj.y;
	char f[SW_FIELD_MAX], tcp[SW_FIELD_MAX];

	if (sw_yaml_mapping(y, n, field, pool_keys, ARRAY_SIZE(pool_keys),
			    UNKNOWN_FIELD, v))
		return -EINVAL;
	/* connectionPool.http: every key has a reason, none is imported. */
	if (v[POOL_HTTP] &&
	    sw_yaml_mapping(y, v[POOL_HTTP], sw_field_key(f, field, "http"),
			    NULL, 0, L4_HTTP, NULL))
		return -EINVAL;
	if (!v[POOL_TCP])
		return 0;
	sw_field_key(tcp, field, "tcp");
	if (top ? sw_yaml_mapping(y, v[POOL_TCP], tcp, tcp_keys,
				  ARRAY_SIZE(tcp_keys), UNKNOWN_FIELD, t) :
		  sw_yaml_mapping(y, v[POOL_TCP], tcp, port_tcp_keys,
				  ARRAY_SIZE(port_tcp_keys), PER_REMOTE, t))
		return -EINVAL;
	if (t[TCP_MAX] && sw_yaml_u32(y, t[TCP_MAX],
				      sw_field_key(f, tcp, "maxConnections"), 1,
				      UINT32_MAX, max))
		return -EINVAL;
	if (!top)
		return 0;
	if (t[TCP_CONNECT]) {
		if (sw_yaml_duration(y, t[TCP_CONNECT],
				     sw_field_key(f, tcp, "connectTimeout"),
				     SW_CONNECT_TIMEOUT_MIN_NS,
				     SW_CONNECT_TIMEOUT_MAX_NS,
				     "remotes[].connect_timeout",
				     &r->tunnel.connect_timeout_ns))
			return -EINVAL;
		r->has_tunnel = true;
	}
	return t[TCP_KEEPALIVE] ?
		read_keepalive(r, t[TCP_KEEPALIVE],
			       sw_field_key(f, tcp, "tcpKeepalive")) : 0;
}

/*
 * consecutive5xxErrors and consecutiveGatewayErrors -> health.failures (the
 * smaller that is not 0: 0 turns a kind off), interval -> health.interval,
 * baseEjectionTime -> health.ejection_time. The deprecated
 * consecutiveErrors is read as Istio reads it (pilot's
 * applyOutlierDetection): when not 0, as consecutiveGatewayErrors, unless
 * that is written too and takes its place.
 */
static int read_outlier(struct rule *r, const yaml_node_t *n, const char *field)
{
	const yaml_node_t *v[ARRAY_SIZE(outlier_keys)];
	const struct sw_yaml *y = &r->obj.y;
	__u32 failures = 0;
	char f[SW_FIELD_MAX];

	if (sw_yaml_mapping(y, n, field, outlier_keys, ARRAY_SIZE(outlier_keys),
			    NO_EJECT_SHARE, v))
		return -EINVAL;
	if (v[OD_ERRORS] && v[OD_GATEWAY]) {
		sw_yaml_warn(y, v[OD_ERRORS],
			     sw_field_key(f, field, "consecutiveErrors"), "not "
			     "imported: deprecated, and consecutiveGatewayErrors "
			     "takes its place (as in Istio)");
		v[OD_ERRORS] = NULL;
	} else if (v[OD_ERRORS]) {
		sw_yaml_note(y, v[OD_ERRORS],
			     sw_field_key(f, field, "consecutiveErrors"),
			     "deprecated in Istio; read as Istio reads it, as "
			     "consecutiveGatewayErrors");
	}
	for (int i = OD_5XX; i <= OD_ERRORS; i++) {
		__u32 errors;

		if (!v[i])
			continue;
		if (sw_yaml_u32(y, v[i],
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
		if (sw_yaml_duration(y, v[OD_INTERVAL],
				     sw_field_key(f, field, "interval"),
				     SW_PROBE_INTERVAL_MIN_NS,
				     SW_PROBE_INTERVAL_MAX_NS,
				     "remotes[].health.interval",
				     &r->tunnel.probe_interval_ns))
			return -EINVAL;
		r->has_tunnel = true;
	}
	if (v[OD_EJECTION]) {
		if (sw_yaml_duration(y, v[OD_EJECTION],
				     sw_field_key(f, field, "baseEjectionTime"),
				     1, SW_EJECTION_TIME_MAX_NS,
				     "remotes[].health.ejection_time",
				     &r->tunnel.ejection_time_ns))
			return -EINVAL;
		r->has_tunnel = true;
	}
	return 0;
}

static int read_lb(struct rule *r, const yaml_node_t *n, const char *field)
{
	const yaml_node_t *v[ARRAY_SIZE(lb_keys)];
	const yaml_node_t *l[ARRAY_SIZE(locality_keys)];
	const struct sw_yaml *y = &r->obj.y;
	char f[SW_FIELD_MAX], g[SW_FIELD_MAX];
	const char *enabled;

	if (sw_yaml_mapping(y, n, field, lb_keys, ARRAY_SIZE(lb_keys),
			    ONE_AT_A_TIME, v))
		return -EINVAL;
	if (!v[LB_LOCALITY])
		return 0;
	sw_field_key(f, field, "localityLbSetting");
	if (sw_yaml_mapping(y, v[LB_LOCALITY], f, locality_keys,
			    ARRAY_SIZE(locality_keys), UNKNOWN_FIELD, l))
		return -EINVAL;
	if (l[LOC_ENABLED]) {
		enabled = sw_yaml_text(y, l[LOC_ENABLED],
				       sw_field_key(g, f, "enabled"));
		if (!enabled)
			return -EINVAL;
		if (!strcmp(enabled, "false")) {
			sw_yaml_note(y, l[LOC_ENABLED], g, "locality failover "
				     "is off: remotes keep the order of the "
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
	const struct sw_yaml *y = &r->obj.y;
	const yaml_node_item_t *items;
	int count = sw_yaml_list(y, n, field, &items);
	char f[SW_FIELD_MAX], g[SW_FIELD_MAX], h[SW_FIELD_MAX];

	if (count < 0)
		return -EINVAL;
	r->ports = calloc(count ? count : 1, sizeof(*r->ports));
	if (!r->ports)
		return out_of_memory(im);
	for (int i = 0; i < count; i++) {
		const yaml_node_t *item = sw_yaml_node(y, items[i]);
		const yaml_node_t *v[ARRAY_SIZE(pls_keys)];
		const yaml_node_t *p[ARRAY_SIZE(port_keys)];
		struct port_max *pm = &r->ports[r->n_ports];

		sw_field_item(f, field, i);
		if (sw_yaml_mapping(y, item, f, pls_keys, ARRAY_SIZE(pls_keys),
				    "per port, spillway takes only "
				    "connectionPool.tcp.maxConnections", v))
			return -EINVAL;
		if (!v[PLS_PORT])
			return sw_yaml_error(y, item, f, "missing 'port'; "
					     "expected port: {number: N}");
		if (sw_yaml_mapping(y, v[PLS_PORT], sw_field_key(g, f, "port"),
				    port_keys, ARRAY_SIZE(port_keys),
				    UNKNOWN_FIELD, p))
			return -EINVAL;
		if (!p[PORT_NUMBER])
			return sw_yaml_error(y, v[PLS_PORT], g, "missing "
					     "'number'; expected the service "
					     "port");
		if (sw_yaml_port(y, p[PORT_NUMBER],
				 sw_field_key(h, g, "number"), &pm->port))
			return -EINVAL;
		pm->node = item;
		pm->index = i;
		if (v[PLS_POOL] &&
		    read_pool(r, v[PLS_POOL],
			      sw_field_key(g, f, "connectionPool"), &pm->max,
			      false))
			return -EINVAL;
		if (pm->max)
			r->n_ports++;
	}
	return 0;
}

/*
 * A host a service can be named after: one DNS name, not a wildcard that
 * stands for many. written: as in the file; host: fully qualified.
 */
static int check_host(const struct sw_yaml *y, const yaml_node_t *n,
		      const char *field, const char *written, const char *host)
{
	if (written[0] != '*' && sw_is_dns_name(host))
		return 0;
	return sw_yaml_error(y, n, field, "'%s' is not a host spillway can "
			     "import; expected one service's DNS name "
			     "(lowercase, no wildcard) such as "
			     "echo.default.svc.cluster.local",
			     sw_yaml_show(y, written));
}

/* A short name ("echo") is a service in the rule's own namespace. */
static int read_host(struct rule *r, const yaml_node_t *n, const char *ns)
{
	const char *host = sw_yaml_text(&r->obj.y, n, "spec.host");

	if (!host)
		return -EINVAL;
	r->host_node = n;
	if (strchr(host, '.'))
		snprintf(r->host, sizeof(r->host), "%s", host);
	else
		snprintf(r->host, sizeof(r->host), "%s.%s.svc.cluster.local",
			 host, ns);
	return check_host(&r->obj.y, n, "spec.host", host, r->host);
}

static int read_rule(struct importer *im, struct rule *r,
		     const yaml_node_t *spec, const char *ns)
{
	const yaml_node_t *v[ARRAY_SIZE(dr_keys)], *t[ARRAY_SIZE(tp_keys)];
	const char *field = "spec.trafficPolicy";
	const struct sw_yaml *y = &r->obj.y;
	char f[SW_FIELD_MAX];

	sw_remote_defaults(&r->tunnel);
	if (sw_yaml_mapping(y, spec, "spec", dr_keys, ARRAY_SIZE(dr_keys),
			    UNKNOWN_FIELD, v))
		return -EINVAL;
	if (!v[DR_HOST])
		return sw_yaml_error(y, spec, "spec.host", "missing; expected "
				     "the service's host name");
	if (read_host(r, v[DR_HOST], ns))
		return -EINVAL;
	if (!v[DR_POLICY])
		return sw_yaml_error(y, spec, MAX_FIELD, "%s", NO_MAX);
	r->policy_node = v[DR_POLICY];
	if (sw_yaml_mapping(y, v[DR_POLICY], field, tp_keys,
			    ARRAY_SIZE(tp_keys), UNKNOWN_FIELD, t) ||
	    (t[TP_POOL] && read_pool(r, t[TP_POOL],
				     sw_field_key(f, field, "connectionPool"),
				     &r->max, true)) ||
	    (t[TP_OUTLIER] &&
	     read_outlier(r, t[TP_OUTLIER],
			  sw_field_key(f, field, "outlierDetection"))) ||
	    (t[TP_LB] && read_lb(r, t[TP_LB],
				 sw_field_key(f, field, "loadBalancer"))) ||
	    (t[TP_PORTS] &&
	     read_port_level(im, r, t[TP_PORTS],
			     sw_field_key(f, field, "portLevelSettings"))))
		return -EINVAL;
	if (!r->max && !r->n_ports)
		return sw_yaml_error(y, v[DR_POLICY], MAX_FIELD, "%s", NO_MAX);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* ServiceEntry */

enum { SE_HOSTS, SE_ADDRESSES, SE_PORTS, SE_ENDPOINTS, SE_LOCATION,
       SE_RESOLUTION, SE_EXPORT, SE_SANS, SE_SELECTOR };
static const struct sw_yaml_key se_keys[] = {
	[SE_HOSTS] = { .name = "hosts" },
	[SE_ADDRESSES] = { .name = "addresses" },
	[SE_PORTS] = { .name = "ports" },
	[SE_ENDPOINTS] = { .name = "endpoints" },
	[SE_LOCATION] = { .name = "location", .ignored = "" },
	[SE_RESOLUTION] = { .name = "resolution", .ignored = "" },
	[SE_EXPORT] = {
		.name = "exportTo",
		.ignored = "spillway's configuration applies on the node "
			   "whose agent reads it, to every client",
	},
	[SE_SANS] = {
		.name = "subjectAltNames",
		.ignored = "the tunnel checks a gateway's identity against "
			   "tls.allow_identities",
	},
	[SE_SELECTOR] = {
		.name = "workloadSelector",
		.ignored = "spillway needs endpoints with addresses, not "
			   "selected workloads",
	},
};

enum { SP_NUMBER, SP_NAME, SP_PROTOCOL, SP_TARGET };
static const struct sw_yaml_key se_port_keys[] = {
	[SP_NUMBER] = { .name = "number" },
	[SP_NAME] = { .name = "name" },
	[SP_PROTOCOL] = { .name = "protocol" },
	[SP_TARGET] = {
		.name = "targetPort",
		.ignored = "the gateway connects to the target its exports "
			   "name; set the port there",
	},
};

enum { EP_ADDRESS, EP_PORTS, EP_LOCALITY, EP_NETWORK, EP_LABELS, EP_WEIGHT,
       EP_ACCOUNT };
static const struct sw_yaml_key endpoint_keys[] = {
	[EP_ADDRESS] = { .name = "address" },
	[EP_PORTS] = { .name = "ports" },
	[EP_LOCALITY] = { .name = "locality" },
	[EP_NETWORK] = { .name = "network" },
	[EP_LABELS] = { .name = "labels" },
	[EP_WEIGHT] = {
		.name = "weight",
		.ignored = "spillway fills remotes in order; it does not "
			   "weight them",
	},
	[EP_ACCOUNT] = {
		.name = "serviceAccount",
		.ignored = "the tunnel checks a gateway's identity against "
			   "tls.allow_identities",
	},
};

/* A required, non-empty list of strings. */
static int read_strings(struct importer *im, const struct object *o,
			const yaml_node_t *spec, const yaml_node_t *n,
			const char *field, const char *what, const char ***out,
			const yaml_node_t ***nodes, int *count)
{
	const yaml_node_item_t *items;
	char f[SW_FIELD_MAX];
	int c;

	if (!n)
		return sw_yaml_error(&o->y, spec, field, "missing; expected %s",
				     what);
	c = sw_yaml_list(&o->y, n, field, &items);
	if (c < 0)
		return -EINVAL;
	if (!c)
		return sw_yaml_error(&o->y, n, field, "empty; expected %s",
				     what);
	*out = calloc(c, sizeof(**out));
	if (nodes)
		*nodes = calloc(c, sizeof(**nodes));
	if (!*out || (nodes && !*nodes))
		return out_of_memory(im);
	for (int i = 0; i < c; i++) {
		const yaml_node_t *item = sw_yaml_node(&o->y, items[i]);

		(*out)[i] = sw_yaml_text(&o->y, item,
					 sw_field_item(f, field, i));
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
	const struct sw_yaml *y = &s->obj.y;
	const yaml_node_item_t *items;
	char f[SW_FIELD_MAX], g[SW_FIELD_MAX];
	int count;

	if (!n)
		return sw_yaml_error(y, spec, field, "missing; expected the "
				     "service's ports");
	count = sw_yaml_list(y, n, field, &items);
	if (count <= 0)
		return count ? -EINVAL : sw_yaml_error(y, n, field, "empty; "
						       "expected the service's "
						       "ports");
	s->ports = calloc(count, sizeof(*s->ports));
	if (!s->ports)
		return out_of_memory(im);
	for (int i = 0; i < count; i++) {
		const yaml_node_t *item = sw_yaml_node(y, items[i]);
		const yaml_node_t *v[ARRAY_SIZE(se_port_keys)];
		struct se_port *p = &s->ports[s->n_ports];
		const char *proto = "TCP";

		sw_field_item(f, field, i);
		if (sw_yaml_mapping(y, item, f, se_port_keys,
				    ARRAY_SIZE(se_port_keys), UNKNOWN_FIELD, v))
			return -EINVAL;
		if (!v[SP_NUMBER] || !v[SP_NAME])
			return sw_yaml_error(y, item, f, "missing '%s'; "
					     "expected number and name",
					     v[SP_NUMBER] ? "name" : "number");
		if (sw_yaml_port(y, v[SP_NUMBER], sw_field_key(g, f, "number"),
				 &p->number) ||
		    !(p->name = sw_yaml_text(y, v[SP_NAME],
					     sw_field_key(g, f, "name"))) ||
		    (v[SP_PROTOCOL] &&
		     !(proto = sw_yaml_text(y, v[SP_PROTOCOL],
					    sw_field_key(g, f, "protocol")))))
			return -EINVAL;
		p->index = i;
		p->node = item;
		if (!strcasecmp(proto, "UDP") || !strcasecmp(proto, "SCTP")) {
			sw_yaml_warn(y, item, f, "port %u not imported: "
				     "spillway carries TCP only, not %s",
				     p->number, proto);
			continue;
		}
		s->n_ports++;
	}
	return 0;
}

/*
 * "region[/zone[/subzone]]" in its parts: NULL, or what is wrong with it,
 * to follow the text in a message.
 */
_Static_assert(SW_SHORT_NAME_MAX == 63, "parse_locality says 63");
static const char *parse_locality(const char *l,
				  char out[3][SW_SHORT_NAME_MAX + 1])
{
	memset(out, 0, 3 * sizeof(out[0]));
	for (int i = 0; i < 3; i++) {
		size_t len = strcspn(l, "/");

		if (!len)
			return "has an empty part";
		if (len > SW_SHORT_NAME_MAX)
			return "has a part longer than 63 characters";
		memcpy(out[i], l, len);
		if (!l[len])
			return NULL;
		l += len + 1;
	}
	return "has more than 3 parts";
}

static int read_locality(struct entry *s, struct se_endpoint *ep,
			 const yaml_node_t *n, const char *field)
{
	const char *l = sw_yaml_text(&s->obj.y, n, field);
	const char *why = l ? parse_locality(l, ep->locality) : NULL;

	if (!l)
		return -EINVAL;
	return why ? sw_yaml_error(&s->obj.y, n, field, "'%s' %s; expected "
				   "region/zone/subzone, such as "
				   "us-east1/us-east1-b",
				   sw_yaml_show(&s->obj.y, l), why) : 0;
}

static int read_endpoints(struct importer *im, struct entry *s,
			  const yaml_node_t *n)
{
	const char *field = "spec.endpoints";
	const struct sw_yaml *y = &s->obj.y;
	const yaml_node_item_t *items;
	char f[SW_FIELD_MAX], g[SW_FIELD_MAX];
	int count = sw_yaml_list(y, n, field, &items);

	if (count < 0)
		return -EINVAL;
	s->endpoints = calloc(count ? count : 1, sizeof(*s->endpoints));
	if (!s->endpoints)
		return out_of_memory(im);
	for (int i = 0; i < count; i++) {
		const yaml_node_t *item = sw_yaml_node(y, items[i]);
		const yaml_node_t *v[ARRAY_SIZE(endpoint_keys)];
		struct se_endpoint *ep = &s->endpoints[i];

		sw_field_item(f, field, i);
		if (sw_yaml_mapping(y, item, f, endpoint_keys,
				    ARRAY_SIZE(endpoint_keys), UNKNOWN_FIELD,
				    v))
			return -EINVAL;
		if (!v[EP_ADDRESS])
			return sw_yaml_error(y, item,
					     sw_field_key(g, f, "address"),
					     "missing; expected the address of "
					     "the endpoint (another network's "
					     "gateway)");
		ep->node = item;
		ep->index = i;
		ep->address_node = v[EP_ADDRESS];
		ep->network_node = v[EP_NETWORK];
		ep->ports = v[EP_PORTS];
		ep->labels = v[EP_LABELS];
		if (!(ep->address =
			      sw_yaml_text(y, v[EP_ADDRESS],
					   sw_field_key(g, f, "address"))) ||
		    (v[EP_NETWORK] &&
		     !(ep->network =
			       sw_yaml_text(y, v[EP_NETWORK],
					    sw_field_key(g, f, "network")))) ||
		    (v[EP_LOCALITY] &&
		     read_locality(s, ep, v[EP_LOCALITY],
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

	if (sw_yaml_mapping(&s->obj.y, spec, "spec", se_keys,
			    ARRAY_SIZE(se_keys), UNKNOWN_FIELD, v))
		return -EINVAL;
	s->spec = spec;
	/* No addresses: the agent takes the VIPs from the host's name. */
	s->hosts_node = v[SE_HOSTS];
	s->endpoints_node = v[SE_ENDPOINTS];
	if (read_strings(im, &s->obj, spec, v[SE_HOSTS], "spec.hosts",
			 "the service's host names", &s->hosts, &s->host_nodes,
			 &s->n_hosts) ||
	    check_host(&s->obj.y, s->host_nodes[0], "spec.hosts[0]",
		       s->hosts[0], s->hosts[0]) ||
	    (v[SE_ADDRESSES] &&
	     read_strings(im, &s->obj, spec, v[SE_ADDRESSES], "spec.addresses",
			  "the service's VIPs (spillway counts connections to "
			  "VIP:port)", &s->addresses, &s->address_nodes,
			  &s->n_addresses)) ||
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

static int read_held(struct importer *im, const struct object *base,
		     const yaml_node_t *root);

/* kind: List (what kubectl get -o yaml prints): each item is an object. */
static int read_list(struct importer *im, const struct object *o,
		     const yaml_node_t *root)
{
	const yaml_node_t *items_n = sw_yaml_get(&o->y, root, "items");
	const yaml_node_item_t *items;
	int count, err;

	if (!items_n)
		return sw_yaml_error(&o->y, root, "items", "missing; expected "
				     "the List's objects");
	count = sw_yaml_list(&o->y, items_n, "items", &items);
	for (int i = 0; i < count; i++)
		if ((err = read_held(im, o, sw_yaml_node(&o->y, items[i]))))
			return err;
	return count < 0 ? -EINVAL : 0;
}

static void rule_free(struct rule *r)
{
	free(r->ports);
}

static void entry_free(struct entry *s)
{
	free(s->hosts);
	free(s->host_nodes);
	free(s->addresses);
	free(s->address_nodes);
	free(s->ports);
	free(s->endpoints);
}

static int read_object(struct importer *im, const struct object *base,
		       const yaml_node_t *root)
{
	const yaml_node_t *kind_n = sw_yaml_get(&base->y, root, "kind");
	const yaml_node_t *api_n = sw_yaml_get(&base->y, root, "apiVersion");
	const yaml_node_t *meta = sw_yaml_get(&base->y, root, "metadata");
	const yaml_node_t *name_n = sw_yaml_get(&base->y, meta, "name");
	const yaml_node_t *ns_n = sw_yaml_get(&base->y, meta, "namespace");
	const yaml_node_t *spec = sw_yaml_get(&base->y, root, "spec");
	const char *kind, *api, *name = "(no name)", *ns = "default";
	struct object o = *base;
	bool known = false;
	int err;

	if (root->type == YAML_SCALAR_NODE && !root->data.scalar.length)
		return 0;	/* an empty document: "---" twice */
	if (root->type != YAML_MAPPING_NODE)
		return sw_yaml_error(&o.y, root, "", "found %s; expected a "
				     "Kubernetes object (a mapping with "
				     "apiVersion and kind)",
				     sw_yaml_kind_name(root));
	if (!kind_n || !api_n)
		return sw_yaml_error(&o.y, root, kind_n ? "apiVersion" : "kind",
				     "missing; expected a Kubernetes object");
	if (!(kind = sw_yaml_text(&o.y, kind_n, "kind")) ||
	    !(api = sw_yaml_text(&o.y, api_n, "apiVersion")) ||
	    (name_n && !(name = sw_yaml_text(&o.y, name_n, "metadata.name"))) ||
	    (ns_n && !(ns = sw_yaml_text(&o.y, ns_n, "metadata.namespace"))))
		return -EINVAL;
	if (!strcmp(api, "v1") && !strcmp(kind, "List"))
		return read_list(im, base, root);
	o.kind = kind;
	snprintf(o.name, sizeof(o.name), "%s/%s", ns, name);
	snprintf(o.y.context, sizeof(o.y.context), "document %d, %s %s: ",
		 o.doc, o.kind, o.name);
	for (size_t i = 0; i < ARRAY_SIZE(api_versions); i++)
		known |= !strcmp(api, api_versions[i]);
	if (!known || (strcmp(kind, "DestinationRule") &&
		       strcmp(kind, "ServiceEntry"))) {
		sw_yaml_note(&o.y, root, "", "skipped: spillway imports "
			     "DestinationRule and ServiceEntry of "
			     "networking.istio.io v1, v1beta1 or v1alpha3, not "
			     "%s %s%s", api, kind, strcmp(kind, "Gateway") ? "" :
			     " (connections that enter through an ingress "
			     "gateway spill by its LoadBalancer IP or NodePort, "
			     "or behind it: doc/istio.md, \"North-south\")");
		return 0;
	}
	if (!spec)
		return sw_yaml_error(&o.y, root, "spec", "missing; expected "
				     "the %s's spec", kind);
	/* An object that cannot be read is not kept. */
	if (!strcmp(kind, "DestinationRule")) {
		struct rule *r;

		if (grow((void **)&im->rules, im->n_rules + 1, sizeof(*r)))
			return out_of_memory(im);
		r = &im->rules[im->n_rules++];
		memset(r, 0, sizeof(*r));
		r->obj = o;
		err = read_rule(im, r, spec, ns);
		if (err) {
			rule_free(r);
			im->n_rules--;
		}
	} else {
		struct entry *s;

		if (grow((void **)&im->entries, im->n_entries + 1, sizeof(*s)))
			return out_of_memory(im);
		s = &im->entries[im->n_entries++];
		memset(s, 0, sizeof(*s));
		s->obj = o;
		err = read_entry(im, s, spec);
		if (err) {
			entry_free(s);
			im->n_entries--;
		}
	}
	return err;
}

/* One object, skipped with a warning if it cannot be read (not strict). */
static int read_held(struct importer *im, const struct object *base,
		     const yaml_node_t *root)
{
	struct held h;
	int err = hold(im, &h);

	return err ? err : release(im, &h, read_object(im, base, root));
}

/* The name of an input in messages. */
static const char *input_name(const struct sw_istio_input *in)
{
	return strcmp(in->path, "-") ? in->path : "(stdin)";
}

/* Load every document of every input, then read each as an object. */
static int read_inputs(struct importer *im, const struct sw_istio_input *in,
		       int n_in)
{
	for (int i = 0; i < n_in; i++) {
		const char *path = input_name(&in[i]);
		int first = im->docs.n;
		int err = sw_yaml_load(path, in[i].text, in[i].len, true,
				       &im->docs, im->e);

		for (int d = first; !err && d < im->docs.n; d++) {
			yaml_document_t *doc = im->docs.doc[d];
			struct object base = {
				.y = { .doc = doc, .path = path,
				       .durations = SW_DURATION_GO,
				       .report = &im->report },
				.doc = d - first + 1, .kind = "", .name = "",
			};

			snprintf(base.y.context, sizeof(base.y.context),
				 "document %d: ", base.doc);
			err = read_held(im, &base,
					yaml_document_get_root_node(doc));
		}
		if (err)
			return err;
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
	v = sw_yaml_get(&o->y, ep->labels, key);
	return v && v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value :
						 NULL;
}

struct candidate {
	const struct se_endpoint *ep;
	int score;	/* failoverPriority: leading labels matched */
	int rank;	/* failover: where its region comes */
};

/* Leading labels of failoverPriority on which ep matches this cluster. */
static int priority_score(const struct rule *r, const struct entry *s,
			  const struct se_endpoint *self,
			  const struct se_endpoint *ep, int *score)
{
	const char *field = "spec.trafficPolicy.loadBalancer.localityLbSetting."
			    "failoverPriority";
	const struct sw_yaml *y = &r->obj.y;
	const yaml_node_item_t *items;
	int count = sw_yaml_list(y, r->priority, field, &items);
	char f[SW_FIELD_MAX], key[SW_FIELD_MAX];

	if (count < 0)
		return -EINVAL;
	for (*score = 0; *score < count; (*score)++) {
		const yaml_node_t *item = sw_yaml_node(y, items[*score]);
		const char *label = sw_yaml_text(y, item,
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
static int failover_rank(const struct rule *r, const struct se_endpoint *self,
			 const struct se_endpoint *ep, int *rank)
{
	const char *field = "spec.trafficPolicy.loadBalancer.localityLbSetting."
			    "failover";
	const char *here = self->locality[0], *region = ep->locality[0];
	const struct sw_yaml *y = &r->obj.y;
	const yaml_node_item_t *items;
	int count = sw_yaml_list(y, r->failover, field, &items), k = 1;
	char f[SW_FIELD_MAX], g[SW_FIELD_MAX];

	if (count < 0)
		return -EINVAL;
	*rank = *region && !strcmp(region, here) ? 0 : INT32_MAX;
	for (int i = 0; i < count && *rank == INT32_MAX; i++) {
		const yaml_node_t *item = sw_yaml_node(y, items[i]);
		const yaml_node_t *from_n = sw_yaml_get(y, item, "from");
		const yaml_node_t *to_n = sw_yaml_get(y, item, "to");
		const char *from, *to;

		sw_field_item(f, field, i);
		if (!from_n || !to_n)
			return sw_yaml_error(y, item, f, "missing '%s'; "
					     "expected from: REGION and to: "
					     "REGION", from_n ? "to" : "from");
		from = sw_yaml_text(y, from_n, sw_field_key(g, f, "from"));
		to = from ? sw_yaml_text(y, to_n, sw_field_key(g, f, "to")) : NULL;
		if (!to)
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
	memset(self, 0, sizeof(*self));
	self->network = im->o->network;
	if (im->o->locality) {
		memcpy(self->locality, im->locality, sizeof(self->locality));
		return;
	}
	for (int i = 0; i < s->n_endpoints; i++)
		if (!is_remote(im, &s->endpoints[i])) {
			memcpy(self->locality, s->endpoints[i].locality,
			       sizeof(self->locality));
			return;
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
		if ((r->priority &&
		     priority_score(r, s, &self, ep, &cand.score)) ||
		    (r->failover && failover_rank(r, &self, ep, &cand.rank)))
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
	char f[SW_FIELD_MAX];

	*out = im->o->gateway_port ? im->o->gateway_port :
				     SW_DEFAULT_GATEWAY_PORT;
	if (im->o->gateway_port)
		return 0;
	for (int i = 0; i < s->n_ports; i++) {
		const yaml_node_t *v = sw_yaml_get(&s->obj.y, ep->ports,
						   s->ports[i].name);
		__u16 port;

		if (!v)
			continue;
		snprintf(f, sizeof(f), "spec.endpoints[%d].ports.%s", ep->index,
			 s->ports[i].name);
		if (sw_yaml_port(&s->obj.y, v, f, &port))
			return -EINVAL;
		if (port == ISTIO_EAST_WEST_PORT)
			sw_yaml_note(&s->obj.y, v, f, "%u is Istio's east-west "
				     "gateway port; a spillway gateway listens "
				     "on its tunnel.listen port (%u by "
				     "default): pass --gateway-port PORT "
				     "unless it listens on %u", port,
				     SW_DEFAULT_GATEWAY_PORT, port);
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
		sw_yaml_warn(&r->obj.y, r->policy_node, "spec.trafficPolicy",
			     "its connectTimeout, tcpKeepalive and "
			     "outlierDetection are not applied to remote %s: "
			     "spillway's tunnel settings are per remote, and "
			     "%s %s (document %d of %s) set them first",
			     rc->name, from->obj.kind, from->obj.name,
			     from->obj.doc, from->obj.y.path);
	}
}

/* The remote for ep (added if new); its index in cfg->remotes. */
static int add_remote(struct importer *im, const struct entry *s,
		      const struct se_endpoint *ep, const char *name,
		      const struct rule *r, int *index)
{
	struct sw_config *cfg = im->cfg;
	char f[SW_FIELD_MAX], a[SW_NAME_MAX + 16], b[SW_NAME_MAX + 16];
	struct sw_hostport gw = { .host = "" };
	__u8 addr[16], family;
	int i;

	if (gateway_port(im, s, ep, &gw.port))
		return -EINVAL;
	snprintf(f, sizeof(f), "spec.endpoints[%d].address", ep->index);
	if (strlen(ep->address) > SW_NAME_MAX ||
	    (sw_addr_parse(ep->address, addr, &family) &&
	     !sw_is_dns_name(ep->address)))
		return sw_yaml_error(&s->obj.y, ep->address_node, f, "'%s' is "
				     "not a gateway spillway can reach; "
				     "expected an IPv4 or IPv6 address or a "
				     "DNS name", ep->address);
	strcpy(gw.host, ep->address);
	for (i = 0; i < cfg->n_remotes && strcmp(cfg->remotes[i].name, name); i++)
		;
	if (i < cfg->n_remotes) {
		if (strcmp(cfg->remotes[i].gateway.host, gw.host) ||
		    cfg->remotes[i].gateway.port != gw.port)
			sw_yaml_warn(&s->obj.y, ep->address_node, f, "remote "
				     "%s already goes to gateway %s; spillway "
				     "takes one gateway per network, so %s is "
				     "not used", name,
				     sw_hostport_format(&cfg->remotes[i].gateway,
							a, sizeof(a)),
				     sw_hostport_format(&gw, b, sizeof(b)));
	} else {
		if (i >= SW_MAX_REMOTES - 1)
			return sw_yaml_error(&s->obj.y, ep->address_node, f, "more "
					     "than %d remote networks; "
					     "expected at most %d (the size of "
					     "the datapath's remotes map)", i,
					     i);
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
	char f[SW_FIELD_MAX];
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
			err = sw_yaml_error(&s->obj.y, ep->network_node, f,
					    "'%s' is not a DNS label, which a "
					    "spillway remote's name must be; "
					    "pass --remote-name %s=NAME", name,
					    ep->network);
			break;
		}
		for (int j = 0; j < *n_names; j++)
			dup |= !strcmp(names[j], name);
		if (dup || *n_names == SW_MAX_OVERFLOW_REMOTES) {
			sw_yaml_warn(&s->obj.y, ep->network_node, f, "not "
				     "imported: %s", dup ? "an endpoint of this "
				     "network comes first; spillway takes one "
				     "gateway per network" : "spillway tries at "
				     "most 4 remotes per service");
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
			sw_yaml_warn(&r->obj.y, r->host_node, "spec.host",
				     "not imported for ServiceEntry %s: %s %s "
				     "(document %d of %s) is for the same host "
				     "and comes first", s->obj.name,
				     found->obj.kind, found->obj.name,
				     found->obj.doc, found->obj.y.path);
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

/* Where a service of an entry comes from: address a, or (-1) its host. */
static const yaml_node_t *address_node(const struct entry *s, int a)
{
	return a >= 0 ? s->address_nodes[a] : s->host_nodes[0];
}

/*
 * HOST for an entry of one address and one port. With several ports each
 * service is PORT-NAME.HOST (port-NUMBER.HOST if the name is no DNS label);
 * addresses after the first add aI. (I its index in spec.addresses).
 */
static int service_name(const struct entry *s, int a, const struct se_port *p,
			char out[SW_NAME_MAX + 1])
{
	char port[SW_SHORT_NAME_MAX + 2] = "", addr[16] = "", name[2 * SW_NAME_MAX];

	if (s->n_ports > 1 && sw_is_dns_label(p->name))
		snprintf(port, sizeof(port), "%s.", p->name);
	else if (s->n_ports > 1)
		snprintf(port, sizeof(port), "port-%u.", p->number);
	if (a > 0)
		snprintf(addr, sizeof(addr), "a%d.", a);
	snprintf(name, sizeof(name), "%s%s%s", port, addr, s->hosts[0]);
	if (!sw_is_dns_name(name))
		return sw_yaml_error(&s->obj.y, s->host_nodes[0],
				     "spec.hosts[0]", "'%s' cannot name a "
				     "spillway service ('%s'); expected a DNS "
				     "name of at most %d characters "
				     "(lowercase, no wildcard)", s->hosts[0],
				     name, SW_NAME_MAX);
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
	char f[SW_FIELD_MAX], name[SW_NAME_MAX + 1];
	int n = cfg->n_services;

	if (a >= 0)
		sw_field_item(f, "spec.addresses", a);
	else
		snprintf(f, sizeof(f), "spec.hosts[0]");
	if (service_name(s, a, p, name))
		return -EINVAL;
	if (n >= SW_MAX_SERVICES)
		return sw_yaml_error(&s->obj.y, address_node(s, a), f, "more "
				     "than %d services; expected at most %d "
				     "(the size of the datapath's services "
				     "map)", n, n);
	if (grow((void **)&cfg->services, n + 1, sizeof(*cfg->services)))
		return out_of_memory(im);
	svc = &cfg->services[n];
	memset(svc, 0, sizeof(*svc));
	strcpy(svc->name, name);
	if (a >= 0) {
		strcpy(svc->vip, s->addresses[a]);
		sw_service_key_make(&svc->key, svc->vip, p->number);
	} else {		/* the agent resolves the name */
		svc->key.port = p->number;
		svc->key.proto = IPPROTO_TCP;
	}
	svc->port = p->number;
	svc->max_connections = svc->resume_below = max;
	svc->n_overflow_to = n_remotes;
	memcpy(svc->overflow_to, remotes, sizeof(svc->overflow_to));
	for (int i = 0; i < n; i++) {
		const struct sw_service_config_entry *o = &cfg->services[i];

		if (!strcmp(o->name, name) ||
		    (o->vip[0] && svc->vip[0] &&
		     !memcmp(&o->key, &svc->key, sizeof(o->key))))
			return sw_yaml_error(&s->obj.y, address_node(s, a), f,
					     "%s port %u would be service %s, "
					     "but service %s (%s port %u) was "
					     "imported first; expected each "
					     "VIP, port and name once",
					     svc->vip[0] ? svc->vip : "no vip",
					     p->number, name, o->name,
					     o->vip[0] ? o->vip : "no vip",
					     o->key.port);
	}
	cfg->n_services++;
	return 0;
}

static int add_services(struct importer *im, const struct entry *s,
			const struct rule *r)
{
	char remotes[SW_MAX_OVERFLOW_REMOTES][SW_SHORT_NAME_MAX + 1] = { "" };
	char f[SW_FIELD_MAX];
	int n_remotes = 0;

	for (int h = 1; h < s->n_hosts; h++)
		sw_yaml_warn(&s->obj.y, s->host_nodes[h],
			     sw_field_item(f, "spec.hosts", h), "'%s' not "
			     "imported: spillway names the service after "
			     "spec.hosts[0]", s->hosts[h]);
	if (overflow_to(im, s, r, remotes, &n_remotes))
		return -EINVAL;
	if (!n_remotes)
		sw_yaml_warn(&s->obj.y, s->endpoints_node ? s->endpoints_node :
			     s->spec, "spec.endpoints",
			     "no endpoint in another network: the service is "
			     "imported but cannot spill (connections over "
			     "maxConnections stay local)");
	/* a -1: no addresses, one service by name (its VIPs resolved). */
	for (int a = s->n_addresses ? 0 : -1; a < s->n_addresses; a++) {
		__u8 addr[16], family;

		if (a >= 0)
			sw_field_item(f, "spec.addresses", a);
		if (a >= 0 && sw_addr_parse(s->addresses[a], addr, &family)) {
			sw_yaml_warn(&s->obj.y, s->address_nodes[a], f, "'%s' "
				     "not imported: spillway counts "
				     "connections to one VIP, an IPv4 or IPv6 "
				     "address", s->addresses[a]);
			continue;
		}
		for (int p = 0; p < s->n_ports; p++) {
			__u32 max = max_for(r, s->ports[p].number);

			if (!max) {
				sw_yaml_warn(&s->obj.y, s->ports[p].node,
					     sw_field_item(f, "spec.ports",
							   s->ports[p].index),
					     "port %u not imported: %s %s sets "
					     "no maxConnections for it "
					     "(neither in trafficPolicy nor in "
					     "portLevelSettings)",
					     s->ports[p].number, r->obj.kind,
					     r->obj.name);
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
static void check_rule_ports(const struct rule *r, const struct entry *s)
{
	char f[SW_FIELD_MAX];

	for (int i = 0; i < r->n_ports; i++) {
		bool found = false;

		for (int p = 0; p < s->n_ports; p++)
			found |= s->ports[p].number == r->ports[i].port;
		if (!found)
			sw_yaml_warn(&r->obj.y, r->ports[i].node,
				     sw_field_item(f, "spec.trafficPolicy."
						   "portLevelSettings",
						   r->ports[i].index),
				     "port %u not imported: ServiceEntry %s "
				     "has no such port", r->ports[i].port,
				     s->obj.name);
	}
}

/* The services of entry s, paired with rule r. */
static int build_entry(struct importer *im, const struct entry *s,
		       const struct rule *r)
{
	if (!r) {
		sw_yaml_warn(&s->obj.y, s->hosts_node, "", "skipped: "
			     "spec.hosts: no DestinationRule with "
			     "maxConnections for '%s' among the inputs; a "
			     "spillway service needs its threshold",
			     s->hosts[0]);
		return 0;
	}
	check_rule_ports(r, s);
	return add_services(im, s, r);
}

/* What building one entry may change, to undo if it cannot be imported. */
struct undo {
	int n_services, n_remotes;
	struct sw_remote_config *remotes;
	const struct rule **settings;
};

static int undo_save(struct importer *im, struct undo *u)
{
	int n = im->cfg->n_remotes;

	u->n_services = im->cfg->n_services;
	u->n_remotes = n;
	u->remotes = malloc((n + 1) * sizeof(*u->remotes));
	u->settings = malloc((n + 1) * sizeof(*u->settings));
	if (!u->remotes || !u->settings)
		return out_of_memory(im);
	if (n) {
		memcpy(u->remotes, im->cfg->remotes, n * sizeof(*u->remotes));
		memcpy(u->settings, im->remote_settings,
		       n * sizeof(*u->settings));
	}
	return 0;
}

static void undo_apply(struct importer *im, const struct undo *u)
{
	im->cfg->n_services = u->n_services;
	im->cfg->n_remotes = u->n_remotes;
	if (!u->n_remotes)
		return;
	memcpy(im->cfg->remotes, u->remotes, u->n_remotes * sizeof(*u->remotes));
	memcpy(im->remote_settings, u->settings,
	       u->n_remotes * sizeof(*u->settings));
}

static int build(struct importer *im)
{
	for (int i = 0; i < im->n_entries; i++) {
		const struct entry *s = &im->entries[i];
		struct undo u = { 0 };
		struct held h;
		int err = undo_save(im, &u);

		if (!err)
			err = hold(im, &h);
		if (!err) {
			err = build_entry(im, s, rule_for(im, s));
			if (err == -EINVAL)
				undo_apply(im, &u);
			err = release(im, &h, err);
		}
		free(u.remotes);
		free(u.settings);
		if (err)
			return err;
	}
	for (int i = 0; i < im->n_rules; i++) {
		const struct rule *r = &im->rules[i];

		if (!r->used)
			sw_yaml_warn(&r->obj.y, r->host_node, "", "skipped: "
				     "spec.host: no ServiceEntry for '%s' among "
				     "the inputs; spillway takes the VIP, "
				     "ports and remote endpoints from one",
				     r->host);
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

static int check_locality(struct importer *im)
{
	const char *l = im->o->locality;
	const char *why = l ? parse_locality(l, im->locality) : NULL;

	return why ? sw_fail(im->e, -EINVAL, "--locality '%.191s' %s; expected "
			     "REGION[/ZONE[/SUBZONE]], such as "
			     "us-east1/us-east1-b", l, why) : 0;
}

static void importer_free(struct importer *im)
{
	for (int i = 0; i < im->n_rules; i++)
		rule_free(&im->rules[i]);
	for (int i = 0; i < im->n_entries; i++)
		entry_free(&im->entries[i]);
	sw_yaml_docs_free(&im->docs);
	free(im->rules);
	free(im->entries);
	free(im->remote_settings);
}

int sw_istio_import(const struct sw_istio_opts *o,
		    const struct sw_istio_input *inputs, int n_inputs,
		    struct sw_config *cfg, FILE *notes, struct sw_error *e)
{
	struct sw_error ignored;
	struct importer im = { .o = o, .report = { .notes = notes },
			       .e = e ? e : &ignored, .cfg = cfg };
	int err;

	memset(cfg, 0, sizeof(*cfg));
	im.e->msg[0] = '\0';
	err = check_locality(&im);
	if (!err)
		err = read_inputs(&im, inputs, n_inputs);
	if (!err)
		err = build(&im);
	if (im.report.errors)	/* what is wrong with an object, and where */
		err = sw_yaml_verdict(&im.report, im.e);
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
