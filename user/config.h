/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's configuration: one YAML file (schema in README, "Configuration"),
 * parsed and validated as a whole before any of it is applied. Every error
 * names the file, line, column and field, and says what was expected:
 *
 *   /etc/spillway/config.yaml:12:22: services[1].max_connections: 0 is not
 *   allowed; expected a whole number from 1 to 4294967295
 */
#ifndef SW_CONFIG_H
#define SW_CONFIG_H

#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <linux/types.h>

#include "spillway/abi.h"
#include "datapath.h"
#include "error.h"

#define SW_NAME_MAX 253		/* service and export names: DNS names */
#define SW_SHORT_NAME_MAX 63	/* cluster and remote names: DNS labels */
#define SW_IDENTITY_MAX 512	/* a SPIFFE URI or DNS name in allow_identities */

/* "host:port" as written: host an IPv4/IPv6 literal ([v6]:port) or a DNS name. */
struct sw_hostport {
	char host[SW_NAME_MAX + 1];
	__u16 port;
};

struct sw_iface_config {
	char name[IFNAMSIZ];
	enum sw_attach_mode attach;	/* default SW_ATTACH_TC */
};

struct sw_remote_config {
	char name[SW_SHORT_NAME_MAX + 1];
	struct sw_hostport gateway;
};

struct sw_service_config_entry {
	char name[SW_NAME_MAX + 1];
	char vip[INET6_ADDRSTRLEN];	/* as written */
	struct sw_service_key key;	/* vip, port, protocol (tcp) */
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
};

/*
 * Parse and validate a whole configuration. On success *cfg holds it (free
 * with sw_config_free); on failure *cfg is left empty and e says the first
 * problem, with file:line:column and field. Certificate files named by
 * tls.dir are checked to exist and be readable.
 */
int sw_config_load(const char *path, struct sw_config *cfg, struct sw_error *e);

/* Read a configuration file's text (at most 4 MiB; NUL-terminated too). */
int sw_config_read(const char *path, char **text, size_t *len,
		   struct sw_error *e);

/* The same from text in memory; path is only used in messages and for tls.dir. */
int sw_config_parse(const char *path, const char *text, size_t len,
		    struct sw_config *cfg, struct sw_error *e);

void sw_config_free(struct sw_config *cfg);

/* Write cfg as YAML that sw_config_parse reads back to an equal config. */
int sw_config_write(const struct sw_config *cfg, FILE *out);

/* Lookups by name; NULL if there is none. */
const struct sw_remote_config *sw_config_remote(const struct sw_config *cfg,
						const char *name);
const struct sw_service_config_entry *
sw_config_service(const struct sw_config *cfg, const char *name);

/* "10s", "1h", "500ms", "2m", "1h30m" -> ns; -EINVAL if not a duration. */
int sw_duration_parse(const char *s, __u64 *ns);
/* "host:port" / "[v6]:port"; -EINVAL if malformed or port not 1..65535. */
int sw_hostport_parse(const char *s, struct sw_hostport *hp);
/* The other way round; returns buf. */
const char *sw_hostport_format(const struct sw_hostport *hp, char *buf,
			       size_t size);

#endif /* SW_CONFIG_H */
