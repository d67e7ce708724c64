/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `spillway istio import`: Istio DestinationRules and ServiceEntries
 * (networking.istio.io v1, v1beta1, v1alpha3) read as a spillway
 * configuration. What maps to what is in doc/istio.md:
 *
 *   DestinationRule spec.host                     -> services[].name
 *     ...connectionPool.tcp.maxConnections        -> services[].max_connections
 *     ...connectionPool.tcp.connectTimeout        -> remotes[].connect_timeout
 *     ...connectionPool.tcp.tcpKeepalive          -> remotes[].keepalive
 *     ...outlierDetection                         -> remotes[].health
 *     ...loadBalancer.localityLbSetting           -> order of overflow_to
 *   ServiceEntry addresses x ports                -> services[].vip, .port
 *     endpoints[] in another network              -> remotes, overflow_to
 *
 * What the YAML cannot say (this cluster's name, interfaces, certificates)
 * comes from the options. Fields spillway cannot honour at L4 are warned
 * about, never dropped silently; objects of other kinds are skipped with a
 * note. A DestinationRule or ServiceEntry that cannot be imported (no
 * maxConnections, a wildcard host, a bad value...) is skipped with one
 * warning saying why, unless the import is strict: then it is an error.
 * Warnings and notes are lines "FILE:LINE:COLUMN: warning: document N,
 * KIND NAMESPACE/NAME: FIELD: ..."; errors the same without "warning: ".
 */
#ifndef SW_CONFIG_ISTIO_H
#define SW_CONFIG_ISTIO_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

#include "config/config.h"
#include "lib/error.h"

/* --remote-name NETWORK=NAME */
struct sw_istio_rename {
	const char *network;
	const char *remote;
};

struct sw_istio_opts {
	const char *cluster;			/* --cluster */
	const char *const *interfaces;		/* --interface, repeatable */
	int n_interfaces;
	const char *tls_dir;			/* --tls-dir */
	const char *const *identities;		/* --allow-identity, repeatable */
	int n_identities;
	const char *metrics_listen;		/* --metrics ADDRESS:PORT; NULL: none */
	const char *network;			/* --network: this cluster's; its
						 * endpoints and those without a
						 * network are local */
	const char *locality;			/* --locality REGION[/ZONE[/SUBZONE]] */
	__u16 gateway_port;			/* --gateway-port; 0: the endpoint's */
	const struct sw_istio_rename *renames;	/* --remote-name */
	int n_renames;
	bool strict;				/* --strict: an object that
						 * cannot be imported is an
						 * error, not skipped */
};

/* Defaults of the options (also in `spillway istio import --help`). */
#define SW_ISTIO_DEFAULT_CLUSTER "cluster1"
#define SW_ISTIO_DEFAULT_INTERFACE "eth0"
#define SW_ISTIO_DEFAULT_TLS_DIR "/etc/spillway/certs"
#define SW_ISTIO_DEFAULT_IDENTITY "spiffe://cluster.local/ns/spillway/sa/spillway"
#define SW_ISTIO_DEFAULT_METRICS "127.0.0.1:15020"
#define SW_ISTIO_DEFAULT_NETWORK "network1"	/* as Istio's multicluster guides */

/* One input: its name for messages ("-" reads as "(stdin)") and its text. */
struct sw_istio_input {
	const char *path;
	const char *text;
	size_t len;
};

/*
 * Build *cfg (free with sw_config_free) from the objects of every input, in
 * order. Warnings and notes go to notes, one line each. Fails when an input
 * is not YAML, an option is wrong, nothing could be imported, or (strict)
 * one object could not; then *cfg is empty and e names the file, line,
 * column, document, object and field.
 */
int sw_istio_import(const struct sw_istio_opts *o,
		    const struct sw_istio_input *inputs, int n_inputs,
		    struct sw_config *cfg, FILE *notes, struct sw_error *e);

/* The same from files; "-" is standard input. */
int sw_istio_import_files(const struct sw_istio_opts *o,
			  const char *const *paths, int n_paths,
			  struct sw_config *cfg, FILE *notes,
			  struct sw_error *e);

#endif /* SW_CONFIG_ISTIO_H */
