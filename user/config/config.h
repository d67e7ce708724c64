/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's configuration: one YAML file (schema in doc/configuration.md),
 * parsed and validated as a whole before any of it is applied. Every error
 * names the file, line, column and field, and says what was expected:
 *
 *   /etc/spillway/config.yaml:12:22: services[1].max_connections: 0 is not
 *   allowed; expected a whole number from 1 to 4294967295
 */
#ifndef SW_CONFIG_CONFIG_H
#define SW_CONFIG_CONFIG_H

#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <linux/types.h>

#include "spillway/abi.h"
#include "datapath/attach.h"
#include "lib/error.h"
#include "lib/text.h"

#define SW_IDENTITY_MAX 512	/* a SPIFFE URI or DNS name in allow_identities */

struct sw_iface_config {
	char name[IFNAMSIZ];
	enum sw_attach_mode attach;	/* default SW_ATTACH_TC */
};

/* remotes[].keepalive: TCP keepalive on tunnel connections to a gateway. */
struct sw_keepalive_config {
	bool enabled;		/* the block is written: SO_KEEPALIVE on */
	__u64 time_ns;		/* idle before the first probe; 0: kernel's */
	__u64 interval_ns;	/* between probes; 0: kernel's */
	__u32 probes;		/* unanswered probes, then the connection
				 * is dead; 0: kernel's */
};

/* remotes[]: a dial and a health probe every so often, within reason. */
#define SW_CONNECT_TIMEOUT_MIN_NS 1000000ull		/* 1ms */
#define SW_CONNECT_TIMEOUT_MAX_NS (3600 * 1000000000ull)	/* 1h */
#define SW_PROBE_INTERVAL_MIN_NS (100 * 1000000ull)	/* 100ms */
#define SW_PROBE_INTERVAL_MAX_NS (3600 * 1000000000ull)	/* 1h */
#define SW_PROBE_FAILURES_MAX 1000
#define SW_EJECTION_TIME_MAX_NS (24 * 3600 * 1000000000ull)	/* 24h */

/*
 * remotes[].keepalive: what the kernel takes (MAX_TCP_KEEPIDLE,
 * MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT); the two timers count whole seconds.
 */
#define SW_KEEPALIVE_MAX_S 32767
#define SW_KEEPALIVE_MAX_PROBES 127

struct sw_remote_config {
	char name[SW_SHORT_NAME_MAX + 1];
	struct sw_hostport gateway;
	/* TCP connect + TLS handshake to the gateway (connect_timeout);
	 * default SW_TUNNEL_HANDSHAKE_TIMEOUT_S */
	__u64 connect_timeout_ns;
	struct sw_keepalive_config keepalive;
	/* health: a probe (handshake + HTTP/2 PING) every probe_interval_ns
	 * (health.interval, default SW_TUNNEL_PROBE_INTERVAL_S); unhealthy
	 * after probe_failures failed in a row (health.failures, default
	 * SW_TUNNEL_PROBE_FALL); once unhealthy, at least ejection_time_ns
	 * (health.ejection_time, default 0) before it can be healthy again */
	__u64 probe_interval_ns;
	__u32 probe_failures;
	__u64 ejection_time_ns;
};

struct sw_service_config_entry {
	char name[SW_NAME_MAX + 1];
	/*
	 * As written; "" when not: then the name's addresses are its VIPs
	 * (sw_config_expand_vips), key holding only port and protocol.
	 */
	char vip[INET6_ADDRSTRLEN];
	/*
	 * What the datapath matches: vip, port, protocol (tcp). A NodePort
	 * entry (sw_config_expand_vips) has no vip ("", key.vip all zero)
	 * and node_port for key.port, one for IPv4 and one for IPv6.
	 */
	struct sw_service_key key;
	__u16 port;			/* the service's port, as written */
	__u16 node_port;		/* 0: none */
	__u32 max_connections;
	__u32 resume_below;		/* = max_connections when not written */
	int n_overflow_to;
	char overflow_to[SW_MAX_OVERFLOW_REMOTES][SW_SHORT_NAME_MAX + 1];
	int line;			/* where the entry starts, for messages */
};

struct sw_export_config {
	char name[SW_NAME_MAX + 1];
	__u16 port;
	struct sw_hostport target;
};

struct sw_config {
	char path[PATH_MAX];		/* the file it came from */
	char cluster[SW_SHORT_NAME_MAX + 1];

	struct sw_iface_config *interfaces;
	int n_interfaces;

	bool has_tls;
	char tls_dir[PATH_MAX];		/* absolute: a relative tls.dir is
					 * taken from the file's directory */
	char (*allow_identities)[SW_IDENTITY_MAX + 1];
	int n_allow_identities;

	bool has_tunnel;
	struct sw_hostport tunnel_listen;

	struct sw_remote_config *remotes;
	int n_remotes;

	struct sw_service_config_entry *services;
	int n_services;

	struct sw_export_config *exports;
	int n_exports;

	bool has_metrics;
	struct sw_hostport metrics_listen;

	/* datapath: (an extension of the design's schema), with defaults */
	__u32 flow_capacity;		/* SW_DEFAULT_FLOW_CAPACITY */
	__u16 tunnel_port;		/* SW_DEFAULT_TUNNEL_PORT */
	__u64 half_open_timeout_ns;	/* SW_DEFAULT_HALF_OPEN_TIMEOUT_S */
	__u64 idle_timeout_ns;		/* SW_DEFAULT_IDLE_TIMEOUT_S */
	__u64 closed_linger_ns;		/* SW_DEFAULT_CLOSED_LINGER_S */
	__u64 collect_interval_ns;	/* SW_DEFAULT_COLLECT_INTERVAL_S */

	/* agent: (an extension too) */
	__u64 drain_timeout_ns;		/* SW_DRAIN_TIMEOUT_S */
	__u64 resolve_interval_ns;	/* SW_RESOLVE_INTERVAL_S */
	__u32 max_streams_per_peer;	/* tunnel.: SW_TUNNEL_MAX_STREAMS_PER_PEER */
	__u32 max_connects_per_peer;	/* tunnel.: SW_TUNNEL_MAX_CONNECTS_PER_PEER */
	__u32 buffer_budget_mib;	/* tunnel.: SW_TUNNEL_BUFFER_BUDGET_MIB */
	__u32 workers;			/* tunnel.: 0 (not written): one per CPU */
};

/*
 * Parse and validate a whole configuration. On success *cfg holds it (free
 * with sw_config_free); on failure *cfg is left empty and e says the first
 * problem, with file:line:column and field. Certificate files named by
 * tls.dir are checked to exist and be readable.
 */
int sw_config_load(const char *path, struct sw_config *cfg, struct sw_error *e);

/*
 * Read a configuration file's text (at most 4 MiB): *len bytes, with a NUL
 * after them (text[*len] == 0), so it may be used as a C string too.
 */
int sw_config_read(const char *path, char **text, size_t *len,
		   struct sw_error *e);

/* The same from text in memory; path is only used in messages and for tls.dir. */
int sw_config_parse(const char *path, const char *text, size_t len,
		    struct sw_config *cfg, struct sw_error *e);

void sw_config_free(struct sw_config *cfg);
/*
 * A deep copy of src in dst (free with sw_config_free): for a thread that
 * keeps a configuration while its source is replaced. -ENOMEM: dst empty.
 */
int sw_config_copy(struct sw_config *dst, const struct sw_config *src);

/* A remote's tunnel settings as when none is written (name, gateway kept). */
void sw_remote_defaults(struct sw_remote_config *r);

/* Write cfg as YAML that sw_config_parse reads back to an equal config. */
int sw_config_write(const struct sw_config *cfg, FILE *out);

/* Lookups by name; NULL if there is none. */
const struct sw_remote_config *sw_config_remote(const struct sw_config *cfg,
						const char *name);
const struct sw_service_config_entry *
sw_config_service(const struct sw_config *cfg, const char *name);
/*
 * Give the services their datapath entries: a written vip is one; a
 * node_port two more (IPv4 and IPv6, no vip); a service with neither gets
 * one per address vips() has for its name (none: left out until its name
 * resolves). An address whose VIP:port another entry has already is left
 * out, and said in why (the first such). Returns how many were left out, or
 * -ENOMEM (cfg unchanged).
 */
typedef int (*sw_vips_fn)(void *arg, const char *name,
			  char (*out)[INET6_ADDRSTRLEN], int max);
int sw_config_expand_vips(struct sw_config *cfg, sw_vips_fn vips, void *arg,
			  char *why, size_t why_len);

/* The service at a VIP:port; NULL if none is configured there. */
const struct sw_service_config_entry *
sw_config_service_by_key(const struct sw_config *cfg,
			 const struct sw_service_key *key);
/*
 * The service a connection to addr:port (key) reaches: the one at that
 * VIP:port, else the NodePort's at that port (addr being one of the node's
 * own, as the datapath checked); NULL if neither is configured.
 */
const struct sw_service_config_entry *
sw_config_service_reached(const struct sw_config *cfg,
			  const struct sw_service_key *key);
/* Does a service of cfg have a node_port? */
bool sw_config_has_node_ports(const struct sw_config *cfg);
/* Does the service resolve its name for its VIPs (no vip, no node_port)? */
bool sw_service_named(const struct sw_service_config_entry *s);

/* Set what has a default (datapath:) as when the file does not write it. */
void sw_config_defaults(struct sw_config *cfg);

#endif /* SW_CONFIG_CONFIG_H */
