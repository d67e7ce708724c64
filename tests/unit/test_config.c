// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The configuration parser. Every rule has a bad file that breaks it, which
 * must be reported at the right line, for the right field, saying what is
 * wrong; every good file must come back unchanged from sw_config_write and a
 * second parse. Files are parsed as if they were DIR/config.yaml, DIR a
 * fresh directory holding the certificates, so "tls: {dir: certs}" also
 * checks that tls.dir is taken relative to the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spillway/defaults.h"
#include "lib/util.h"
#include "config/config.h"
#include "lib/addr.h"
#include "harness.h"

#define NS_PER_S 1000000000ull

/* Everything one case made; torn down after every case, failed or not. */
static struct {
	char dir[64];		/* certs/: the three files; partial/: no key.pem */
	char path[96];		/* DIR/config.yaml: the name every text has */
	int old_cwd;		/* open while a case has moved into dir */
	struct sw_config a, b;
	char *text, *text2;
} fx = { .old_cwd = -1 };

static void write_file(const char *rel, const char *content)
{
	char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fx.dir, rel);
	f = fopen(path, "w");
	CHECK(f, "%s: %s", path, strerror(errno));
	fputs(content, f);
	CHECK(!fclose(f), "%s: %s", path, strerror(errno));
}

static void make_dir(const char *rel)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", fx.dir, rel);
	CHECK(!mkdir(path, 0755), "%s: %s", path, strerror(errno));
}

static void setup(void)
{
	strcpy(fx.dir, "/tmp/swcfg-XXXXXX");
	CHECK(mkdtemp(fx.dir), "mkdtemp: %s", strerror(errno));
	snprintf(fx.path, sizeof(fx.path), "%s/config.yaml", fx.dir);
	make_dir("certs");
	write_file("certs/root-cert.pem", "root\n");
	write_file("certs/cert-chain.pem", "chain\n");
	write_file("certs/key.pem", "key\n");
	make_dir("partial");
	write_file("partial/root-cert.pem", "root\n");
	write_file("partial/cert-chain.pem", "chain\n");
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	if (fx.old_cwd >= 0) {
		if (fchdir(fx.old_cwd))
			perror("fchdir");
		close(fx.old_cwd);
	}
	sw_config_free(&fx.a);
	sw_config_free(&fx.b);
	free(fx.text);
	free(fx.text2);
	if (fx.dir[0] && nftw(fx.dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS))
		fprintf(stderr, "    cannot remove %s: %s\n", fx.dir,
			strerror(errno));
	memset(&fx, 0, sizeof(fx));
	fx.old_cwd = -1;
}

static int parse(const char *yaml, struct sw_config *cfg, struct sw_error *e)
{
	return sw_config_parse(fx.path, yaml, strlen(yaml), cfg, e);
}

#define CHECK_STR(a, b)                                                      \
	CHECK(!strcmp((a), (b)), "'%s' != '%s'", (a), (b))

/* ------------------------------------------------------------------------ */
/* Bad files: where, which field, what */

struct bad_config {
	const char *name;
	const char *yaml;
	int line;		/* 1-based, as in the message */
	const char *field;	/* NULL: the problem is the file's, no field */
	const char *phrase;	/* part of what the message says */
};

#define BAD(name, ...) { "bad/" name, __VA_ARGS__ }

/* Enough of a file that services can spill: a remote and tls. */
#define WITH_REMOTES                                                         \
	"cluster: c1\n"                                                      \
	"tls:\n"                                                             \
	"  dir: certs\n"                                                     \
	"remotes:\n"                                                         \
	"  - name: c2\n"                                                     \
	"    gateway: 203.0.113.7:15008\n"		/* line 6 */

/* The first lines of a file with one service, up to its port (line 5). */
#define SERVICE_AT_PORT                                                      \
	"cluster: c1\n"                                                      \
	"services:\n"                                                        \
	"  - name: echo\n"                                                   \
	"    vip: 10.96.0.10\n"                                              \
	"    port: "

static const struct bad_config bad_configs[] = {
	/* The file as a whole */
	BAD("empty", "", 1, NULL, "the file is empty"),
	BAD("comments-only", "# nothing here\n\n", 1, NULL, "the file is empty"),
	BAD("top-level-list", "- cluster: c1\n", 1, NULL,
	    "the top level is a list; expected a mapping"),
	BAD("top-level-string", "cluster\n", 1, NULL,
	    "the top level is a string; expected a mapping"),
	BAD("syntax/unclosed-bracket",
	    "cluster: c1\n"
	    "interfaces: [eth0\n"
	    "services: []\n",
	    3, NULL, "invalid YAML: did not find expected ',' or ']'"),
	BAD("syntax/indentation",
	    "cluster: c1\n"
	    "tls:\n"
	    "  dir: certs\n"
	    " allow_identities: []\n",
	    4, NULL, "invalid YAML"),
	BAD("syntax/tab",
	    "cluster: c1\n"
	    "tls:\n"
	    "\tdir: certs\n",
	    3, NULL, "invalid YAML: found character that cannot start any token"),
	BAD("syntax/not-utf8", "cluster: c1\ninterfaces: [eth\xff]\n", 2, NULL,
	    "invalid YAML"),
	BAD("syntax/undefined-alias", "cluster: c1\nremotes: *r\n", 2, NULL,
	    "invalid YAML: found undefined alias"),
	BAD("second-document",
	    "cluster: c1\n"
	    "---\n"
	    "cluster: c2\n",
	    3, NULL, "a second YAML document starts here"),
	BAD("nul-in-string", "cluster: \"c\\0\"\n", 1, "cluster",
	    "contains a NUL character"),

	/* Top level */
	BAD("missing-cluster", "interfaces: []\n", 1, NULL,
	    "missing required key 'cluster'"),
	BAD("unknown-key",
	    "cluster: c1\n"
	    "clusters: [c2]\n",
	    2, NULL, "unknown key 'clusters'; expected one of cluster, "
	    "interfaces, tls, tunnel, remotes, services, exports, metrics, "
	    "datapath or agent"),
	BAD("duplicate-key",
	    "cluster: c1\n"
	    "cluster: c2\n",
	    2, NULL, "key 'cluster' is written twice (first on line 1)"),
	BAD("key-is-a-list",
	    "cluster: c1\n"
	    "? [a]\n"
	    ": b\n",
	    2, NULL, "found a list as a key"),
	BAD("cluster/list", "cluster: [c1]\n", 1, "cluster",
	    "found a list; expected a string"),
	BAD("cluster/empty", "cluster:\n", 1, "cluster",
	    "found an empty value; expected a string"),
	BAD("cluster/uppercase", "cluster: Cluster1\n", 1, "cluster",
	    "'Cluster1' is not a DNS label"),
	BAD("cluster/trailing-dash", "cluster: c1-\n", 1, "cluster",
	    "is not a DNS label"),
	BAD("cluster/too-long",
	    "cluster: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	    1, "cluster", "is not a DNS label; expected 1 to 63"),

	/* interfaces */
	BAD("interfaces/mapping",
	    "cluster: c1\n"
	    "interfaces:\n"
	    "  eth0: tc\n",
	    3, "interfaces", "found a mapping; expected a list"),
	BAD("interfaces/null",
	    "cluster: c1\n"
	    "interfaces:\n",
	    2, "interfaces", "found an empty value; expected a list"),
	BAD("interfaces/too-long", "cluster: c1\ninterfaces: [eth0, abcdefghijklmnop]\n",
	    2, "interfaces[1]", "'abcdefghijklmnop' is not an interface name"),
	BAD("interfaces/slash",
	    "cluster: c1\n"
	    "interfaces:\n"
	    "  - eth0\n"
	    "  - a/b\n",
	    4, "interfaces[1]", "is not an interface name"),
	BAD("interfaces/colon",
	    "cluster: c1\n"
	    "interfaces:\n"
	    "  - name: 'eth0:1'\n",
	    3, "interfaces[0].name", "is not an interface name"),
	BAD("interfaces/space", "cluster: c1\ninterfaces: ['eth 0']\n", 2,
	    "interfaces[0]", "none of them '/', ':' or whitespace"),
	BAD("interfaces/duplicate",
	    "cluster: c1\n"
	    "interfaces:\n"
	    "  - eth0\n"
	    "  - name: eth0\n"
	    "    attach: xdp\n",
	    4, "interfaces[1]", "eth0 is already used by interfaces[0] (line 3)"),
	BAD("interfaces/bad-attach",
	    "cluster: c1\n"
	    "interfaces:\n"
	    "  - name: eth0\n"
	    "    attach: ebpf\n",
	    4, "interfaces[0].attach", "'ebpf' is not an attach mode; expected tc or xdp"),
	BAD("interfaces/unknown-key",
	    "cluster: c1\n"
	    "interfaces:\n"
	    "  - name: eth0\n"
	    "    mode: xdp\n",
	    4, "interfaces[0]", "unknown key 'mode'; expected one of name or attach"),
	BAD("interfaces/missing-name",
	    "cluster: c1\n"
	    "interfaces:\n"
	    "  - attach: xdp\n",
	    3, "interfaces[0]", "missing required key 'name'"),
	BAD("interfaces/nested-list", "cluster: c1\ninterfaces: [[eth0]]\n", 2,
	    "interfaces[0]", "found a list; expected a string"),

	/* tls */
	BAD("tls/not-a-mapping", "cluster: c1\ntls: certs\n", 2, "tls",
	    "found a string; expected a mapping"),
	BAD("tls/unknown-key",
	    "cluster: c1\n"
	    "tls:\n"
	    "  dir: certs\n"
	    "  ca: root.pem\n",
	    4, "tls", "unknown key 'ca'; expected one of dir or allow_identities"),
	BAD("tls/missing-dir",
	    "cluster: c1\n"
	    "tls:\n"
	    "  allow_identities: []\n",
	    3, "tls", "missing required key 'dir'"),
	BAD("tls/missing-key-pem",
	    "cluster: c1\n"
	    "tls:\n"
	    "  dir: partial\n",
	    3, "tls.dir", "/partial has no readable key.pem; expected "
	    "root-cert.pem, cert-chain.pem and key.pem there"),
	BAD("tls/no-such-dir",
	    "cluster: c1\n"
	    "tls:\n"
	    "  dir: /nonexistent/certs\n",
	    3, "tls.dir", "/nonexistent/certs cannot be used as a directory "
	    "(No such file or directory)"),
	BAD("tls/empty-dir", "cluster: c1\ntls:\n  dir: ''\n", 3, "tls.dir",
	    "'' cannot be used"),
	BAD("tls/identities-not-a-list",
	    "cluster: c1\n"
	    "tls:\n"
	    "  dir: certs\n"
	    "  allow_identities: spiffe://cluster.local/ns/a/sa/b\n",
	    4, "tls.allow_identities", "found a string; expected a list"),
	BAD("tls/bad-identity",
	    "cluster: c1\n"
	    "tls:\n"
	    "  dir: certs\n"
	    "  allow_identities: ['spiffe://']\n",
	    4, "tls.allow_identities[0]", "'spiffe://' is not an identity"),
	BAD("tls/required-by-remotes",
	    "cluster: c1\n"
	    "remotes:\n"
	    "  - name: c2\n"
	    "    gateway: 203.0.113.7:15008\n",
	    1, NULL, "missing required key 'tls'"),

	/* tunnel, metrics */
	BAD("tunnel/listen-on-a-name",
	    "cluster: c1\n"
	    "tunnel:\n"
	    "  listen: gw.example.com:15008\n",
	    3, "tunnel.listen", "is not an address and port to listen on"),
	BAD("tunnel/listen-port-0",
	    "cluster: c1\n"
	    "tunnel:\n"
	    "  listen: 0.0.0.0:0\n",
	    3, "tunnel.listen", "'0.0.0.0:0' is not an address and port"),
	BAD("tunnel/unknown-key",
	    "cluster: c1\n"
	    "tunnel:\n"
	    "  port: 15008\n",
	    3, "tunnel", "unknown key 'port'; expected one of listen, "
	    "max_streams_per_peer, max_connects_per_peer, buffer_budget_mib or "
	    "workers"),
	BAD("tunnel/streams-per-peer-0",
	    "cluster: c1\n"
	    "tunnel:\n"
	    "  listen: 0.0.0.0:15008\n"
	    "  max_streams_per_peer: 0\n",
	    4, "tunnel.max_streams_per_peer", "expected a whole number from 1 to 1000000"),
	BAD("tunnel/workers-65",
	    "cluster: c1\n"
	    "tunnel:\n"
	    "  workers: 65\n",
	    3, "tunnel.workers", "expected a whole number from 1 to 64"),
	BAD("tunnel/workers-0",
	    "cluster: c1\n"
	    "tunnel: {workers: 0}\n",
	    2, "tunnel.workers", "expected a whole number from 1 to 64"),
	BAD("tunnel/streams-per-peer-no-listen",
	    "cluster: c1\n"
	    "tunnel:\n"
	    "  max_streams_per_peer: 10\n",
	    3, "tunnel", "listen"),
	BAD("metrics/unbracketed-ipv6",
	    "cluster: c1\n"
	    "metrics:\n"
	    "  listen: ::1:15020\n",
	    3, "metrics.listen", "'::1:15020' is not an address and port"),
	BAD("metrics/missing-listen", "cluster: c1\nmetrics: {}\n", 2, "metrics",
	    "missing required key 'listen'"),

	/* remotes */
	BAD("remotes/not-a-list",
	    "cluster: c1\n"
	    "remotes: {name: c2}\n",
	    2, "remotes", "found a mapping; expected a list"),
	BAD("remotes/bad-name",
	    "cluster: c1\n"
	    "tls:\n"
	    "  dir: certs\n"
	    "remotes:\n"
	    "  - name: Cluster_2\n"
	    "    gateway: 203.0.113.7:15008\n",
	    5, "remotes[0].name", "'Cluster_2' is not a DNS label"),
	BAD("remotes/duplicate-name",
	    WITH_REMOTES
	    "  - name: c2\n"
	    "    gateway: 203.0.113.8:15008\n",
	    7, "remotes[1].name", "c2 is already used by remotes[0] (line 5)"),
	BAD("remotes/gateway-without-port",
	    WITH_REMOTES
	    "  - name: c3\n"
	    "    gateway: 203.0.113.8\n",
	    8, "remotes[1].gateway", "'203.0.113.8' is not a host and port"),
	BAD("remotes/gateway-bad-ipv4",
	    WITH_REMOTES
	    "  - name: c3\n"
	    "    gateway: 300.0.113.8:15008\n",
	    8, "remotes[1].gateway", "is not a host and port"),
	BAD("remotes/gateway-unbracketed-ipv6",
	    WITH_REMOTES
	    "  - name: c3\n"
	    "    gateway: 2001:db8::1:15008\n",
	    8, "remotes[1].gateway", "[IPv6] address"),
	BAD("remotes/gateway-port-65536",
	    WITH_REMOTES
	    "  - name: c3\n"
	    "    gateway: gw.example.com:65536\n",
	    8, "remotes[1].gateway", "a port from 1 to 65535"),
	BAD("remotes/missing-gateway",
	    WITH_REMOTES
	    "  - name: c3\n",
	    7, "remotes[1]", "missing required key 'gateway'"),
	BAD("remotes/unknown-key",
	    WITH_REMOTES
	    "    address: 203.0.113.7\n",
	    7, "remotes[0]", "unknown key 'address'; expected one of name, "
	    "gateway, connect_timeout, keepalive or health"),
	BAD("remotes/connect-timeout-0",
	    WITH_REMOTES
	    "    connect_timeout: 0s\n",
	    7, "remotes[0].connect_timeout",
	    "0s is not allowed; expected a duration from 1ms to 1h"),
	BAD("remotes/connect-timeout-too-long",
	    WITH_REMOTES
	    "    connect_timeout: 1h1s\n",
	    7, "remotes[0].connect_timeout",
	    "1h1s is not allowed; expected a duration from 1ms to 1h"),
	BAD("remotes/connect-timeout-without-unit",
	    WITH_REMOTES
	    "    connect_timeout: 10\n",
	    7, "remotes[0].connect_timeout", "'10' is not a duration"),
	BAD("remotes/connect-timeout-list",
	    WITH_REMOTES
	    "    connect_timeout: [10s]\n",
	    7, "remotes[0].connect_timeout", "found a list; expected a duration"),
	BAD("remotes/keepalive-not-a-mapping",
	    WITH_REMOTES
	    "    keepalive: true\n",
	    7, "remotes[0].keepalive", "found a string; expected a mapping"),
	BAD("remotes/keepalive-empty",
	    WITH_REMOTES
	    "    keepalive:\n",
	    7, "remotes[0].keepalive", "found an empty value; expected a mapping"),
	BAD("remotes/keepalive-unknown-key",
	    WITH_REMOTES
	    "    keepalive:\n"
	    "      idle: 2h\n",
	    8, "remotes[0].keepalive",
	    "unknown key 'idle'; expected one of time, interval or probes"),
	BAD("remotes/keepalive-time-sub-second",
	    WITH_REMOTES
	    "    keepalive:\n"
	    "      time: 1500ms\n",
	    8, "remotes[0].keepalive.time", "1500ms is not a whole number of "
	    "seconds; expected whole seconds from 1s to 9h6m7s"),
	BAD("remotes/keepalive-interval-sub-second",
	    WITH_REMOTES
	    "    keepalive: {time: 2h, interval: 500ms}\n",
	    7, "remotes[0].keepalive.interval", "500ms is not a whole number of "
	    "seconds; expected whole seconds from 1s to 9h6m7s (the kernel "
	    "counts keepalive timers in seconds), or 0s for the kernel's default"),
	BAD("remotes/keepalive-time-too-long",
	    WITH_REMOTES
	    "    keepalive:\n"
	    "      time: 9h6m8s\n",
	    8, "remotes[0].keepalive.time",
	    "9h6m8s is not allowed; expected a duration from 0s to 9h6m7s"),
	BAD("remotes/keepalive-interval-not-a-duration",
	    WITH_REMOTES
	    "    keepalive:\n"
	    "      interval: 1.5s\n",
	    8, "remotes[0].keepalive.interval", "'1.5s' is not a duration"),
	BAD("remotes/keepalive-probes-128",
	    WITH_REMOTES
	    "    keepalive:\n"
	    "      probes: 128\n",
	    8, "remotes[0].keepalive.probes",
	    "128 is not allowed; expected a whole number from 0 to 127"),
	BAD("remotes/keepalive-probes-negative",
	    WITH_REMOTES
	    "    keepalive:\n"
	    "      probes: -1\n",
	    8, "remotes[0].keepalive.probes", "'-1' is not a whole number"),
	BAD("remotes/health-not-a-mapping",
	    WITH_REMOTES
	    "    health: [2s]\n",
	    7, "remotes[0].health", "found a list; expected a mapping"),
	BAD("remotes/health-unknown-key",
	    WITH_REMOTES
	    "    health:\n"
	    "      timeout: 1s\n",
	    8, "remotes[0].health", "unknown key 'timeout'; expected one of "
	    "interval, failures or ejection_time"),
	BAD("remotes/health-interval-too-short",
	    WITH_REMOTES
	    "    health:\n"
	    "      interval: 99ms\n",
	    8, "remotes[0].health.interval",
	    "99ms is not allowed; expected a duration from 100ms to 1h"),
	BAD("remotes/health-interval-too-long",
	    WITH_REMOTES
	    "    health:\n"
	    "      interval: 61m\n",
	    8, "remotes[0].health.interval",
	    "61m is not allowed; expected a duration from 100ms to 1h"),
	BAD("remotes/health-interval-number",
	    WITH_REMOTES
	    "    health:\n"
	    "      interval: 2\n",
	    8, "remotes[0].health.interval", "'2' is not a duration"),
	BAD("remotes/health-failures-0",
	    WITH_REMOTES
	    "    health:\n"
	    "      failures: 0\n",
	    8, "remotes[0].health.failures",
	    "0 is not allowed; expected a whole number from 1 to 1000"),
	BAD("remotes/health-failures-1001",
	    WITH_REMOTES
	    "    health:\n"
	    "      failures: 1001\n",
	    8, "remotes[0].health.failures",
	    "1001 is not allowed; expected a whole number from 1 to 1000"),
	BAD("remotes/health-failures-word",
	    WITH_REMOTES
	    "    health:\n"
	    "      failures: two\n",
	    8, "remotes[0].health.failures", "'two' is not a whole number"),
	BAD("remotes/health-failures-mapping",
	    WITH_REMOTES
	    "    health:\n"
	    "      failures: {n: 2}\n",
	    8, "remotes[0].health.failures",
	    "found a mapping; expected a whole number"),
	BAD("remotes/health-ejection-time-too-long",
	    WITH_REMOTES
	    "    health:\n"
	    "      ejection_time: 24h1ms\n",
	    8, "remotes[0].health.ejection_time",
	    "24h1ms is not allowed; expected a duration from 0s to 24h"),
	BAD("remotes/health-ejection-time-negative",
	    WITH_REMOTES
	    "    health:\n"
	    "      ejection_time: -1s\n",
	    8, "remotes[0].health.ejection_time", "'-1s' is not a duration"),
	BAD("remotes/health-second-remote",
	    WITH_REMOTES
	    "  - name: c3\n"
	    "    gateway: 203.0.113.8:15008\n"
	    "    health: {interval: 1s, failures: 3, ejection_time: 1d}\n",
	    9, "remotes[1].health.ejection_time", "'1d' is not a duration"),

	/* services */
	BAD("services/item-not-a-mapping", "cluster: c1\nservices: [echo]\n", 2,
	    "services[0]", "found a string; expected a mapping"),
	BAD("services/port-0", SERVICE_AT_PORT "0\n    max_connections: 1\n", 5,
	    "services[0].port",
	    "0 is not allowed; expected a whole number from 1 to 65535"),
	BAD("services/port-65536", SERVICE_AT_PORT "65536\n    max_connections: 1\n",
	    5, "services[0].port", "65536 is not allowed"),
	BAD("services/port-name", SERVICE_AT_PORT "http\n    max_connections: 1\n",
	    5, "services[0].port", "'http' is not a whole number"),
	BAD("services/port-negative", SERVICE_AT_PORT "-80\n    max_connections: 1\n",
	    5, "services[0].port", "'-80' is not a whole number"),
	BAD("services/port-hex", SERVICE_AT_PORT "0x50\n    max_connections: 1\n",
	    5, "services[0].port", "'0x50' is not a whole number"),
	BAD("services/port-float", SERVICE_AT_PORT "80.0\n    max_connections: 1\n",
	    5, "services[0].port", "'80.0' is not a whole number"),
	BAD("services/port-leading-zero", SERVICE_AT_PORT "080\n    max_connections: 1\n",
	    5, "services[0].port", "without sign or leading zeros"),
	BAD("services/port-list", SERVICE_AT_PORT "[80]\n    max_connections: 1\n",
	    5, "services[0].port", "found a list; expected a whole number"),
	BAD("services/max-connections-0", SERVICE_AT_PORT "80\n    max_connections: 0\n",
	    6, "services[0].max_connections",
	    "0 is not allowed; expected a whole number from 1 to 4294967295"),
	BAD("services/max-connections-2^32",
	    SERVICE_AT_PORT "80\n    max_connections: 4294967296\n",
	    6, "services[0].max_connections", "4294967296 is not allowed"),
	BAD("services/resume-below-0",
	    SERVICE_AT_PORT "80\n    max_connections: 10\n    resume_below: 0\n",
	    7, "services[0].resume_below", "0 is not allowed"),
	BAD("services/resume-below-above-max",
	    SERVICE_AT_PORT "80\n    max_connections: 100\n    resume_below: 150\n",
	    7, "services[0].resume_below",
	    "150 is more than max_connections (100); expected a whole number "
	    "from 1 to 100"),
	BAD("services/vip-incomplete",
	    "cluster: c1\n"
	    "services:\n"
	    "  - name: echo\n"
	    "    vip: 10.96.0\n"
	    "    port: 80\n"
	    "    max_connections: 1\n",
	    4, "services[0].vip", "'10.96.0' is not an IP address"),
	BAD("services/vip-name",
	    "cluster: c1\n"
	    "services:\n"
	    "  - {name: echo, vip: echo.svc, port: 80, max_connections: 1}\n",
	    3, "services[0].vip", "'echo.svc' is not an IP address"),
	BAD("services/protocol-udp",
	    "cluster: c1\n"
	    "services:\n"
	    "  - name: dns\n"
	    "    vip: 10.96.0.10\n"
	    "    port: 53\n"
	    "    protocol: udp\n"
	    "    max_connections: 1\n",
	    6, "services[0].protocol", "'udp' is not supported; expected tcp"),
	BAD("services/missing-port",
	    "cluster: c1\n"
	    "services:\n"
	    "  - name: echo\n"
	    "    vip: 10.96.0.10\n"
	    "    max_connections: 1\n",
	    3, "services[0]", "missing required key 'port'"),
	BAD("services/unknown-key",
	    SERVICE_AT_PORT "80\n    portt: 81\n    max_connections: 1\n",
	    6, "services[0]", "unknown key 'portt'"),
	BAD("services/bad-name",
	    "cluster: c1\n"
	    "services:\n"
	    "  - {name: Echo_Svc, vip: 10.96.0.10, port: 80, max_connections: 1}\n",
	    3, "services[0].name", "'Echo_Svc' is not a DNS name"),
	BAD("services/empty-label",
	    "cluster: c1\n"
	    "services:\n"
	    "  - {name: echo..svc, vip: 10.96.0.10, port: 80, max_connections: 1}\n",
	    3, "services[0].name", "is not a DNS name"),
	BAD("services/duplicate-name",
	    "cluster: c1\n"
	    "services:\n"
	    "  - {name: echo, vip: 10.96.0.10, port: 80, max_connections: 1}\n"
	    "  - {name: echo, vip: 10.96.0.11, port: 80, max_connections: 1}\n",
	    4, "services[1].name", "echo is already used by services[0] (line 3)"),
	BAD("services/duplicate-vip-port",
	    "cluster: c1\n"
	    "services:\n"
	    "  - {name: a, vip: 10.96.0.10, port: 80, max_connections: 1}\n"
	    "  - {name: b, vip: 10.96.0.10, port: 81, max_connections: 1}\n"
	    "  - name: c\n"
	    "    vip: 10.96.0.10\n"
	    "    port: 80\n"
	    "    max_connections: 1\n",
	    5, "services[2]", "vip 10.96.0.10 port 80 is already used by "
	    "services[0] (line 3)"),
	BAD("services/node-port-0",
	    "cluster: c1\n"
	    "services:\n"
	    "  - {name: a, node_port: 0, port: 80, max_connections: 1}\n",
	    3, "services[0].node_port", "expected"),
	BAD("services/node-port-65536",
	    "cluster: c1\n"
	    "services:\n"
	    "  - {name: a, node_port: 65536, port: 80, max_connections: 1}\n",
	    3, "services[0].node_port", "expected"),
	BAD("services/node-port-name",
	    "cluster: c1\n"
	    "services:\n"
	    "  - {name: a, node_port: http, port: 80, max_connections: 1}\n",
	    3, "services[0].node_port", "expected"),
	BAD("services/duplicate-node-port",
	    "cluster: c1\n"
	    "services:\n"
	    "  - {name: a, node_port: 30080, port: 80, max_connections: 1}\n"
	    "  - {name: b, vip: 10.96.0.10, node_port: 30080, port: 81,"
	    " max_connections: 1}\n",
	    4, "services[1].node_port", "node_port 30080 is already used by "
	    "services[0] (line 3)"),
	BAD("services/duplicate-vip-ipv6-spelling",
	    "cluster: c1\n"
	    "services:\n"
	    "  - {name: a, vip: 'fd00::10', port: 443, max_connections: 1}\n"
	    "  - {name: b, vip: 'fd00:0:0::10', port: 443, max_connections: 1}\n",
	    4, "services[1]", "vip fd00::10 port 443 is already used by services[0]"),
	BAD("services/overflow-to-unknown-remote",
	    WITH_REMOTES
	    "services:\n"
	    "  - name: echo\n"
	    "    vip: 10.96.0.10\n"
	    "    port: 80\n"
	    "    max_connections: 1\n"
	    "    overflow_to: [c2, c3]\n",
	    12, "services[0].overflow_to[1]",
	    "'c3' is not a remote; expected the name of one of the remotes"),
	BAD("services/overflow-to-five",
	    WITH_REMOTES
	    "  - {name: c3, gateway: 'c3.example.com:1'}\n"
	    "  - {name: c4, gateway: 'c4.example.com:1'}\n"
	    "  - {name: c5, gateway: 'c5.example.com:1'}\n"
	    "  - {name: c6, gateway: 'c6.example.com:1'}\n"
	    "services:\n"
	    "  - name: echo\n"
	    "    vip: 10.96.0.10\n"
	    "    port: 80\n"
	    "    max_connections: 1\n"
	    "    overflow_to: [c2, c3, c4, c5, c6]\n",
	    16, "services[0].overflow_to", "5 entries; expected at most 4"),
	BAD("services/overflow-to-twice",
	    WITH_REMOTES
	    "services:\n"
	    "  - name: echo\n"
	    "    vip: 10.96.0.10\n"
	    "    port: 80\n"
	    "    max_connections: 1\n"
	    "    overflow_to:\n"
	    "      - c2\n"
	    "      - c2\n",
	    14, "services[0].overflow_to[1]",
	    "c2 is already used by services[0].overflow_to[0] (line 13)"),
	BAD("services/overflow-to-string",
	    WITH_REMOTES
	    "services:\n"
	    "  - name: echo\n"
	    "    vip: 10.96.0.10\n"
	    "    port: 80\n"
	    "    max_connections: 1\n"
	    "    overflow_to: c2\n",
	    12, "services[0].overflow_to", "found a string; expected a list"),
	BAD("services/overflow-to-mapping-item",
	    WITH_REMOTES
	    "services:\n"
	    "  - name: echo\n"
	    "    vip: 10.96.0.10\n"
	    "    port: 80\n"
	    "    max_connections: 1\n"
	    "    overflow_to: [{name: c2}]\n",
	    12, "services[0].overflow_to[0]", "found a mapping; expected a string"),

	/* exports */
	BAD("exports/duplicate",
	    "cluster: c1\n"
	    "exports:\n"
	    "  - {name: echo, port: 80, target: '10.96.0.20:80'}\n"
	    "  - {name: echo, port: 81, target: '10.96.0.20:81'}\n"
	    "  - {name: echo, port: 80, target: '10.96.0.21:80'}\n",
	    5, "exports[2]", "echo port 80 is already used by exports[0] (line 3)"),
	BAD("exports/target-without-port",
	    "cluster: c1\n"
	    "exports:\n"
	    "  - name: echo\n"
	    "    port: 80\n"
	    "    target: 10.96.0.20\n",
	    5, "exports[0].target", "'10.96.0.20' is not a host and port"),
	BAD("exports/bad-name",
	    "cluster: c1\n"
	    "exports:\n"
	    "  - {name: -echo, port: 80, target: 'echo:80'}\n",
	    3, "exports[0].name", "'-echo' is not a DNS name"),
	BAD("exports/missing-target",
	    "cluster: c1\n"
	    "exports:\n"
	    "  - name: echo\n"
	    "    port: 80\n",
	    3, "exports[0]", "missing required key 'target'"),

	/* datapath */
	BAD("datapath/not-a-mapping", "cluster: c1\ndatapath: fast\n", 2,
	    "datapath", "found a string; expected a mapping"),
	BAD("datapath/unknown-key",
	    "cluster: c1\n"
	    "datapath:\n"
	    "  flows: 10\n",
	    3, "datapath", "unknown key 'flows'; expected one of flow_capacity, "
	    "tunnel_port, half_open_timeout, idle_timeout, closed_linger or "
	    "collect_interval"),
	BAD("datapath/flow-capacity-0", "cluster: c1\ndatapath:\n  flow_capacity: 0\n",
	    3, "datapath.flow_capacity", "0 is not allowed"),
	BAD("datapath/flow-capacity-too-big",
	    "cluster: c1\ndatapath:\n  flow_capacity: 134217729\n", 3,
	    "datapath.flow_capacity",
	    "134217729 is not allowed; expected a whole number from 1 to 134217728"),
	BAD("datapath/tunnel-port-65536",
	    "cluster: c1\ndatapath:\n  tunnel_port: 65536\n", 3,
	    "datapath.tunnel_port", "65536 is not allowed"),
	BAD("datapath/duration-without-unit",
	    "cluster: c1\ndatapath:\n  idle_timeout: 10\n", 3,
	    "datapath.idle_timeout", "'10' is not a duration"),
	BAD("datapath/duration-zero",
	    "cluster: c1\ndatapath:\n  half_open_timeout: 0s\n", 3,
	    "datapath.half_open_timeout",
	    "0s is not allowed; expected a duration greater than 0"),
	BAD("datapath/duration-fraction",
	    "cluster: c1\ndatapath:\n  closed_linger: 1.5s\n", 3,
	    "datapath.closed_linger", "'1.5s' is not a duration"),
	BAD("datapath/duration-order",
	    "cluster: c1\ndatapath:\n  collect_interval: 30m1h\n", 3,
	    "datapath.collect_interval", "largest first"),
	BAD("datapath/duration-unit",
	    "cluster: c1\ndatapath:\n  collect_interval: 10d\n", 3,
	    "datapath.collect_interval", "'10d' is not a duration"),

	/* agent */
	BAD("agent/not-a-mapping", "cluster: c1\nagent: 20s\n", 2, "agent",
	    "found a string; expected a mapping"),
	BAD("agent/unknown-key", "cluster: c1\nagent:\n  drain: 20s\n", 3,
	    "agent", "unknown key 'drain'; expected one of drain_timeout or "
	    "resolve_interval"),
	BAD("agent/drain-timeout-0", "cluster: c1\nagent:\n  drain_timeout: 0s\n",
	    3, "agent.drain_timeout",
	    "0s is not allowed; expected a duration greater than 0"),
	BAD("agent/drain-timeout-number", "cluster: c1\nagent:\n  drain_timeout: 20\n",
	    3, "agent.drain_timeout", "'20' is not a duration"),
};

#define N_BAD (int)ARRAY_SIZE(bad_configs)

static void test_bad(const void *arg)
{
	const struct bad_config *c = arg;
	static const struct sw_config empty;
	struct sw_error e = { "" };
	char where[160];
	const char *rest;
	int err = parse(c->yaml, &fx.a, &e);

	CHECK(err == -EINVAL, "returned %d: %s", err, e.msg);
	snprintf(where, sizeof(where), "%s:%d:", fx.path, c->line);
	CHECK(!strncmp(e.msg, where, strlen(where)), "not at %s: %s", where,
	      e.msg);
	rest = e.msg + strlen(where);
	rest += strspn(rest, "0123456789");
	CHECK(!strncmp(rest, ": ", 2), "no column: %s", e.msg);
	rest += 2;
	if (c->field)
		CHECK(!strncmp(rest, c->field, strlen(c->field)) &&
		      !strncmp(rest + strlen(c->field), ": ", 2),
		      "not about %s: %s", c->field, e.msg);
	CHECK(strstr(rest, c->phrase), "does not say '%s': %s", c->phrase,
	      e.msg);
	CHECK(!memcmp(&fx.a, &empty, sizeof(empty)), "cfg not left empty");
}

/* The first problem in the file is reported, whatever order they are found in. */
static void test_first_of_many(const void *arg)
{
	static const char yaml[] =
		"cluster: c1\n"
		"services:\n"
		"  - name: echo\n"
		"    vip: 10.96.0.10\n"
		"    port: 80\n"
		"    max_connections: 0\n"
		"    overflow_to: [nowhere]\n"
		"tls:\n"
		"  dir: certs\n"
		"remotes:\n"
		"  - name: Bad_Name\n"
		"    gateway: 203.0.113.7:15008\n";
	struct sw_error e;
	char want[256];

	(void)arg;
	CHECK_EQ(parse(yaml, &fx.a, &e), -EINVAL);
	snprintf(want, sizeof(want), "%s:6:22: services[0].max_connections: 0 "
		 "is not allowed; expected a whole number from 1 to 4294967295 "
		 "(and 2 more problems)", fx.path);
	CHECK_STR(e.msg, want);
}

/* ------------------------------------------------------------------------ */
/* Good files: what they parse to, and back again */

struct good_config {
	const char *name;
	const char *yaml;
	void (*check)(const struct sw_config *cfg);	/* what it means */
};

static void check_hostport(const struct sw_hostport *hp, const char *host,
			   __u16 port)
{
	CHECK_STR(hp->host, host);
	CHECK_EQ(hp->port, port);
}

static void check_tls_dir(const struct sw_config *cfg)
{
	char want[PATH_MAX];

	snprintf(want, sizeof(want), "%s/certs", fx.dir);
	CHECK(cfg->has_tls);
	CHECK_STR(cfg->tls_dir, want);
}

static void check_default_datapath(const struct sw_config *cfg)
{
	CHECK_EQ(cfg->flow_capacity, SW_DEFAULT_FLOW_CAPACITY);
	CHECK_EQ(cfg->tunnel_port, SW_DEFAULT_TUNNEL_PORT);
	CHECK_EQ(cfg->half_open_timeout_ns, SW_DEFAULT_HALF_OPEN_TIMEOUT_S * NS_PER_S);
	CHECK_EQ(cfg->idle_timeout_ns, SW_DEFAULT_IDLE_TIMEOUT_S * NS_PER_S);
	CHECK_EQ(cfg->closed_linger_ns, SW_DEFAULT_CLOSED_LINGER_S * NS_PER_S);
	CHECK_EQ(cfg->collect_interval_ns, SW_DEFAULT_COLLECT_INTERVAL_S * NS_PER_S);
	CHECK_EQ(cfg->drain_timeout_ns, SW_DRAIN_TIMEOUT_S * NS_PER_S);
	CHECK_EQ(cfg->resolve_interval_ns, SW_RESOLVE_INTERVAL_S * NS_PER_S);
	CHECK_EQ(cfg->max_streams_per_peer, SW_TUNNEL_MAX_STREAMS_PER_PEER);
	CHECK_EQ(cfg->max_connects_per_peer, SW_TUNNEL_MAX_CONNECTS_PER_PEER);
	CHECK_EQ(cfg->buffer_budget_mib, SW_TUNNEL_BUFFER_BUDGET_MIB);
}

/* A remote with no tunnel settings written runs with these. */
static void check_default_remote(const struct sw_remote_config *r)
{
	CHECK_EQ(r->connect_timeout_ns, SW_TUNNEL_HANDSHAKE_TIMEOUT_S * NS_PER_S);
	CHECK(!r->keepalive.enabled);
	CHECK_EQ(r->probe_interval_ns, SW_TUNNEL_PROBE_INTERVAL_S * NS_PER_S);
	CHECK_EQ(r->probe_failures, SW_TUNNEL_PROBE_FALL);
	CHECK_EQ(r->ejection_time_ns, 0);
}

static const char full_example[] =
	"cluster: cluster1\n"
	"interfaces: [eth0]\n"
	"tls:\n"
	"  dir: certs\n"
	"  allow_identities: [spiffe://cluster.local/ns/spillway/sa/spillway]\n"
	"tunnel:\n"
	"  listen: 0.0.0.0:15008\n"
	"remotes:\n"
	"  - name: cluster2\n"
	"    gateway: 203.0.113.7:15008\n"
	"services:\n"
	"  - name: echo.default.svc.cluster.local\n"
	"    vip: 10.96.0.10\n"
	"    port: 80\n"
	"    protocol: tcp\n"
	"    max_connections: 100\n"
	"    resume_below: 100\n"
	"    overflow_to: [cluster2]\n"
	"exports:\n"
	"  - name: echo.default.svc.cluster.local\n"
	"    port: 80\n"
	"    target: 10.96.0.20:80\n"
	"metrics:\n"
	"  listen: 127.0.0.1:15020\n"
	"datapath:\n"
	"  flow_capacity: 1048576\n"
	"  tunnel_port: 15001\n"
	"  half_open_timeout: 10s\n"
	"  idle_timeout: 1h\n"
	"  closed_linger: 10s\n"
	"  collect_interval: 5s\n";

static void check_full_example(const struct sw_config *cfg)
{
	const struct sw_service_config_entry *s = &cfg->services[0];
	static const __u8 vip[16] = { 10, 96, 0, 10 };

	CHECK_STR(cfg->path, fx.path);
	CHECK_STR(cfg->cluster, "cluster1");
	CHECK_EQ(cfg->n_interfaces, 1);
	CHECK_STR(cfg->interfaces[0].name, "eth0");
	CHECK_EQ(cfg->interfaces[0].attach, SW_ATTACH_TC);
	check_tls_dir(cfg);
	CHECK_EQ(cfg->n_allow_identities, 1);
	CHECK_STR(cfg->allow_identities[0],
		  "spiffe://cluster.local/ns/spillway/sa/spillway");
	CHECK(cfg->has_tunnel);
	check_hostport(&cfg->tunnel_listen, "0.0.0.0", 15008);
	CHECK_EQ(cfg->n_remotes, 1);
	CHECK_STR(cfg->remotes[0].name, "cluster2");
	check_hostport(&cfg->remotes[0].gateway, "203.0.113.7", 15008);
	check_default_remote(&cfg->remotes[0]);
	CHECK_EQ(cfg->n_services, 1);
	CHECK_STR(s->name, "echo.default.svc.cluster.local");
	CHECK_STR(s->vip, "10.96.0.10");
	CHECK(!memcmp(s->key.vip, vip, sizeof(vip)));
	CHECK_EQ(s->key.family, SW_INET);
	CHECK_EQ(s->key.port, 80);
	CHECK_EQ(s->key.proto, 6);
	CHECK_EQ(s->max_connections, 100);
	CHECK_EQ(s->resume_below, 100);
	CHECK_EQ(s->n_overflow_to, 1);
	CHECK_STR(s->overflow_to[0], "cluster2");
	CHECK_EQ(s->line, 12);
	CHECK_EQ(cfg->n_exports, 1);
	CHECK_STR(cfg->exports[0].name, "echo.default.svc.cluster.local");
	CHECK_EQ(cfg->exports[0].port, 80);
	check_hostport(&cfg->exports[0].target, "10.96.0.20", 80);
	CHECK(cfg->has_metrics);
	check_hostport(&cfg->metrics_listen, "127.0.0.1", 15020);
	check_default_datapath(cfg);
	CHECK(sw_config_remote(cfg, "cluster2") == &cfg->remotes[0]);
	CHECK(!sw_config_remote(cfg, "cluster3"));
	CHECK(sw_config_service(cfg, "echo.default.svc.cluster.local") == s);
	CHECK(!sw_config_service(cfg, "echo"));
}

static void check_minimal(const struct sw_config *cfg)
{
	CHECK_STR(cfg->cluster, "c1");
	CHECK(!cfg->n_interfaces && !cfg->interfaces);
	CHECK(!cfg->has_tls && !cfg->has_tunnel && !cfg->has_metrics);
	CHECK(!cfg->n_remotes && !cfg->n_services && !cfg->n_exports);
	check_default_datapath(cfg);
}

/* No vip: the name's addresses will be its VIPs; the key has the port. */
static void check_vip_from_name(const struct sw_config *cfg)
{
	const struct sw_service_config_entry *s = &cfg->services[0];

	CHECK_EQ(cfg->n_services, 1);
	CHECK_STR(s->vip, "");
	CHECK_EQ(s->key.port, 80);
	CHECK_EQ(s->key.proto, IPPROTO_TCP);
	CHECK_EQ(s->key.family, 0);
	CHECK_EQ(cfg->resolve_interval_ns, 30 * NS_PER_S);
}

static void check_node_port(const struct sw_config *cfg)
{
	const struct sw_service_config_entry *np = &cfg->services[0];
	const struct sw_service_config_entry *both = &cfg->services[1];

	CHECK_EQ(cfg->n_services, 2);
	CHECK_STR(np->vip, "");
	CHECK_EQ(np->node_port, 30080);
	CHECK_EQ(np->port, 80);
	CHECK(!sw_service_named(np), "a NodePort service is not resolved by name");
	CHECK_STR(both->vip, "10.96.0.10");
	CHECK_EQ(both->node_port, 65535);
	CHECK_EQ(both->key.port, 443);
	CHECK(sw_config_has_node_ports(cfg));
}

/* What a resolver answered, for sw_config_expand_vips. */
static int fake_vips(void *arg, const char *name, char (*out)[INET6_ADDRSTRLEN],
		     int max)
{
	static const char *const answers[] = { "10.96.0.10", "10.96.0.12",
						 "fd00::1" };
	int n = 0;

	(void)arg;
	if (strcmp(name, "b.default.svc.cluster.local"))
		return 0;		/* c's name does not resolve (yet) */
	for (; n < max && n < 3; n++)
		snprintf(out[n], INET6_ADDRSTRLEN, "%s", answers[n]);
	return n;
}

/*
 * Services without a vip become one entry per address of their name; an
 * address another service has on that port is left out and said; a name
 * without addresses leaves its service out.
 */
static void test_expand_vips(const void *arg)
{
	struct sw_error e = { "" };
	char why[256] = "";
	char vip[SW_ADDR_STRLEN];

	(void)arg;
	CHECK(!parse("cluster: c1\n"
		     "services:\n"
		     "  - {name: b.default.svc.cluster.local, port: 80,"
		     " max_connections: 2}\n"
		     "  - {name: a.default.svc.cluster.local, vip: 10.96.0.10,"
		     " port: 80, max_connections: 1}\n"
		     "  - {name: c.default.svc.cluster.local, port: 80,"
		     " max_connections: 3}\n", &fx.a, &e), "%s", e.msg);
	CHECK_EQ(sw_config_expand_vips(&fx.a, fake_vips, NULL, why,
				       sizeof(why)), 1);
	CHECK(strstr(why, "services[0] (b.default.svc.cluster.local): "
		     "10.96.0.10 port 80 is another service's VIP"), "%s", why);
	CHECK_EQ(fx.a.n_services, 3);
	CHECK_STR(fx.a.services[0].name, "a.default.svc.cluster.local");
	CHECK_STR(fx.a.services[1].vip, "10.96.0.12");
	CHECK_STR(fx.a.services[2].vip, "fd00::1");
	for (int i = 1; i < 3; i++) {
		CHECK_STR(fx.a.services[i].name, "b.default.svc.cluster.local");
		CHECK_EQ(fx.a.services[i].max_connections, 2);
		CHECK_EQ(fx.a.services[i].key.port, 80);
		CHECK_STR(sw_addr_format(fx.a.services[i].key.vip,
					 fx.a.services[i].key.family, vip),
			  fx.a.services[i].vip);
	}
}

/*
 * A node_port is two more entries, {no vip, node_port} for IPv4 and IPv6,
 * each counted apart; a service with only a node_port resolves no name. A
 * connection's own address:port finds its VIP's entry, else the NodePort's.
 */
static void test_expand_node_ports(const void *arg)
{
	const struct sw_service_config_entry *s;
	struct sw_service_key key = {};
	struct sw_error e = { "" };
	char why[256] = "";

	(void)arg;
	CHECK(!parse("cluster: c1\n"
		     "services:\n"
		     "  - {name: b.default.svc.cluster.local, node_port: 30080,"
		     " port: 80, max_connections: 2}\n"
		     "  - {name: a.default.svc.cluster.local, vip: 10.96.0.10,"
		     " node_port: 30081, port: 80, max_connections: 1}\n",
		     &fx.a, &e), "%s", e.msg);
	CHECK_EQ(sw_config_expand_vips(&fx.a, fake_vips, NULL, why,
				       sizeof(why)), 0);
	CHECK_EQ(fx.a.n_services, 5);	/* b: 2 node ports; a: vip + 2 */
	for (int i = 0; i < fx.a.n_services; i++)
		CHECK(fx.a.services[i].vip[0] ||
		      fx.a.services[i].key.port == fx.a.services[i].node_port,
		      "services[%d]", i);
	key.proto = IPPROTO_TCP;
	key.family = SW_INET6;
	key.port = 30080;
	s = sw_config_service_by_key(&fx.a, &key);
	CHECK(s && !strcmp(s->name, "b.default.svc.cluster.local") &&
	      s->port == 80 && !s->vip[0], "the IPv6 NodePort entry");
	CHECK(!sw_service_key_make(&key, "192.168.7.10", 30081));
	s = sw_config_service_reached(&fx.a, &key);
	CHECK(s && !strcmp(s->name, "a.default.svc.cluster.local") &&
	      !s->vip[0], "a node address reaches the NodePort");
	CHECK(!sw_service_key_make(&key, "10.96.0.10", 80));
	s = sw_config_service_reached(&fx.a, &key);
	CHECK(s && !strcmp(s->vip, "10.96.0.10"), "the VIP reaches its entry");
	CHECK(!sw_service_key_make(&key, "192.168.7.10", 80));
	CHECK(!sw_config_service_reached(&fx.a, &key));
}

static void check_ipv6(const struct sw_config *cfg)
{
	const struct sw_service_config_entry *api = &cfg->services[0];
	static const __u8 vip[16] = { 0xfd, 0x00, 0x00, 0x96, [15] = 0x10 };

	CHECK_EQ(cfg->n_interfaces, 2);
	CHECK_EQ(cfg->interfaces[0].attach, SW_ATTACH_XDP);
	CHECK_STR(cfg->interfaces[1].name, "eth1");
	CHECK_EQ(cfg->interfaces[1].attach, SW_ATTACH_TC);
	check_hostport(&cfg->tunnel_listen, "::", 15008);
	check_hostport(&cfg->remotes[0].gateway, "2001:db8::7", 15008);
	check_hostport(&cfg->remotes[1].gateway, "gw.east.example.com", 15008);
	CHECK_EQ(api->key.family, SW_INET6);
	CHECK(!memcmp(api->key.vip, vip, sizeof(vip)));
	CHECK_EQ(api->max_connections, 4294967295u);
	CHECK_EQ(api->resume_below, 1);
	CHECK_EQ(api->n_overflow_to, 2);
	CHECK_STR(api->overflow_to[0], "east");
	CHECK_STR(api->overflow_to[1], "west");
	CHECK_EQ(cfg->services[1].resume_below, 5);
	CHECK_EQ(cfg->services[1].n_overflow_to, 0);
	check_hostport(&cfg->metrics_listen, "::1", 15020);
}

static void check_mixed(const struct sw_config *cfg)
{
	CHECK_EQ(cfg->n_interfaces, 3);
	CHECK_EQ(cfg->interfaces[0].attach, SW_ATTACH_TC);
	CHECK_EQ(cfg->interfaces[1].attach, SW_ATTACH_XDP);
	CHECK_EQ(cfg->interfaces[2].attach, SW_ATTACH_TC);
	CHECK_STR(cfg->interfaces[2].name, "eth2");
	CHECK_EQ(cfg->flow_capacity, 134217728);
	CHECK_EQ(cfg->tunnel_port, 65535);
	CHECK_EQ(cfg->half_open_timeout_ns, 500000000ull);
	CHECK_EQ(cfg->idle_timeout_ns, 5400 * NS_PER_S);
	CHECK_EQ(cfg->closed_linger_ns, 1500000000ull);
	CHECK_EQ(cfg->collect_interval_ns, 120 * NS_PER_S);
	CHECK_EQ(cfg->drain_timeout_ns, 3600 * NS_PER_S);
}

static void check_gateway_only(const struct sw_config *cfg)
{
	CHECK(!cfg->n_interfaces && !cfg->n_services && !cfg->n_remotes);
	check_tls_dir(cfg);
	CHECK_EQ(cfg->n_allow_identities, 2);
	CHECK_STR(cfg->allow_identities[1], "gw.example.com");
	CHECK_EQ(cfg->n_exports, 2);
	check_hostport(&cfg->exports[0].target, "echo.default.svc.cluster.local",
		       8080);
	CHECK_EQ(cfg->exports[1].port, 443);
	check_hostport(&cfg->exports[1].target, "fd00::20", 443);
	CHECK_EQ(cfg->max_streams_per_peer, 250);
	CHECK_EQ(cfg->max_connects_per_peer, 30);
	CHECK_EQ(cfg->buffer_budget_mib, 64);
}

static void check_yaml_features(const struct sw_config *cfg)
{
	const struct sw_service_config_entry *s = &cfg->services[0];

	CHECK_STR(cfg->cluster, "c1");
	CHECK_STR(cfg->interfaces[0].name, "null");
	CHECK_STR(cfg->interfaces[1].name, "~");
	CHECK_EQ(cfg->n_remotes, 4);
	CHECK_EQ(s->key.port, 8080);
	CHECK_EQ(s->max_connections, 10);
	CHECK_EQ(s->resume_below, 10);
	CHECK_EQ(s->n_overflow_to, 4);
	CHECK_STR(s->overflow_to[0], "d");
	CHECK_STR(s->overflow_to[3], "a");
}

static void check_remote_settings(const struct sw_config *cfg)
{
	const struct sw_remote_config *all = &cfg->remotes[0];
	const struct sw_remote_config *least = &cfg->remotes[1];
	const struct sw_remote_config *most = &cfg->remotes[2];

	CHECK_EQ(cfg->n_remotes, 4);
	CHECK_EQ(all->connect_timeout_ns, 2500000000ull);
	CHECK(all->keepalive.enabled);
	CHECK_EQ(all->keepalive.time_ns, 7200 * NS_PER_S);
	CHECK_EQ(all->keepalive.interval_ns, 75 * NS_PER_S);
	CHECK_EQ(all->keepalive.probes, 9);
	CHECK_EQ(all->probe_interval_ns, 200000000ull);
	CHECK_EQ(all->probe_failures, 1000);
	CHECK_EQ(all->ejection_time_ns, 24 * 3600 * NS_PER_S);
	/* keepalive: {} is the kernel's timers; health defaults per key */
	CHECK_EQ(least->connect_timeout_ns, 1000000ull);
	CHECK(least->keepalive.enabled);
	CHECK(!least->keepalive.time_ns && !least->keepalive.interval_ns &&
	      !least->keepalive.probes);
	CHECK_EQ(least->probe_interval_ns, SW_TUNNEL_PROBE_INTERVAL_S * NS_PER_S);
	CHECK_EQ(least->probe_failures, 1);
	CHECK_EQ(least->ejection_time_ns, 0);
	CHECK_EQ(most->connect_timeout_ns, 3600 * NS_PER_S);
	CHECK(most->keepalive.enabled);
	CHECK_EQ(most->keepalive.time_ns, 0);
	CHECK_EQ(most->keepalive.interval_ns, 32767 * NS_PER_S);
	CHECK_EQ(most->keepalive.probes, 0);
	CHECK_EQ(most->probe_interval_ns, 3600 * NS_PER_S);
	CHECK_EQ(most->probe_failures, SW_TUNNEL_PROBE_FALL);
	CHECK_EQ(most->ejection_time_ns, 0);
	check_default_remote(&cfg->remotes[3]);
}

/* A node that only spills may write tunnel.workers alone: no gateway. */
static void check_workers_alone(const struct sw_config *cfg)
{
	CHECK_EQ(cfg->workers, 3);
	CHECK(!cfg->has_tunnel);
}

static const struct good_config good_configs[] = {
	{ "good/full-example", full_example, check_full_example },
	{ "good/minimal", "cluster: c1\n", check_minimal },
	{ "good/workers-alone", "cluster: c1\ntunnel: {workers: 3}\n",
	  check_workers_alone },
	{ "good/ipv6",
	  "cluster: c1\n"
	  "interfaces:\n"
	  "  - name: eth0\n"
	  "    attach: xdp\n"
	  "  - name: eth1\n"
	  "tls:\n"
	  "  dir: certs\n"
	  "tunnel:\n"
	  "  listen: '[::]:15008'\n"
	  "remotes:\n"
	  "  - name: west\n"
	  "    gateway: '[2001:db8::7]:15008'\n"
	  "  - name: east\n"
	  "    gateway: gw.east.example.com:15008\n"
	  "services:\n"
	  "  - name: api\n"
	  "    vip: fd00:96::10\n"
	  "    port: 443\n"
	  "    max_connections: 4294967295\n"
	  "    resume_below: 1\n"
	  "    overflow_to: [east, west]\n"
	  "  - name: api-v4\n"
	  "    vip: 10.96.0.11\n"
	  "    port: 443\n"
	  "    max_connections: 5\n"
	  "metrics:\n"
	  "  listen: '[::1]:15020'\n",
	  check_ipv6 },
	{ "good/interfaces-both-forms",
	  "cluster: c1\n"
	  "interfaces: [eth0, {name: eth1, attach: xdp}, {name: eth2, attach: tc}]\n"
	  "datapath:\n"
	  "  flow_capacity: 134217728\n"
	  "  tunnel_port: 65535\n"
	  "  half_open_timeout: 500ms\n"
	  "  idle_timeout: 1h30m\n"
	  "  closed_linger: 1s500ms\n"
	  "  collect_interval: 2m\n"
	  "agent:\n"
	  "  drain_timeout: 1h\n",
	  check_mixed },
	{ "good/vip-from-name",
	  "cluster: c1\n"
	  "agent:\n"
	  "  resolve_interval: 30s\n"
	  "services:\n"
	  "  - name: echo.default.svc.cluster.local\n"
	  "    port: 80\n"
	  "    max_connections: 5\n",
	  check_vip_from_name },
	{ "good/node-port",
	  "cluster: c1\n"
	  "services:\n"
	  "  - {name: np.default.svc.cluster.local, node_port: 30080, port: 80,"
	  " max_connections: 5}\n"
	  "  - {name: both, vip: 10.96.0.10, node_port: 65535, port: 443,"
	  " max_connections: 1}\n",
	  check_node_port },
	{ "good/gateway-only",
	  "cluster: gw\n"
	  "interfaces: []\n"
	  "tls:\n"
	  "  dir: certs\n"
	  "  allow_identities:\n"
	  "    - spiffe://cluster.local/ns/a/sa/b\n"
	  "    - gw.example.com\n"
	  "tunnel:\n"
	  "  listen: 0.0.0.0:15008\n"
	  "  max_streams_per_peer: 250\n"
	  "  max_connects_per_peer: 30\n"
	  "  buffer_budget_mib: 64\n"
	  "exports:\n"
	  "  - name: echo.default.svc.cluster.local\n"
	  "    port: 80\n"
	  "    target: echo.default.svc.cluster.local:8080\n"
	  "  - name: echo.default.svc.cluster.local\n"
	  "    port: 443\n"
	  "    target: '[fd00::20]:443'\n",
	  check_gateway_only },
	{ "good/yaml-features",
	  "%YAML 1.1\n"
	  "---\n"
	  "# quoting, flow style, anchors and aliases are all YAML\n"
	  "cluster: \"c1\"\n"
	  "interfaces: ['null', \"~\"]\n"
	  "tls: {dir: certs, allow_identities: []}\n"
	  "remotes:\n"
	  "  - {name: a, gateway: 'a.example.com:1'}\n"
	  "  - {name: b, gateway: &gw 'b.example.com:2'}\n"
	  "  - {name: c, gateway: *gw}\n"
	  "  - {name: d, gateway: '[fd00::1]:3'}\n"
	  "services:\n"
	  "  - name: s1\n"
	  "    vip: 10.0.0.1\n"
	  "    port: '8080'      # quoted, still a number\n"
	  "    max_connections: &max 10\n"
	  "    resume_below: *max\n"
	  "    overflow_to: [d, c, b, a]\n"
	  "...\n",
	  check_yaml_features },
	{ "good/remote-settings",
	  "cluster: c1\n"
	  "tls:\n"
	  "  dir: certs\n"
	  "remotes:\n"
	  "  - name: all\n"
	  "    gateway: 203.0.113.7:15008\n"
	  "    connect_timeout: 2500ms\n"
	  "    keepalive:\n"
	  "      time: 2h\n"
	  "      interval: 75s\n"
	  "      probes: 9\n"
	  "    health:\n"
	  "      interval: 200ms\n"
	  "      failures: 1000\n"
	  "      ejection_time: 24h\n"
	  "  - name: least\n"
	  "    gateway: gw.example.com:15008\n"
	  "    connect_timeout: 1ms\n"
	  "    keepalive: {}\n"
	  "    health: {failures: 1}\n"
	  "  - name: most\n"
	  "    gateway: '[2001:db8::4]:15008'\n"
	  "    connect_timeout: 1h\n"
	  "    keepalive: {time: 0s, interval: 9h6m7s, probes: 0}\n"
	  "    health:\n"
	  "      interval: 1h\n"
	  "      ejection_time: 0s\n"
	  "  - name: none\n"
	  "    gateway: 203.0.113.9:15008\n"
	  "    health: {}\n",
	  check_remote_settings },
};

#define N_GOOD (int)ARRAY_SIZE(good_configs)

static void compare_configs(const struct sw_config *a, const struct sw_config *b)
{
	CHECK_STR(a->path, b->path);
	CHECK_STR(a->cluster, b->cluster);
	CHECK_EQ(a->n_interfaces, b->n_interfaces);
	for (int i = 0; i < a->n_interfaces; i++) {
		CHECK_STR(a->interfaces[i].name, b->interfaces[i].name);
		CHECK_EQ(a->interfaces[i].attach, b->interfaces[i].attach);
	}
	CHECK_EQ(a->has_tls, b->has_tls);
	CHECK_STR(a->tls_dir, b->tls_dir);
	CHECK_EQ(a->n_allow_identities, b->n_allow_identities);
	for (int i = 0; i < a->n_allow_identities; i++)
		CHECK_STR(a->allow_identities[i], b->allow_identities[i]);
	CHECK_EQ(a->has_tunnel, b->has_tunnel);
	check_hostport(&b->tunnel_listen, a->tunnel_listen.host,
		       a->tunnel_listen.port);
	CHECK_EQ(a->n_remotes, b->n_remotes);
	for (int i = 0; i < a->n_remotes; i++) {
		CHECK_STR(a->remotes[i].name, b->remotes[i].name);
		check_hostport(&b->remotes[i].gateway, a->remotes[i].gateway.host,
			       a->remotes[i].gateway.port);
		CHECK_EQ(a->remotes[i].connect_timeout_ns,
			 b->remotes[i].connect_timeout_ns);
		CHECK(!memcmp(&a->remotes[i].keepalive, &b->remotes[i].keepalive,
			      sizeof(a->remotes[i].keepalive)),
		      "remotes[%d].keepalive", i);
		CHECK_EQ(a->remotes[i].probe_interval_ns,
			 b->remotes[i].probe_interval_ns);
		CHECK_EQ(a->remotes[i].probe_failures, b->remotes[i].probe_failures);
		CHECK_EQ(a->remotes[i].ejection_time_ns,
			 b->remotes[i].ejection_time_ns);
	}
	CHECK_EQ(a->n_services, b->n_services);
	for (int i = 0; i < a->n_services; i++) {
		const struct sw_service_config_entry *x = &a->services[i];
		const struct sw_service_config_entry *y = &b->services[i];

		/* line is where the entry was written: not part of its value */
		CHECK_STR(x->name, y->name);
		CHECK_STR(x->vip, y->vip);
		CHECK(!memcmp(&x->key, &y->key, sizeof(x->key)), "services[%d].key", i);
		CHECK_EQ(x->port, y->port);
		CHECK_EQ(x->node_port, y->node_port);
		CHECK_EQ(x->max_connections, y->max_connections);
		CHECK_EQ(x->resume_below, y->resume_below);
		CHECK_EQ(x->n_overflow_to, y->n_overflow_to);
		for (int j = 0; j < x->n_overflow_to; j++)
			CHECK_STR(x->overflow_to[j], y->overflow_to[j]);
	}
	CHECK_EQ(a->n_exports, b->n_exports);
	for (int i = 0; i < a->n_exports; i++) {
		CHECK_STR(a->exports[i].name, b->exports[i].name);
		CHECK_EQ(a->exports[i].port, b->exports[i].port);
		check_hostport(&b->exports[i].target, a->exports[i].target.host,
			       a->exports[i].target.port);
	}
	CHECK_EQ(a->has_metrics, b->has_metrics);
	check_hostport(&b->metrics_listen, a->metrics_listen.host,
		       a->metrics_listen.port);
	CHECK_EQ(a->flow_capacity, b->flow_capacity);
	CHECK_EQ(a->tunnel_port, b->tunnel_port);
	CHECK_EQ(a->half_open_timeout_ns, b->half_open_timeout_ns);
	CHECK_EQ(a->idle_timeout_ns, b->idle_timeout_ns);
	CHECK_EQ(a->closed_linger_ns, b->closed_linger_ns);
	CHECK_EQ(a->collect_interval_ns, b->collect_interval_ns);
	CHECK_EQ(a->drain_timeout_ns, b->drain_timeout_ns);
	CHECK_EQ(a->resolve_interval_ns, b->resolve_interval_ns);
	CHECK_EQ(a->max_streams_per_peer, b->max_streams_per_peer);
	CHECK_EQ(a->max_connects_per_peer, b->max_connects_per_peer);
	CHECK_EQ(a->buffer_budget_mib, b->buffer_budget_mib);
}

/* sw_config_write into *text (owned by fx, so teardown frees it). */
static void write_text(const struct sw_config *cfg, char **text)
{
	size_t len;
	FILE *f = open_memstream(text, &len);
	int err;

	CHECK(f, "open_memstream: %s", strerror(errno));
	err = sw_config_write(cfg, f);
	CHECK(!fclose(f));
	CHECK_EQ(err, 0);
}

static void test_good(const void *arg)
{
	const struct good_config *c = arg;
	struct sw_error e = { "" };
	int err;

	err = parse(c->yaml, &fx.a, &e);
	CHECK(!err, "returned %d: %s", err, e.msg);
	c->check(&fx.a);
	write_text(&fx.a, &fx.text);
	err = parse(fx.text, &fx.b, &e);
	CHECK(!err, "written text does not parse back: %s\n%s", e.msg, fx.text);
	compare_configs(&fx.a, &fx.b);
	/* Written again, the text is the same: nothing drifts. */
	write_text(&fx.b, &fx.text2);
	CHECK_STR(fx.text, fx.text2);
}

/* Defaults are written out explicitly, so the file says what runs. */
static void test_write_explicit_defaults(const void *arg)
{
	struct sw_error e;

	(void)arg;
	CHECK_EQ(parse("cluster: c1\n", &fx.a, &e), 0);
	write_text(&fx.a, &fx.text);
	CHECK(strstr(fx.text, "flow_capacity: 1048576\n"), "%s", fx.text);
	CHECK(strstr(fx.text, "idle_timeout: 1h\n"), "%s", fx.text);
	CHECK(strstr(fx.text, "interfaces: []\n"), "%s", fx.text);
}

/*
 * A remote's settings are written whole, defaults included, but keepalive
 * only when it is on and its timers only when set: 0s reads as "the
 * kernel's", which the block left empty says better.
 */
static void test_write_remote_settings(const void *arg)
{
	static const char yaml[] =
		WITH_REMOTES
		"  - name: c3\n"
		"    gateway: 203.0.113.8:15008\n"
		"    keepalive: {time: 0s, probes: 4}\n"
		"  - name: c4\n"
		"    gateway: 203.0.113.9:15008\n"
		"    keepalive: {}\n";
	struct sw_error e;

	(void)arg;
	CHECK(!parse(yaml, &fx.a, &e), "%s", e.msg);
	write_text(&fx.a, &fx.text);
	CHECK(strstr(fx.text, "  gateway: 203.0.113.7:15008\n"
			      "  connect_timeout: 10s\n"
			      "  health:\n"
			      "    interval: 2s\n"
			      "    failures: 2\n"
			      "    ejection_time: 0s\n"), "%s", fx.text);
	CHECK(strstr(fx.text, "  keepalive:\n"
			      "    probes: 4\n"
			      "  health:\n"), "%s", fx.text);
	CHECK(strstr(fx.text, "  keepalive: {}\n"), "%s", fx.text);
}

/* What sw_remote_defaults gives (the importer's start) is what parsing fills. */
/* A copy owns its lists: it outlives the configuration it was made from. */
static void test_copy(const void *arg)
{
	struct sw_config copy;
	struct sw_error e;

	(void)arg;
	CHECK_EQ(parse(full_example, &fx.a, &e), 0);
	CHECK_EQ(sw_config_copy(&fx.b, &fx.a), 0);
	CHECK(fx.b.services != fx.a.services && fx.b.remotes != fx.a.remotes);
	CHECK_EQ(parse(full_example, &copy, &e), 0);
	sw_config_free(&fx.a);
	compare_configs(&copy, &fx.b);
	check_full_example(&fx.b);
	sw_config_free(&copy);
}

static void test_remote_defaults(const void *arg)
{
	struct sw_remote_config r;
	struct sw_error e;

	(void)arg;
	memset(&r, 0xa5, sizeof(r));
	sw_remote_defaults(&r);
	check_default_remote(&r);
	CHECK(!r.keepalive.time_ns && !r.keepalive.interval_ns &&
	      !r.keepalive.probes);
	CHECK(!parse(WITH_REMOTES, &fx.a, &e), "%s", e.msg);
	CHECK(!memcmp(&r.keepalive, &fx.a.remotes[0].keepalive, sizeof(r.keepalive)));
	CHECK_EQ(r.connect_timeout_ns, fx.a.remotes[0].connect_timeout_ns);
	CHECK_EQ(r.probe_interval_ns, fx.a.remotes[0].probe_interval_ns);
	CHECK_EQ(r.probe_failures, fx.a.remotes[0].probe_failures);
	CHECK_EQ(r.ejection_time_ns, fx.a.remotes[0].ejection_time_ns);
}

/* ------------------------------------------------------------------------ */
/* Loading files; tls.dir relative to the file */

static void test_load_file(const void *arg)
{
	struct sw_error e = { "" };
	int err;

	(void)arg;
	write_file("config.yaml", full_example);
	err = sw_config_load(fx.path, &fx.a, &e);
	CHECK(!err, "returned %d: %s", err, e.msg);
	check_full_example(&fx.a);
}

static void test_load_missing(const void *arg)
{
	struct sw_error e;

	(void)arg;
	CHECK_EQ(sw_config_load(fx.path, &fx.a, &e), -ENOENT);
	CHECK(strstr(e.msg, fx.path) && strstr(e.msg, "cannot open"), "%s", e.msg);
}

static void test_load_directory(const void *arg)
{
	struct sw_error e;

	(void)arg;
	CHECK_EQ(sw_config_load(fx.dir, &fx.a, &e), -EISDIR);
	CHECK(strstr(e.msg, "cannot read"), "%s", e.msg);
}

static void test_load_too_large(const void *arg)
{
	struct sw_error e;
	int fd;

	(void)arg;
	fd = open(fx.path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0, "%s", strerror(errno));
	CHECK(!ftruncate(fd, (4 << 20) + 1), "%s", strerror(errno));
	close(fd);
	CHECK_EQ(sw_config_load(fx.path, &fx.a, &e), -EFBIG);
	CHECK(strstr(e.msg, "larger than 4 MiB"), "%s", e.msg);
}

/* The text ends in a NUL beyond its length, as config.h promises. */
static void test_read_nul_terminated(const void *arg)
{
	struct sw_error e = { "" };
	char *text;
	size_t len;
	int err;

	(void)arg;
	write_file("config.yaml", "cluster: c1\n");
	err = sw_config_read(fx.path, &text, &len, &e);
	CHECK(!err, "returned %d: %s", err, e.msg);
	CHECK_EQ(len, strlen("cluster: c1\n"));
	CHECK(text[len] == '\0', "byte %zu after the text is 0x%02x, not NUL", len,
	      (unsigned char)text[len]);
	free(text);
}

/* A config given by a relative path: tls.dir is still next to it. */
static void test_tls_dir_relative_path(const void *arg)
{
	char cwd[PATH_MAX], want[PATH_MAX + 8];
	struct sw_error e = { "" };
	static const char yaml[] = "cluster: c1\ntls: {dir: certs}\n";
	int err;

	(void)arg;
	fx.old_cwd = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(fx.old_cwd >= 0 && !chdir(fx.dir), "%s", strerror(errno));
	CHECK(getcwd(cwd, sizeof(cwd)));
	err = sw_config_parse("config.yaml", yaml, strlen(yaml), &fx.a, &e);
	CHECK(!err, "%s", e.msg);
	snprintf(want, sizeof(want), "%s/certs", cwd);
	CHECK_STR(fx.a.tls_dir, want);
	CHECK_STR(fx.a.path, "config.yaml");
}

/* ------------------------------------------------------------------------ */

static const struct test_case other_cases[] = {
	{ "bad/first-of-many", test_first_of_many, NULL },
	{ "write/explicit-defaults", test_write_explicit_defaults, NULL },
	{ "write/remote-settings", test_write_remote_settings, NULL },
	{ "remote-defaults", test_remote_defaults, NULL },
	{ "copy", test_copy, NULL },
	{ "expand-vips", test_expand_vips, NULL },
	{ "expand-node-ports", test_expand_node_ports, NULL },
	{ "load/file", test_load_file, NULL },
	{ "load/missing", test_load_missing, NULL },
	{ "load/directory", test_load_directory, NULL },
	{ "load/too-large", test_load_too_large, NULL },
	{ "load/read-nul-terminated", test_read_nul_terminated, NULL },
	{ "tls/dir-relative-to-relative-path", test_tls_dir_relative_path, NULL },
};

#define N_OTHER (int)ARRAY_SIZE(other_cases)

int main(int argc, char **argv)
{
	/* One case per table row, so each is named and run on its own. */
	static struct test_case cases[N_BAD + N_GOOD + N_OTHER + 1];
	static const struct test_suite suite = {
		.name = "config",
		.setup = setup,
		.teardown = teardown,
		.cases = cases,
	};
	int n = 0;

	for (int i = 0; i < N_BAD; i++)
		cases[n++] = (struct test_case){ bad_configs[i].name, test_bad,
						 &bad_configs[i] };
	for (int i = 0; i < N_GOOD; i++)
		cases[n++] = (struct test_case){ good_configs[i].name, test_good,
						 &good_configs[i] };
	for (int i = 0; i < N_OTHER; i++)
		cases[n++] = other_cases[i];
	return test_main(&suite, argc, argv);
}
