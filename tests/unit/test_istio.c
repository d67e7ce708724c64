// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `spillway istio import`. Every case imports Istio YAML, writes the
 * configuration with sw_config_write, reads it back with sw_config_parse
 * as the agent would, and checks the result field by field, and the
 * warnings, notes or error the import wrote: the seed's files
 * (tests/istio/), then variants. Run from the top of the tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spillway/defaults.h"
#include "lib/util.h"
#include "config/config.h"
#include "harness.h"
#include "config/istio.h"

#define NS_PER_MS 1000000ull

static struct {
	char dir[64];		/* certs/ (the tls dir) and config.yaml */
	char certs[96];
	char path[96];		/* what the written config is parsed as */
	struct sw_config got, back;
	char *notes, *yaml;
	size_t notes_len, yaml_len;
	struct sw_error e;
	int old_stdin;
} fx = { .old_stdin = -1 };

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	CHECK(f, "%s: %s", path, strerror(errno));
	fputs(content, f);
	CHECK(!fclose(f), "%s: %s", path, strerror(errno));
}

static const char *const cert_files[] = { "root-cert.pem", "cert-chain.pem",
					  "key.pem" };

static void setup(void)
{
	char path[160];

	strcpy(fx.dir, "/tmp/swistio-XXXXXX");
	CHECK(mkdtemp(fx.dir), "mkdtemp: %s", strerror(errno));
	snprintf(fx.certs, sizeof(fx.certs), "%s/certs", fx.dir);
	snprintf(fx.path, sizeof(fx.path), "%s/config.yaml", fx.dir);
	CHECK(!mkdir(fx.certs, 0755), "%s", strerror(errno));
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", fx.certs, cert_files[i]);
		write_file(path, "pem\n");
	}
}

static void teardown(void)
{
	char path[160];

	if (fx.old_stdin >= 0) {
		dup2(fx.old_stdin, 0);
		close(fx.old_stdin);
	}
	sw_config_free(&fx.got);
	sw_config_free(&fx.back);
	free(fx.notes);
	free(fx.yaml);
	/* What setup and the stdin case made, and nothing else. */
	for (int i = 0; fx.dir[0] && i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", fx.certs, cert_files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/all.yaml", fx.dir);
	unlink(path);
	if (fx.dir[0] && (rmdir(fx.certs) || rmdir(fx.dir)))
		fprintf(stderr, "    cannot remove %s: %s\n", fx.dir,
			strerror(errno));
	memset(&fx, 0, sizeof(fx));
	fx.old_stdin = -1;
}

#define CHECK_STR(a, b) CHECK(!strcmp((a), (b)), "'%s' != '%s'", (a), (b))

/* The options a node of the sandbox would use; cases change what they test. */
static struct sw_istio_opts options(void)
{
	static const char *const ifaces[] = { "n0" };
	static const char *const ids[] = { SW_ISTIO_DEFAULT_IDENTITY };

	return (struct sw_istio_opts){
		.cluster = "cluster1", .interfaces = ifaces, .n_interfaces = 1,
		.tls_dir = fx.certs, .identities = ids, .n_identities = 1,
		.metrics_listen = SW_ISTIO_DEFAULT_METRICS,
		.network = SW_ISTIO_DEFAULT_NETWORK,
	};
}

/* Write fx.got and read it back as the agent reads its file. */
static void read_back(void)
{
	FILE *f = open_memstream(&fx.yaml, &fx.yaml_len);
	struct sw_error e;

	CHECK(f);
	CHECK(!sw_config_write(&fx.got, f));
	CHECK(!fclose(f));
	CHECK(!sw_config_parse(fx.path, fx.yaml, fx.yaml_len, &fx.back, &e),
	      "%s\n%s", e.msg, fx.yaml);
}

static int run_import(const struct sw_istio_opts *o,
		      const struct sw_istio_input *in, int n)
{
	FILE *notes = open_memstream(&fx.notes, &fx.notes_len);
	int err;

	CHECK(notes);
	err = sw_istio_import(o, in, n, &fx.got, notes, &fx.e);
	CHECK(!fclose(notes));
	if (getenv("SW_TEST_VERBOSE"))
		fprintf(stderr, "%s%s\n", fx.notes, err ? fx.e.msg : "");
	return err;
}

/* One input, variant.yaml; must succeed, then read back. */
static void import_ok(const struct sw_istio_opts *o, const char *yaml)
{
	struct sw_istio_input in = { "variant.yaml", yaml, strlen(yaml) };

	CHECK(!run_import(o, &in, 1), "%s", fx.e.msg);
	read_back();
}

static void import_yaml(const char *yaml)
{
	struct sw_istio_opts o = options();

	import_ok(&o, yaml);
}

static void check_notes(const char *part)
{
	CHECK(fx.notes && strstr(fx.notes, part), "'%s' not in:\n%s", part,
	      fx.notes ? fx.notes : "");
}

static int count_lines(const char *part)
{
	int n = 0;

	for (const char *s = fx.notes; s && (s = strstr(s, part)); s++)
		n++;
	return n;
}

static const struct sw_service_config_entry *service(const char *name)
{
	const struct sw_service_config_entry *s = sw_config_service(&fx.back, name);

	CHECK(s, "no service %s in:\n%s", name, fx.yaml);
	return s;
}

static const struct sw_remote_config *remote(const char *name)
{
	const struct sw_remote_config *r = sw_config_remote(&fx.back, name);

	CHECK(r, "no remote %s in:\n%s", name, fx.yaml);
	return r;
}

/* overflow_to is exactly the names given (NULL-terminated). */
#define check_overflow(s, ...)                                               \
	check_overflow_list(s, (const char *const[]){ __VA_ARGS__, NULL })

static void check_overflow_list(const struct sw_service_config_entry *s,
				const char *const *names)
{
	int n = 0;

	for (; names[n]; n++) {
		CHECK(n < s->n_overflow_to, "overflow_to has %d, not %s",
		      s->n_overflow_to, names[n]);
		CHECK_STR(s->overflow_to[n], names[n]);
	}
	CHECK_EQ(s->n_overflow_to, n);
}

/* A remote with every tunnel setting at spillway's default. */
static void check_default_tunnel(const struct sw_remote_config *r)
{
	CHECK_EQ(r->connect_timeout_ns, SW_TUNNEL_HANDSHAKE_TIMEOUT_S * NS_PER_S);
	CHECK(!r->keepalive.enabled);
	CHECK_EQ(r->probe_interval_ns, SW_TUNNEL_PROBE_INTERVAL_S * NS_PER_S);
	CHECK_EQ(r->probe_failures, SW_TUNNEL_PROBE_FALL);
	CHECK_EQ(r->ejection_time_ns, 0);
}

/* ------------------------------------------------------------------------ */
/* The seed's files */

static const char *const seed_files[] = {
	"tests/istio/echo-dr.yaml", "tests/istio/echo-entry.yaml",
	"tests/istio/echo-vs.yaml", "tests/istio/ingress-gw.yaml",
};

static void check_seed_config(void)
{
	const struct sw_service_config_entry *s;
	const struct sw_remote_config *r;

	read_back();
	CHECK_STR(fx.back.cluster, "cluster1");
	CHECK_EQ(fx.back.n_interfaces, 1);
	CHECK_STR(fx.back.interfaces[0].name, "n0");
	CHECK_EQ(fx.back.interfaces[0].attach, SW_ATTACH_TC);
	CHECK(fx.back.has_tls);
	CHECK_STR(fx.back.tls_dir, fx.certs);
	CHECK_EQ(fx.back.n_allow_identities, 1);
	CHECK_STR(fx.back.allow_identities[0], SW_ISTIO_DEFAULT_IDENTITY);
	CHECK(fx.back.has_metrics);
	CHECK_STR(fx.back.metrics_listen.host, "127.0.0.1");
	CHECK_EQ(fx.back.metrics_listen.port, 15020);
	CHECK(!fx.back.has_tunnel);
	CHECK_EQ(fx.back.n_exports, 0);
	CHECK_EQ(fx.back.flow_capacity, SW_DEFAULT_FLOW_CAPACITY);

	CHECK_EQ(fx.back.n_services, 1);
	s = service("echo.default.svc.cluster.local");
	CHECK_STR(s->vip, "10.96.0.10");
	CHECK_EQ(s->key.port, 80);
	CHECK_EQ(s->max_connections, 100);
	CHECK_EQ(s->resume_below, 100);
	check_overflow(s, "network2");

	CHECK_EQ(fx.back.n_remotes, 1);
	r = remote("network2");
	CHECK_STR(r->gateway.host, "203.0.113.7");
	CHECK_EQ(r->gateway.port, 15443);
	CHECK_EQ(r->connect_timeout_ns, 5 * NS_PER_S);
	CHECK(r->keepalive.enabled);
	CHECK_EQ(r->keepalive.time_ns, 300 * NS_PER_S);
	CHECK_EQ(r->keepalive.interval_ns, 30 * NS_PER_S);
	CHECK_EQ(r->keepalive.probes, 3);
	CHECK_EQ(r->probe_interval_ns, 1 * NS_PER_S);
	CHECK_EQ(r->probe_failures, 2);		/* min(5xx 5, gateway 2) */
	CHECK_EQ(r->ejection_time_ns, 30 * NS_PER_S);
}

static void test_seed_files(const void *arg)
{
	struct sw_istio_opts o = options();
	FILE *notes = open_memstream(&fx.notes, &fx.notes_len);

	(void)arg;
	CHECK(notes);
	CHECK(!sw_istio_import_files(&o, seed_files, 4, &fx.got, notes, &fx.e),
	      "%s", fx.e.msg);
	CHECK(!fclose(notes));
	check_seed_config();
	check_notes("tests/istio/echo-dr.yaml:21:9: warning: document 1, "
		    "DestinationRule default/echo: spec.trafficPolicy."
		    "connectionPool.http.http1MaxPendingRequests: not imported: "
		    "spillway works at L4");
	check_notes("tests/istio/echo-dr.yaml:22:9: warning: document 1, "
		    "DestinationRule default/echo: spec.trafficPolicy."
		    "connectionPool.http.maxRequestsPerConnection: not imported");
	check_notes("tests/istio/echo-dr.yaml:28:7: warning: document 1, "
		    "DestinationRule default/echo: spec.trafficPolicy."
		    "outlierDetection.maxEjectionPercent: not imported");
	check_notes("tests/istio/echo-vs.yaml:3:1: note: document 1, "
		    "VirtualService default/echo: skipped");
	check_notes("tests/istio/ingress-gw.yaml:4:1: note: document 1, "
		    "Gateway istio-system/cross-network-gateway: skipped");
	check_notes("tests/istio/echo-entry.yaml:27:19: note: document 1, "
		    "ServiceEntry default/echo: spec.endpoints[1].ports.tcp-echo: "
		    "15443 is Istio's east-west gateway port");
	CHECK_EQ(count_lines("warning: "), 3);
	CHECK_EQ(count_lines("note: "), 3);
}

/* The four files as one stream of documents, read from standard input. */
static void test_seed_stdin(const void *arg)
{
	char path[128], *text = NULL, *one;
	struct sw_istio_opts o = options();
	const char *dash[] = { "-" };
	size_t len = 0;
	FILE *cat = open_memstream(&text, &len), *notes;
	int fd;

	(void)arg;
	CHECK(cat);
	for (int i = 0; i < 4; i++) {
		one = NULL;
		CHECK(!sw_config_read(seed_files[i], &one, &len, &fx.e), "%s",
		      fx.e.msg);
		fprintf(cat, "---\n%.*s", (int)len, one);
		free(one);
	}
	CHECK(!fclose(cat));
	snprintf(path, sizeof(path), "%s/all.yaml", fx.dir);
	write_file(path, text);
	free(text);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	fx.old_stdin = dup(0);
	CHECK(dup2(fd, 0) == 0);
	close(fd);

	notes = open_memstream(&fx.notes, &fx.notes_len);
	CHECK(notes);
	CHECK(!sw_istio_import_files(&o, dash, 1, &fx.got, notes, &fx.e), "%s",
	      fx.e.msg);
	CHECK(!fclose(notes));
	check_seed_config();
	check_notes("(stdin):22:9: warning: document 1, DestinationRule "
		    "default/echo: spec.trafficPolicy.connectionPool.http."
		    "http1MaxPendingRequests: not imported");
	check_notes("(stdin):");
	check_notes(": note: document 3, VirtualService default/echo: skipped");
	check_notes(": note: document 4, Gateway istio-system/"
		    "cross-network-gateway: skipped");
	check_notes(": note: document 2, ServiceEntry default/echo: "
		    "spec.endpoints[1].ports.tcp-echo: 15443");
	CHECK_EQ(count_lines("warning: "), 3);
	CHECK_EQ(count_lines("note: "), 3);
}

/* ------------------------------------------------------------------------ */
/* A cluster's Istio objects (tests/unit/istio/), most not for spillway */

#define CLUSTER_DIR "tests/unit/istio/"

static const char *const cluster_files[] = {
	CLUSTER_DIR "bookinfo-destination-rule-all.yaml",
	CLUSTER_DIR "bookinfo-gateway.yaml",
	CLUSTER_DIR "echo-multicluster.yaml",
	CLUSTER_DIR "egress-httpbin.yaml",
	CLUSTER_DIR "egress-wikipedia.yaml",
	CLUSTER_DIR "envoyfilter.yaml",
	CLUSTER_DIR "kubectl-list.yaml",
	CLUSTER_DIR "mesh-mtls.yaml",
	CLUSTER_DIR "sidecar.yaml",
};

#define N_CLUSTER_FILES (int)ARRAY_SIZE(cluster_files)

/* Every message, in order: what is read in file order, then what is built. */
#define NO_MAX_SKIPPED "skipped: spec.trafficPolicy.connectionPool.tcp." \
	"maxConnections: missing; expected the connection threshold (here " \
	"or per port in spec.trafficPolicy.portLevelSettings)\n"
#define OTHER_KIND "skipped: spillway imports DestinationRule and " \
	"ServiceEntry of networking.istio.io v1, v1beta1 or v1alpha3, not "
#define EAST_WEST ": 15443 is Istio's east-west gateway port; a spillway " \
	"gateway listens on its tunnel.listen port (15008 by default): pass " \
	"--gateway-port PORT unless it listens on 15443\n"

static const char cluster_notes[] =
	CLUSTER_DIR "bookinfo-destination-rule-all.yaml:8:3: warning: document 1, "
	"DestinationRule default/productpage: " NO_MAX_SKIPPED
	CLUSTER_DIR "bookinfo-destination-rule-all.yaml:19:3: warning: document 2, "
	"DestinationRule default/reviews: " NO_MAX_SKIPPED
	CLUSTER_DIR "bookinfo-destination-rule-all.yaml:36:3: warning: document 3, "
	"DestinationRule default/ratings: " NO_MAX_SKIPPED
	CLUSTER_DIR "bookinfo-destination-rule-all.yaml:56:3: warning: document 4, "
	"DestinationRule default/details: " NO_MAX_SKIPPED
	CLUSTER_DIR "bookinfo-gateway.yaml:2:1: note: document 1, Gateway "
	"default/bookinfo-gateway: " OTHER_KIND "networking.istio.io/v1 Gateway "
	"(connections that enter through an ingress gateway spill by its "
	"LoadBalancer IP or NodePort, or behind it: doc/istio.md, "
	"\"North-south\")\n"
	CLUSTER_DIR "bookinfo-gateway.yaml:18:1: note: document 2, VirtualService "
	"default/bookinfo: " OTHER_KIND "networking.istio.io/v1 VirtualService\n"
	CLUSTER_DIR "echo-multicluster.yaml:17:26: note: document 1, "
	"DestinationRule default/echo: spec.trafficPolicy.outlierDetection."
	"consecutiveErrors: deprecated in Istio; read as Istio reads it, as "
	"consecutiveGatewayErrors\n"
	CLUSTER_DIR "egress-httpbin.yaml:28:9: warning: document 2, "
	"DestinationRule default/httpbin-ext: spec.trafficPolicy.connectionPool."
	"http.http1MaxPendingRequests: not imported: spillway works at L4: it "
	"limits connections, not HTTP requests\n"
	CLUSTER_DIR "egress-wikipedia.yaml:8:5: warning: document 1, ServiceEntry "
	"default/wikipedia: skipped: spec.hosts[0]: '*.wikipedia.org' is not a "
	"host spillway can import; expected one service's DNS name (lowercase, "
	"no wildcard) such as echo.default.svc.cluster.local\n"
	CLUSTER_DIR "envoyfilter.yaml:2:1: note: document 1, EnvoyFilter "
	"bookinfo/reviews-lua: " OTHER_KIND "networking.istio.io/v1alpha3 "
	"EnvoyFilter\n"
	CLUSTER_DIR "kubectl-list.yaml:40:7: warning: document 1, DestinationRule "
	"bookinfo/reviews-cb: " NO_MAX_SKIPPED
	CLUSTER_DIR "mesh-mtls.yaml:3:1: note: document 1, PeerAuthentication "
	"istio-system/default: " OTHER_KIND "security.istio.io/v1 "
	"PeerAuthentication\n"
	CLUSTER_DIR "mesh-mtls.yaml:18:9: warning: document 2, DestinationRule "
	"istio-system/default: skipped: spec.host: '*.local' is not a host "
	"spillway can import; expected one service's DNS name (lowercase, no "
	"wildcard) such as echo.default.svc.cluster.local\n"
	CLUSTER_DIR "sidecar.yaml:2:1: note: document 1, Sidecar bookinfo/default: "
	OTHER_KIND "networking.istio.io/v1 Sidecar\n"
	CLUSTER_DIR "echo-multicluster.yaml:45:17: note: document 2, ServiceEntry "
	"default/echo: spec.endpoints[1].ports.tcp-echo" EAST_WEST
	CLUSTER_DIR "egress-httpbin.yaml:8:3: warning: document 1, ServiceEntry "
	"default/httpbin-ext: spec.endpoints: no endpoint in another network: "
	"the service is imported but cannot spill (connections over "
	"maxConnections stay local)\n"
	CLUSTER_DIR "kubectl-list.yaml:60:5: warning: document 1, ServiceEntry "
	"prod/external-mongo: skipped: spec.hosts: no DestinationRule with "
	"maxConnections for 'mongo.example.com' among the inputs; a spillway "
	"service needs its threshold\n"
	CLUSTER_DIR "kubectl-list.yaml:87:15: note: document 1, ServiceEntry "
	"prod/payments: spec.endpoints[1].ports.grpc" EAST_WEST;

/*
 * What comes out of a cluster's objects: the services of the two pairs
 * made for spillway and of the external service with a circuit breaker;
 * everything else skipped, each with one line saying why, at its line.
 */
static void test_cluster_dir(const void *arg)
{
	static const struct {
		const char *name, *vip;
		__u16 port;
		__u32 max;
		int spills;	/* to network2 */
	} want[] = {
		{ "echo.default.svc.cluster.local", "10.96.0.10", 80, 100, 1 },
		/* no addresses: its VIPs are what httpbin.org resolves to */
		{ "httpbin.org", "", 80, 50, 0 },
		/* 9090's threshold from portLevelSettings */
		{ "grpc.payments.prod.svc.cluster.local", "240.0.0.10", 9090, 20, 1 },
		{ "http.payments.prod.svc.cluster.local", "240.0.0.10", 8080, 200, 1 },
	};
	struct sw_istio_opts o = options();
	FILE *notes = open_memstream(&fx.notes, &fx.notes_len);
	const struct sw_remote_config *r;

	(void)arg;
	CHECK(notes);
	CHECK(!sw_istio_import_files(&o, cluster_files, N_CLUSTER_FILES, &fx.got,
				     notes, &fx.e), "%s", fx.e.msg);
	CHECK(!fclose(notes));
	CHECK_STR(fx.notes, cluster_notes);
	read_back();

	CHECK_EQ(fx.back.n_services, (int)ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		const struct sw_service_config_entry *s = &fx.back.services[i];

		CHECK_STR(s->name, want[i].name);
		CHECK_STR(s->vip, want[i].vip);
		CHECK_EQ(s->key.port, want[i].port);
		CHECK_EQ(s->max_connections, want[i].max);
		CHECK_EQ(s->n_overflow_to, want[i].spills);
	}
	/* One remote, network2 (tunnel settings from the echo rule). */
	r = remote("network2");
	CHECK_EQ(r->probe_failures, 3);		/* consecutiveErrors */
	CHECK_EQ(r->probe_interval_ns, 10 * NS_PER_S);
	CHECK_EQ(r->ejection_time_ns, 30 * NS_PER_S);
	CHECK_EQ(fx.back.n_remotes, 1);
	CHECK_STR(r->gateway.host, "203.0.113.7");
}

/* --strict: the same objects are all or nothing; the first problem says why. */
static void test_cluster_dir_strict(const void *arg)
{
	struct sw_istio_opts o = options();

	(void)arg;
	o.strict = true;
	CHECK(sw_istio_import_files(&o, cluster_files, N_CLUSTER_FILES, &fx.got,
				    NULL, &fx.e) == -EINVAL);
	CHECK_STR(fx.e.msg, CLUSTER_DIR "bookinfo-destination-rule-all.yaml:8:3: "
		  "document 1, DestinationRule default/productpage: "
		  "spec.trafficPolicy.connectionPool.tcp.maxConnections: "
		  "missing; expected the connection threshold (here or per port "
		  "in spec.trafficPolicy.portLevelSettings)");
	CHECK_EQ(fx.got.n_services, 0);
}

/* ------------------------------------------------------------------------ */
/* Variants */

#define DR_HEAD(api)                                                         \
	"apiVersion: networking.istio.io/" api "\n"                          \
	"kind: DestinationRule\n"                                            \
	"metadata: {name: echo, namespace: default}\n"                       \
	"spec:\n"                                                            \
	"  host: echo.default.svc.cluster.local\n"                           \
	"  trafficPolicy:\n"

#define DR_MAX(n)                                                            \
	DR_HEAD("v1")                                                        \
	"    connectionPool:\n"                                              \
	"      tcp: {maxConnections: " #n "}\n"

#define SE_HEAD(api)                                                         \
	"---\n"                                                              \
	"apiVersion: networking.istio.io/" api "\n"                          \
	"kind: ServiceEntry\n"                                               \
	"metadata: {name: echo, namespace: default}\n"                       \
	"spec:\n"                                                            \
	"  hosts: [echo.default.svc.cluster.local]\n"

#define SE_ONE_REMOTE                                                        \
	SE_HEAD("v1")                                                        \
	"  addresses: [10.96.0.10]\n"                                        \
	"  ports: [{number: 80, name: tcp, protocol: TCP}]\n"                \
	"  endpoints:\n"                                                     \
	"  - {address: 203.0.113.7, network: network2}\n"

static void test_api_versions(const void *arg)
{
	static const char *const docs[] = {
		DR_HEAD("v1") "    connectionPool: {tcp: {maxConnections: 7}}\n"
		SE_HEAD("v1") "  addresses: [10.96.0.10]\n"
		"  ports: [{number: 80, name: tcp}]\n"
		"  endpoints: [{address: 203.0.113.7, network: network2}]\n",
		DR_HEAD("v1beta1") "    connectionPool: {tcp: {maxConnections: 7}}\n"
		SE_HEAD("v1beta1") "  addresses: [10.96.0.10]\n"
		"  ports: [{number: 80, name: tcp}]\n"
		"  endpoints: [{address: 203.0.113.7, network: network2}]\n",
		DR_HEAD("v1alpha3") "    connectionPool: {tcp: {maxConnections: 7}}\n"
		SE_HEAD("v1alpha3") "  addresses: [10.96.0.10]\n"
		"  ports: [{number: 80, name: tcp}]\n"
		"  endpoints: [{address: 203.0.113.7, network: network2}]\n",
	};

	(void)arg;
	for (int i = 0; i < 3; i++) {
		const struct sw_service_config_entry *s;

		import_yaml(docs[i]);
		s = service("echo.default.svc.cluster.local");
		CHECK_EQ(s->max_connections, 7);
		check_overflow(s, "network2");
		CHECK_STR(remote("network2")->gateway.host, "203.0.113.7");
		CHECK_EQ(remote("network2")->gateway.port, SW_DEFAULT_GATEWAY_PORT);
		check_default_tunnel(remote("network2"));
		CHECK_EQ(count_lines("warning: "), 0);
		teardown();
		setup();
	}
}

static void test_other_version_skipped(const void *arg)
{
	(void)arg;
	import_yaml(DR_HEAD("v2") "    connectionPool: {tcp: {maxConnections: 7}}\n"
		    "---\n" DR_MAX(9) SE_ONE_REMOTE
		    "---\napiVersion: v1\nkind: Service\nmetadata: {name: echo}\n");
	CHECK_EQ(service("echo.default.svc.cluster.local")->max_connections, 9);
	check_notes("variant.yaml:1:1: note: document 1, DestinationRule "
		    "default/echo: skipped: spillway imports DestinationRule and "
		    "ServiceEntry of networking.istio.io v1, v1beta1 or v1alpha3, "
		    "not networking.istio.io/v2 DestinationRule");
	check_notes("note: document 4, Service default/echo: skipped");
}

static void test_port_level(const void *arg)
{
	(void)arg;
	import_yaml(DR_MAX(100)
		    "    portLevelSettings:\n"
		    "    - port: {number: 8080}\n"
		    "      connectionPool: {tcp: {maxConnections: 10}}\n"
		    SE_HEAD("v1")
		    "  addresses: [10.96.0.10]\n"
		    "  ports:\n"
		    "  - {number: 80, name: http, protocol: HTTP}\n"
		    "  - {number: 8080, name: tcp-admin, protocol: TCP}\n"
		    "  - {number: 9000, name: Metrics_Port}\n"
		    "  endpoints: [{address: 203.0.113.7, network: network2}]\n");
	CHECK_EQ(fx.back.n_services, 3);
	CHECK_EQ(service("http.echo.default.svc.cluster.local")->max_connections, 100);
	CHECK_EQ(service("http.echo.default.svc.cluster.local")->key.port, 80);
	CHECK_EQ(service("tcp-admin.echo.default.svc.cluster.local")->max_connections, 10);
	CHECK_EQ(service("tcp-admin.echo.default.svc.cluster.local")->key.port, 8080);
	CHECK_EQ(service("port-9000.echo.default.svc.cluster.local")->max_connections, 100);
	check_overflow(service("port-9000.echo.default.svc.cluster.local"),
		       "network2");
	CHECK_EQ(count_lines("warning: "), 0);
}

/* Per-port thresholds only: a port without one is left out, said so. */
static void test_port_level_only(const void *arg)
{
	(void)arg;
	import_yaml(DR_HEAD("v1")
		    "    portLevelSettings:\n"
		    "    - port: {number: 80}\n"
		    "      connectionPool:\n"
		    "        tcp: {maxConnections: 3, connectTimeout: 1s}\n"
		    "    - port: {number: 7000}\n"
		    "      connectionPool: {tcp: {maxConnections: 4}}\n"
		    "      loadBalancer: {simple: ROUND_ROBIN}\n"
		    SE_HEAD("v1")
		    "  addresses: [10.96.0.10]\n"
		    "  ports: [{number: 80, name: a}, {number: 9090, name: b}]\n"
		    "  endpoints: [{address: 203.0.113.7, network: network2}]\n");
	CHECK_EQ(fx.back.n_services, 1);
	CHECK_EQ(service("a.echo.default.svc.cluster.local")->max_connections, 3);
	check_notes("variant.yaml:21:34: warning: document 2, ServiceEntry "
		    "default/echo: spec.ports[1]: port 9090 not imported: "
		    "DestinationRule default/echo sets no maxConnections for it");
	check_notes("warning: document 1, DestinationRule default/echo: "
		    "spec.trafficPolicy.portLevelSettings[0].connectionPool.tcp."
		    "connectTimeout: not imported: per port, spillway takes only "
		    "maxConnections");
	check_notes("warning: document 1, DestinationRule default/echo: "
		    "spec.trafficPolicy.portLevelSettings[1].loadBalancer: not "
		    "imported");
	check_notes("warning: document 1, DestinationRule default/echo: "
		    "spec.trafficPolicy.portLevelSettings[1]: port 7000 not imported: "
		    "ServiceEntry default/echo has no such port");
	check_default_tunnel(remote("network2"));
}

static void test_ipv6_and_dual_stack(const void *arg)
{
	(void)arg;
	import_yaml(DR_MAX(5) SE_HEAD("v1")
		    "  addresses: [10.96.0.10, 'fd00:96::10', 10.0.0.0/24]\n"
		    "  ports: [{number: 80, name: tcp}]\n"
		    "  endpoints: [{address: 'fd00:3::2', network: network2}]\n");
	CHECK_EQ(fx.back.n_services, 2);
	CHECK_STR(service("echo.default.svc.cluster.local")->vip, "10.96.0.10");
	CHECK_STR(service("a1.echo.default.svc.cluster.local")->vip, "fd00:96::10");
	CHECK_EQ(service("a1.echo.default.svc.cluster.local")->key.family, SW_INET6);
	check_overflow(service("a1.echo.default.svc.cluster.local"),
		       "network2");
	CHECK_STR(remote("network2")->gateway.host, "fd00:3::2");
	check_notes("spec.addresses[2]: '10.0.0.0/24' not imported: spillway "
		    "counts connections to one VIP");
}

/*
 * No addresses (a ServiceEntry for a Kubernetes Service often has none):
 * one service per port named after the host, without a vip: the agent
 * takes its VIPs from that name.
 */
static void test_no_addresses(const void *arg)
{
	const struct sw_service_config_entry *s;

	(void)arg;
	import_yaml(DR_MAX(5) SE_HEAD("v1")
		    "  ports: [{number: 80, name: tcp}]\n"
		    "  endpoints: [{address: 203.0.113.7, network: network2}]\n");
	CHECK_EQ(fx.back.n_services, 1);
	s = service("echo.default.svc.cluster.local");
	CHECK_STR(s->vip, "");
	CHECK_EQ(s->key.port, 80);
	CHECK_EQ(s->max_connections, 5);
	check_overflow(s, "network2");
}

/* Three remote networks; the local endpoint says this cluster is region1. */
#define SE_THREE_REMOTES                                                     \
	SE_HEAD("v1")                                                        \
	"  addresses: [10.96.0.10]\n"                                        \
	"  ports: [{number: 80, name: tcp}]\n"                               \
	"  endpoints:\n"                                                     \
	"  - {address: 10.1.0.2, network: network1, locality: region1/z1}\n" \
	"  - {address: 198.51.100.4, network: network4, locality: region4/z1,\n" \
	"     labels: {tier: gold}}\n"                                       \
	"  - {address: 198.51.100.3, network: network3, locality: region3/z1}\n" \
	"  - {address: 198.51.100.2, network: network2, locality: region2/z1}\n"

static void test_order_file(const void *arg)
{
	const struct sw_service_config_entry *s;

	(void)arg;
	import_yaml(DR_MAX(5) SE_THREE_REMOTES);
	s = service("echo.default.svc.cluster.local");
	check_overflow(s, "network4", "network3", "network2");
	CHECK_EQ(fx.back.n_remotes, 3);
}

static void test_order_failover(const void *arg)
{
	const struct sw_service_config_entry *s;

	(void)arg;
	import_yaml(DR_MAX(5)
		    "    loadBalancer:\n"
		    "      localityLbSetting:\n"
		    "        failover:\n"
		    "        - {from: region9, to: region4}\n"
		    "        - {from: region1, to: region2}\n"
		    "        - {from: region1, to: region3}\n"
		    SE_THREE_REMOTES);
	s = service("echo.default.svc.cluster.local");
	check_overflow(s, "network2", "network3", "network4");
}

/* --locality says where this cluster is when no local endpoint does. */
static void test_order_failover_locality_option(const void *arg)
{
	struct sw_istio_opts o = options();
	const struct sw_service_config_entry *s;

	(void)arg;
	o.locality = "region9/zone1";
	import_ok(&o, DR_MAX(5)
		  "    loadBalancer:\n"
		  "      localityLbSetting:\n"
		  "        failover:\n"
		  "        - {from: region9, to: region3}\n"
		  "        - {from: region1, to: region2}\n"
		  SE_HEAD("v1")
		  "  addresses: [10.96.0.10]\n"
		  "  ports: [{number: 80, name: tcp}]\n"
		  "  endpoints:\n"
		  "  - {address: 198.51.100.2, network: network2, locality: region2}\n"
		  "  - {address: 198.51.100.3, network: network3, locality: region3}\n");
	s = service("echo.default.svc.cluster.local");
	check_overflow(s, "network3", "network2");
}

static void test_order_failover_priority(const void *arg)
{
	const struct sw_service_config_entry *s;

	(void)arg;
	/* An explicit value, then a label matched against this cluster. */
	import_yaml(DR_MAX(5)
		    "    loadBalancer:\n"
		    "      localityLbSetting:\n"
		    "        failoverPriority:\n"
		    "        - topology.istio.io/network=network3\n"
		    SE_THREE_REMOTES);
	s = service("echo.default.svc.cluster.local");
	check_overflow(s, "network3", "network4", "network2");
	teardown();
	setup();
	import_yaml(DR_MAX(5)
		    "    loadBalancer:\n"
		    "      localityLbSetting:\n"
		    "        failoverPriority: [tier=gold]\n"
		    "        failover: [{from: region1, to: region2}]\n"
		    SE_THREE_REMOTES);
	s = service("echo.default.svc.cluster.local");
	check_overflow(s, "network4", "network2", "network3");	/* then failover */
	teardown();
	setup();
	import_yaml(DR_MAX(5)
		    "    loadBalancer:\n"
		    "      localityLbSetting:\n"
		    "        enabled: false\n"
		    "        failoverPriority: [topology.istio.io/network=network2]\n"
		    SE_THREE_REMOTES);
	check_overflow(service("echo.default.svc.cluster.local"),
		       "network4", "network3", "network2");
	check_notes("localityLbSetting.enabled: locality failover is off");
}

static void test_region_label(const void *arg)
{
	struct sw_istio_opts o = options();

	(void)arg;
	o.locality = "region2";
	import_ok(&o, DR_MAX(5)
		  "    loadBalancer:\n"
		  "      localityLbSetting:\n"
		  "        failoverPriority: [topology.kubernetes.io/region]\n"
		  SE_HEAD("v1")
		  "  addresses: [10.96.0.10]\n"
		  "  ports: [{number: 80, name: tcp}]\n"
		  "  endpoints:\n"
		  "  - {address: 198.51.100.3, network: network3, locality: region3}\n"
		  "  - {address: 198.51.100.2, network: network2, locality: region2}\n");
	check_overflow(service("echo.default.svc.cluster.local"),
		       "network2", "network3");
}

/* Several documents in one file, two services sharing a remote network. */
static void test_multiple_documents(const void *arg)
{
	(void)arg;
	import_yaml("---\n" DR_MAX(5)
		    "---\n"
		    "apiVersion: networking.istio.io/v1\n"
		    "kind: DestinationRule\n"
		    "metadata: {name: db, namespace: data}\n"
		    "spec:\n"
		    "  host: db\n"
		    "  trafficPolicy: {connectionPool: {tcp: {maxConnections: 50}}}\n"
		    SE_ONE_REMOTE
		    "---\n"
		    "apiVersion: networking.istio.io/v1\n"
		    "kind: ServiceEntry\n"
		    "metadata: {name: db, namespace: data}\n"
		    "spec:\n"
		    "  hosts: [db.data.svc.cluster.local]\n"
		    "  addresses: [10.96.0.20]\n"
		    "  ports: [{number: 5432, name: tcp-pg}]\n"
		    "  endpoints: [{address: 203.0.113.7, network: network2}]\n"
		    "---\n");
	CHECK_EQ(fx.back.n_services, 2);
	CHECK_EQ(service("db.data.svc.cluster.local")->max_connections, 50);
	CHECK_EQ(service("db.data.svc.cluster.local")->key.port, 5432);
	check_overflow(service("db.data.svc.cluster.local"), "network2");
	CHECK_EQ(fx.back.n_remotes, 1);
	CHECK_EQ(count_lines("warning: "), 0);
}

/* What `kubectl get destinationrules,serviceentries -o yaml` prints. */
static void test_kubectl_list(const void *arg)
{
	(void)arg;
	import_yaml("apiVersion: v1\n"
		    "kind: List\n"
		    "items:\n"
		    "- apiVersion: networking.istio.io/v1\n"
		    "  kind: DestinationRule\n"
		    "  metadata: {name: echo, namespace: default, uid: 1234}\n"
		    "  spec:\n"
		    "    host: echo\n"
		    "    trafficPolicy: {connectionPool: {tcp: {maxConnections: 6}}}\n"
		    "- apiVersion: networking.istio.io/v1\n"
		    "  kind: ServiceEntry\n"
		    "  metadata: {name: echo, namespace: default}\n"
		    "  spec:\n"
		    "    hosts: [echo.default.svc.cluster.local]\n"
		    "    addresses: [10.96.0.10]\n"
		    "    ports: [{number: 80, name: tcp}]\n"
		    "    endpoints: [{address: 203.0.113.7, network: network2}]\n"
		    "  status: {}\n"
		    "metadata: {resourceVersion: ''}\n");
	CHECK_EQ(service("echo.default.svc.cluster.local")->max_connections, 6);
	check_overflow(service("echo.default.svc.cluster.local"), "network2");
	CHECK_EQ(count_lines("warning: "), 0);
}

static void test_tunnel_settings(const void *arg)
{
	const struct sw_remote_config *r;

	(void)arg;
	import_yaml(DR_HEAD("v1")
		    "    connectionPool:\n"
		    "      tcp:\n"
		    "        maxConnections: 5\n"
		    "        connectTimeout: 1.5s\n"
		    "        tcpKeepalive: {time: 7.9s, interval: 1m30s}\n"
		    "    outlierDetection:\n"
		    "      consecutive5xxErrors: 0\n"
		    "      consecutiveGatewayErrors: 4\n"
		    "      interval: 100ms\n"
		    "      baseEjectionTime: 1h\n"
		    SE_ONE_REMOTE);
	r = remote("network2");
	CHECK_EQ(r->connect_timeout_ns, 1500 * NS_PER_MS);
	CHECK(r->keepalive.enabled);
	CHECK_EQ(r->keepalive.time_ns, 7 * NS_PER_S);	/* whole seconds */
	CHECK_EQ(r->keepalive.interval_ns, 90 * NS_PER_S);
	CHECK_EQ(r->keepalive.probes, 0);
	CHECK_EQ(r->probe_interval_ns, 100 * NS_PER_MS);
	CHECK_EQ(r->probe_failures, 4);	/* 0 turns 5xx off */
	CHECK_EQ(r->ejection_time_ns, 3600 * NS_PER_S);
	CHECK_EQ(count_lines("warning: "), 0);
}

/*
 * The deprecated consecutiveErrors, as Istio's applyOutlierDetection reads
 * it: when not 0, as consecutiveGatewayErrors (with 5xx ejection off unless
 * consecutive5xxErrors is written), an explicit consecutiveGatewayErrors
 * taking its place.
 */
static void test_consecutive_errors(const void *arg)
{
	static const struct {
		const char *outlier;
		__u32 failures;
		const char *says;
	} cases[] = {
		{ "{consecutiveErrors: 3}", 3,
		  "variant.yaml:9:43: note: document 1, DestinationRule "
		  "default/echo: spec.trafficPolicy.outlierDetection."
		  "consecutiveErrors: deprecated in Istio; read as Istio reads "
		  "it, as consecutiveGatewayErrors\n" },
		{ "{consecutiveErrors: 3, consecutiveGatewayErrors: 7}", 7,
		  "variant.yaml:9:43: warning: document 1, DestinationRule "
		  "default/echo: spec.trafficPolicy.outlierDetection."
		  "consecutiveErrors: not imported: deprecated, and "
		  "consecutiveGatewayErrors takes its place (as in Istio)\n" },
		{ "{consecutiveErrors: 4, consecutive5xxErrors: 2}", 2,
		  "note: document 1, DestinationRule default/echo: spec."
		  "trafficPolicy.outlierDetection.consecutiveErrors: deprecated" },
		{ "{consecutiveErrors: 0}", SW_TUNNEL_PROBE_FALL,
		  "consecutiveErrors: deprecated" },
	};
	char yaml[1024];

	(void)arg;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(yaml, sizeof(yaml), "%s    outlierDetection: %s\n%s",
			 DR_MAX(5), cases[i].outlier, SE_ONE_REMOTE);
		import_yaml(yaml);
		CHECK_EQ(remote("network2")->probe_failures, cases[i].failures);
		check_notes(cases[i].says);
		CHECK_EQ(count_lines("consecutiveErrors"), 1);
		teardown();
		setup();
	}
}

/* Two rules set different tunnel settings for one remote: the first wins. */
static void test_tunnel_settings_conflict(const void *arg)
{
	(void)arg;
	import_yaml(DR_HEAD("v1")
		    "    connectionPool: {tcp: {maxConnections: 5, connectTimeout: 2s}}\n"
		    SE_ONE_REMOTE
		    "---\n"
		    "apiVersion: networking.istio.io/v1\n"
		    "kind: DestinationRule\n"
		    "metadata: {name: db, namespace: default}\n"
		    "spec:\n"
		    "  host: db\n"
		    "  trafficPolicy: {connectionPool: {tcp: {maxConnections: 5,"
		    " connectTimeout: 3s}}}\n"
		    "---\n"
		    "apiVersion: networking.istio.io/v1\n"
		    "kind: ServiceEntry\n"
		    "metadata: {name: db, namespace: default}\n"
		    "spec:\n"
		    "  hosts: [db.default.svc.cluster.local]\n"
		    "  addresses: [10.96.0.20]\n"
		    "  ports: [{number: 80, name: tcp}]\n"
		    "  endpoints: [{address: 203.0.113.7, network: network2}]\n");
	CHECK_EQ(remote("network2")->connect_timeout_ns, 2 * NS_PER_S);
	check_notes("warning: document 3, DestinationRule default/db: "
		    "spec.trafficPolicy: its connectTimeout, tcpKeepalive and "
		    "outlierDetection are not applied to remote network2");
}

static void test_remote_naming_and_ports(const void *arg)
{
	struct sw_istio_rename renames[] = { { "network2", "cluster2" } };
	struct sw_istio_opts o = options();

	(void)arg;
	o.renames = renames;
	o.n_renames = 1;
	import_ok(&o, DR_MAX(5) SE_HEAD("v1")
		  "  addresses: [10.96.0.10]\n"
		  "  ports: [{number: 80, name: tcp}]\n"
		  "  endpoints:\n"
		  "  - {address: gw.cluster2.example, network: network2,"
		  " ports: {tcp: 15009}}\n"
		  "  - {address: 198.51.100.9, network: network2}\n"
		  "  - {address: 10.1.0.2}\n");
	check_overflow(service("echo.default.svc.cluster.local"), "cluster2",
		       NULL);
	CHECK_STR(remote("cluster2")->gateway.host, "gw.cluster2.example");
	CHECK_EQ(remote("cluster2")->gateway.port, 15009);
	check_notes("spec.endpoints[1].network: not imported: an endpoint of "
		    "this network comes first");
	teardown();
	setup();
	o = options();
	o.gateway_port = 15010;
	import_ok(&o, DR_MAX(5) SE_HEAD("v1")
		  "  addresses: [10.96.0.10]\n"
		  "  ports: [{number: 80, name: tcp}]\n"
		  "  endpoints: [{address: 203.0.113.7, network: network2,"
		  " ports: {tcp: 15443}}]\n");
	CHECK_EQ(remote("network2")->gateway.port, 15010);
	CHECK_EQ(count_lines("note: "), 0);
}

/* Local endpoints only: a service that cannot spill, said so; no tls. */
static void test_no_remote(const void *arg)
{
	(void)arg;
	import_yaml(DR_MAX(5) SE_HEAD("v1")
		    "  addresses: [10.96.0.10]\n"
		    "  ports: [{number: 80, name: tcp}]\n"
		    "  endpoints: [{address: 10.1.0.2, network: network1}]\n");
	CHECK_EQ(service("echo.default.svc.cluster.local")->n_overflow_to, 0);
	CHECK_EQ(fx.back.n_remotes, 0);
	CHECK(!fx.back.has_tls);
	check_notes("spec.endpoints: no endpoint in another network: the "
		    "service is imported but cannot spill");
}

/* A short host is a service of the rule's namespace, as in Istio. */
static void test_short_host(const void *arg)
{
	(void)arg;
	import_yaml("apiVersion: networking.istio.io/v1\n"
		    "kind: DestinationRule\n"
		    "metadata: {name: echo, namespace: default}\n"
		    "spec:\n"
		    "  host: echo\n"
		    "  trafficPolicy: {connectionPool: {tcp: {maxConnections: 8}}}\n"
		    SE_ONE_REMOTE);
	CHECK_EQ(service("echo.default.svc.cluster.local")->max_connections, 8);
}

/* A DestinationRule without a ServiceEntry and the other way round. */
static void test_unpaired(const void *arg)
{
	(void)arg;
	import_yaml(DR_MAX(5) SE_ONE_REMOTE
		    "---\n"
		    "apiVersion: networking.istio.io/v1\n"
		    "kind: DestinationRule\n"
		    "metadata: {name: lonely, namespace: default}\n"
		    "spec:\n"
		    "  host: lonely.default.svc.cluster.local\n"
		    "  trafficPolicy: {connectionPool: {tcp: {maxConnections: 8}}}\n"
		    "---\n"
		    "apiVersion: networking.istio.io/v1\n"
		    "kind: ServiceEntry\n"
		    "metadata: {name: alone, namespace: default}\n"
		    "spec:\n"
		    "  hosts: [alone.default.svc.cluster.local]\n"
		    "  addresses: [10.96.0.30]\n"
		    "  ports: [{number: 80, name: tcp}]\n");
	CHECK_EQ(fx.back.n_services, 1);
	check_notes("variant.yaml:24:9: warning: document 3, DestinationRule "
		    "default/lonely: skipped: spec.host: no ServiceEntry for "
		    "'lonely.default.svc.cluster.local' among the inputs");
	check_notes("variant.yaml:31:10: warning: document 4, ServiceEntry "
		    "default/alone: skipped: spec.hosts: no DestinationRule with "
		    "maxConnections for 'alone.default.svc.cluster.local' among "
		    "the inputs");
}

/* Nothing pairs: an error, after the warnings that say why. */
static void test_nothing_to_import(const void *arg)
{
	struct sw_istio_input in = { "dr.yaml", DR_MAX(5), strlen(DR_MAX(5)) };
	struct sw_istio_opts o = options();

	(void)arg;
	CHECK(run_import(&o, &in, 1) == -EINVAL);
	CHECK(strstr(fx.e.msg, "nothing to import"), "%s", fx.e.msg);
	check_notes("dr.yaml:5:9: warning: document 1, DestinationRule "
		    "default/echo: skipped: spec.host: no ServiceEntry");
	CHECK_EQ(fx.got.n_services, 0);
}

/* Every field spillway cannot honour at L4 is a warning naming it. */
static void test_unsupported_fields(const void *arg)
{
	static const char *const fields[] = {
		"DestinationRule default/echo: spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests",
		"DestinationRule default/echo: spec.trafficPolicy.connectionPool.http.http2MaxRequests",
		"DestinationRule default/echo: spec.trafficPolicy.connectionPool.http.maxRequestsPerConnection",
		"DestinationRule default/echo: spec.trafficPolicy.connectionPool.http.maxRetries",
		"DestinationRule default/echo: spec.trafficPolicy.connectionPool.http.idleTimeout",
		"DestinationRule default/echo: spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration",
		"DestinationRule default/echo: spec.trafficPolicy.connectionPool.tcp.idleTimeout",
		"DestinationRule default/echo: spec.trafficPolicy.outlierDetection.maxEjectionPercent",
		"DestinationRule default/echo: spec.trafficPolicy.outlierDetection.minHealthPercent",
		"DestinationRule default/echo: spec.trafficPolicy.outlierDetection.splitExternalLocalOriginErrors",
		"DestinationRule default/echo: spec.trafficPolicy.loadBalancer.simple",
		"DestinationRule default/echo: spec.trafficPolicy.loadBalancer.localityLbSetting.distribute",
		"DestinationRule default/echo: spec.trafficPolicy.tls",
		"DestinationRule default/echo: spec.trafficPolicy.proxyProtocol",
		"DestinationRule default/echo: spec.trafficPolicy.tunnel",
		"DestinationRule default/echo: spec.trafficPolicy.portLevelSettings[0].outlierDetection",
		"DestinationRule default/echo: spec.subsets",
		"DestinationRule default/echo: spec.exportTo",
		"DestinationRule default/echo: spec.workloadSelector",
		"DestinationRule default/echo: spec.hostname",
		"ServiceEntry default/echo: spec.exportTo",
		"ServiceEntry default/echo: spec.subjectAltNames",
		"ServiceEntry default/echo: spec.workloadSelector",
		"ServiceEntry default/echo: spec.ports[0].targetPort",
		"ServiceEntry default/echo: spec.endpoints[0].weight",
		"ServiceEntry default/echo: spec.endpoints[0].serviceAccount",
		"ServiceEntry default/echo: spec.hosts[1]",
		"ServiceEntry default/echo: spec.ports[1]: port 53 not imported: spillway carries TCP only, not UDP",
	};
	char want[256];

	(void)arg;
	import_yaml(DR_HEAD("v1")
		    "    connectionPool:\n"
		    "      tcp: {maxConnections: 5, maxConnectionDuration: 1h, idleTimeout: 1m}\n"
		    "      http: {http1MaxPendingRequests: 1, http2MaxRequests: 2,\n"
		    "             maxRequestsPerConnection: 3, maxRetries: 4, idleTimeout: 5s}\n"
		    "    outlierDetection: {maxEjectionPercent: 50, minHealthPercent: 10,\n"
		    "                       splitExternalLocalOriginErrors: true}\n"
		    "    loadBalancer:\n"
		    "      simple: LEAST_REQUEST\n"
		    "      localityLbSetting: {distribute: [{from: a/*, to: {b/*: 100}}]}\n"
		    "    tls: {mode: ISTIO_MUTUAL}\n"
		    "    proxyProtocol: {version: V1}\n"
		    "    tunnel: {protocol: CONNECT, targetHost: x, targetPort: 1}\n"
		    "    portLevelSettings:\n"
		    "    - port: {number: 80}\n"
		    "      outlierDetection: {interval: 1s}\n"
		    "  subsets: [{name: v1, labels: {version: v1}}]\n"
		    "  exportTo: ['.']\n"
		    "  workloadSelector: {matchLabels: {app: client}}\n"
		    "  hostname: typo\n"
		    "---\n"
		    "apiVersion: networking.istio.io/v1\n"
		    "kind: ServiceEntry\n"
		    "metadata: {name: echo, namespace: default}\n"
		    "spec:\n"
		    "  hosts: [echo.default.svc.cluster.local, echo.example.com]\n"
		    "  addresses: [10.96.0.10]\n"
		    "  ports:\n"
		    "  - {number: 80, name: tcp, targetPort: 8080}\n"
		    "  - {number: 53, name: dns, protocol: UDP}\n"
		    "  endpoints:\n"
		    "  - {address: 203.0.113.7, network: network2, weight: 3,"
		    " serviceAccount: sa}\n"
		    "  exportTo: ['*']\n"
		    "  subjectAltNames: [spiffe://cluster.local/ns/x/sa/y]\n"
		    "  workloadSelector: {labels: {app: echo}}\n"
		    "  location: MESH_INTERNAL\n"
		    "  resolution: STATIC\n");
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		snprintf(want, sizeof(want), "warning: document %d, %s",
			 fields[i][0] == 'D' ? 1 : 2, fields[i]);
		check_notes(want);
	}
	CHECK_EQ(count_lines("warning: "), (int)ARRAY_SIZE(fields));
	CHECK_EQ(service("echo.default.svc.cluster.local")->max_connections, 5);
	CHECK_EQ(fx.back.n_services, 1);	/* UDP left out */
}

/* ------------------------------------------------------------------------ */
/* Errors: file, line, document, object, field */

struct bad_input {
	const char *name;
	const char *yaml;
	const char *msg;	/* all of the message after "variant.yaml:" */
};

#define BAD(name, ...) { "bad/" name, __VA_ARGS__ }

static const struct bad_input bad_inputs[] = {
	BAD("yaml-syntax-second-document",
	    DR_MAX(5) "---\nkind: [ServiceEntry\n",
	    "11:1: document 2: invalid YAML: did not find expected ',' or ']' "
	    "(while parsing a flow sequence on line 10); expected valid YAML"),
	BAD("not-an-object", DR_MAX(5) "---\n- a\n- b\n",
	    "10:1: document 2: found a list; expected a Kubernetes "
	    "object (a mapping with apiVersion and kind)"),
	BAD("no-kind", "apiVersion: networking.istio.io/v1\nspec: {}\n",
	    "1:1: document 1: kind: missing; expected a Kubernetes object"),
	BAD("no-spec", DR_MAX(5) "---\napiVersion: networking.istio.io/v1\n"
	    "kind: ServiceEntry\nmetadata: {name: echo}\n",
	    "10:1: document 2, ServiceEntry default/echo: spec: missing; "
	    "expected the ServiceEntry's spec"),
	BAD("dr-no-host",
	    "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
	    "metadata: {name: echo}\nspec:\n"
	    "  trafficPolicy: {connectionPool: {tcp: {maxConnections: 5}}}\n",
	    "5:3: document 1, DestinationRule default/echo: spec.host: missing; "
	    "expected the service's host name"),
	BAD("dr-no-max",
	    DR_HEAD("v1") "    connectionPool: {tcp: {connectTimeout: 1s}}\n",
	    "7:5: document 1, DestinationRule default/echo: spec.trafficPolicy."
	    "connectionPool.tcp.maxConnections: missing; expected the connection "
	    "threshold (here or per port in spec.trafficPolicy.portLevelSettings)"),
	BAD("dr-no-policy",
	    "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
	    "metadata: {name: echo, namespace: default}\n"
	    "spec: {host: echo}\n",
	    "4:7: document 1, DestinationRule default/echo: spec.trafficPolicy."
	    "connectionPool.tcp.maxConnections: missing"),
	BAD("dr-max-zero", DR_MAX(0),
	    "8:29: document 1, DestinationRule default/echo: spec.trafficPolicy."
	    "connectionPool.tcp.maxConnections: 0 is not allowed; expected a "
	    "whole number from 1 to 4294967295"),
	BAD("dr-wildcard-host",
	    "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
	    "metadata: {name: all}\nspec:\n  host: '*.example.com'\n",
	    "5:9: document 1, DestinationRule default/all: spec.host: "
	    "'*.example.com' is not a host spillway can import"),
	BAD("dr-bad-duration",
	    DR_HEAD("v1") "    connectionPool: {tcp: {maxConnections: 5, "
	    "connectTimeout: 10}}\n",
	    "7:63: document 1, DestinationRule default/echo: spec.trafficPolicy."
	    "connectionPool.tcp.connectTimeout: '10' is not a duration; expected "
	    "a number and a unit (h, m, s, ms, us or ns), such as 10s, 1.5s, "
	    "100ms or 1h"),
	BAD("dr-interval-below-spillway",
	    DR_MAX(5) "    outlierDetection: {interval: 10ms}\n" SE_ONE_REMOTE,
	    "9:34: document 1, DestinationRule default/echo: spec.trafficPolicy."
	    "outlierDetection.interval: 10ms is not allowed: it becomes "
	    "remotes[].health.interval; expected a duration from 100ms to 1h"),
	BAD("dr-keepalive-too-long",
	    DR_HEAD("v1") "    connectionPool: {tcp: {maxConnections: 5, "
	    "tcpKeepalive: {time: 10h}}}\n",
	    "7:68: document 1, DestinationRule default/echo: spec.trafficPolicy."
	    "connectionPool.tcp.tcpKeepalive.time: 10h is not allowed: it "
	    "becomes remotes[].keepalive.time; expected a duration from 1s to "
	    "9h6m7s"),
	BAD("dr-key-twice",
	    DR_HEAD("v1") "    connectionPool: {tcp: {maxConnections: 5}}\n"
	    "    connectionPool: {tcp: {maxConnections: 6}}\n",
	    "8:5: document 1, DestinationRule default/echo: spec.trafficPolicy: "
	    "key 'connectionPool' is written twice (first on line 7); expected "
	    "each key once"),
	BAD("se-empty-network",
	    DR_MAX(5) SE_HEAD("v1") "  addresses: [10.96.0.10]\n"
	    "  ports: [{number: 80, name: tcp}]\n"
	    "  endpoints: [{address: 203.0.113.7, network: }]\n",
	    "17:47: document 2, ServiceEntry default/echo: "
	    "spec.endpoints[0].network: found an empty value; expected a string"),
	BAD("dr-failover-no-to",
	    DR_MAX(5) "    loadBalancer: {localityLbSetting: {failover: "
	    "[{from: region1}]}}\n" SE_ONE_REMOTE,
	    "9:51: document 1, DestinationRule default/echo: spec.trafficPolicy."
	    "loadBalancer.localityLbSetting.failover[0]: missing 'to'"),
	BAD("se-empty-addresses",
	    DR_MAX(5) SE_HEAD("v1") "  addresses: []\n",
	    "15:14: document 2, ServiceEntry default/echo: spec.addresses: "
	    "empty; expected the service's VIPs"),
	BAD("se-no-hosts",
	    DR_MAX(5) "---\napiVersion: networking.istio.io/v1\n"
	    "kind: ServiceEntry\nmetadata: {name: echo}\nspec:\n"
	    "  addresses: [10.96.0.10]\n",
	    "14:3: document 2, ServiceEntry default/echo: spec.hosts: missing"),
	BAD("se-no-ports",
	    DR_MAX(5) SE_HEAD("v1") "  addresses: [10.96.0.10]\n",
	    "14:3: document 2, ServiceEntry default/echo: spec.ports: missing; "
	    "expected the service's ports"),
	BAD("se-port-no-name",
	    DR_MAX(5) SE_HEAD("v1") "  addresses: [10.96.0.10]\n"
	    "  ports: [{number: 80}]\n",
	    "16:11: document 2, ServiceEntry default/echo: spec.ports[0]: "
	    "missing 'name'; expected number and name"),
	BAD("se-port-out-of-range",
	    DR_MAX(5) SE_HEAD("v1") "  addresses: [10.96.0.10]\n"
	    "  ports: [{number: 65536, name: x}]\n",
	    "16:20: document 2, ServiceEntry default/echo: spec.ports[0].number: "
	    "65536 is not allowed; expected a whole number from 1 to 65535"),
	BAD("se-endpoint-locality-four-parts",
	    DR_MAX(5) SE_HEAD("v1") "  addresses: [10.96.0.10]\n"
	    "  ports: [{number: 80, name: tcp}]\n"
	    "  endpoints: [{address: 203.0.113.7, network: network2, "
	    "locality: a/b/c/d}]\n",
	    "17:67: document 2, ServiceEntry default/echo: "
	    "spec.endpoints[0].locality: 'a/b/c/d' has more than 3 parts; "
	    "expected region/zone/subzone, such as us-east1/us-east1-b"),
	BAD("se-endpoint-no-address",
	    DR_MAX(5) SE_HEAD("v1") "  addresses: [10.96.0.10]\n"
	    "  ports: [{number: 80, name: tcp}]\n"
	    "  endpoints: [{network: network2}]\n",
	    "17:15: document 2, ServiceEntry default/echo: "
	    "spec.endpoints[0].address: missing"),
	BAD("se-network-not-a-label",
	    DR_MAX(5) SE_HEAD("v1") "  addresses: [10.96.0.10]\n"
	    "  ports: [{number: 80, name: tcp}]\n"
	    "  endpoints: [{address: 203.0.113.7, network: Network_2}]\n",
	    "17:47: document 2, ServiceEntry default/echo: "
	    "spec.endpoints[0].network: 'Network_2' is not a DNS label, which a "
	    "spillway remote's name must be; pass --remote-name Network_2=NAME"),
	BAD("se-bad-gateway-address",
	    DR_MAX(5) SE_HEAD("v1") "  addresses: [10.96.0.10]\n"
	    "  ports: [{number: 80, name: tcp}]\n"
	    "  endpoints: [{address: 'unix:///sock', network: network2}]\n",
	    "17:25: document 2, ServiceEntry default/echo: "
	    "spec.endpoints[0].address: 'unix:///sock' is not a gateway spillway "
	    "can reach"),
	BAD("two-entries-one-vip",
	    DR_MAX(5) SE_ONE_REMOTE SE_ONE_REMOTE,
	    "25:15: document 3, ServiceEntry default/echo: spec.addresses[0]: "
	    "10.96.0.10 port 80 would be service echo.default.svc.cluster.local, "
	    "but service echo.default.svc.cluster.local (10.96.0.10 port 80) was "
	    "imported first"),
};

#define N_BAD (int)ARRAY_SIZE(bad_inputs)

/*
 * --strict: the first problem is the error, nothing is imported. Without:
 * the object is skipped with that problem as one warning, "LINE:COLUMN:
 * warning: CONTEXT: skipped: FIELD: ..." (a file that is not YAML is still
 * an error).
 */
static void test_bad(const void *arg)
{
	const struct bad_input *b = arg;
	struct sw_istio_input in = { "variant.yaml", b->yaml, strlen(b->yaml) };
	struct sw_istio_opts o = options();
	const char *context = strstr(b->msg, ": ") + 2;
	const char *field = strstr(context, ": ") + 2;
	char want[512];

	o.strict = true;
	CHECK(run_import(&o, &in, 1) == -EINVAL, "accepted:\n%s", b->yaml);
	snprintf(want, sizeof(want), "variant.yaml:%s", b->msg);
	CHECK(!strncmp(fx.e.msg, want, strlen(want)), "\n got: %s\nwant: %s",
	      fx.e.msg, want);
	CHECK_EQ(fx.got.n_services, 0);	/* nothing half-built */

	free(fx.notes);
	fx.notes = NULL;
	o.strict = false;
	snprintf(want, sizeof(want), "variant.yaml:%.*swarning: %.*sskipped: %s",
		 (int)(context - b->msg), b->msg, (int)(field - context),
		 context, field);
	if (run_import(&o, &in, 1) && strstr(b->name, "yaml-syntax"))
		return;
	check_notes(want);
	snprintf(want, sizeof(want), "%.*sskipped: ", (int)(field - context),
		 context);
	CHECK_EQ(count_lines(want), 1);	/* one warning for the object */
}

static void test_bad_options(const void *arg)
{
	static const char *const bad_iface[] = { "eth0:1" };
	struct sw_istio_input in = { "variant.yaml", DR_MAX(5) SE_ONE_REMOTE,
				     strlen(DR_MAX(5) SE_ONE_REMOTE) };
	struct sw_istio_opts o = options();

	(void)arg;
	o.cluster = "Cluster_1";
	CHECK(run_import(&o, &in, 1) == -EINVAL);
	CHECK(strstr(fx.e.msg, "--cluster 'Cluster_1' is not a DNS label"), "%s",
	      fx.e.msg);
	free(fx.notes);
	fx.notes = NULL;
	o = options();
	o.interfaces = bad_iface;
	CHECK(run_import(&o, &in, 1) == -EINVAL);
	CHECK(strstr(fx.e.msg, "--interface 'eth0:1' is not an interface name"),
	      "%s", fx.e.msg);
	free(fx.notes);
	fx.notes = NULL;
	o = options();
	o.metrics_listen = "localhost";
	CHECK(run_import(&o, &in, 1) == -EINVAL);
	CHECK(strstr(fx.e.msg, "--metrics 'localhost' is not an address and port"),
	      "%s", fx.e.msg);
}

static void test_bad_locality(const void *arg)
{
	static const struct {
		const char *locality, *why;
	} cases[] = {
		{ "", "has an empty part" },
		{ "region1//subzone1", "has an empty part" },
		{ "region1/", "has an empty part" },
		{ "region1/zone1/subzone1/rack1", "has more than 3 parts" },
		{ "region1/a-zone-name-that-goes-on-far-longer-than-any-dns-label-"
		  "may-go-in-any-cluster", "has a part longer than 63 characters" },
	};
	struct sw_istio_input in = { "variant.yaml", DR_MAX(5) SE_ONE_REMOTE,
				     strlen(DR_MAX(5) SE_ONE_REMOTE) };
	struct sw_istio_opts o = options();
	char want[256];

	(void)arg;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		o.locality = cases[i].locality;
		CHECK(run_import(&o, &in, 1) == -EINVAL, "accepted '%s'",
		      o.locality);
		snprintf(want, sizeof(want), "--locality '%s' %s; expected "
			 "REGION[/ZONE[/SUBZONE]], such as us-east1/us-east1-b",
			 cases[i].locality, cases[i].why);
		CHECK_STR(fx.e.msg, want);
		CHECK_EQ(fx.got.n_services, 0);
		free(fx.notes);
		fx.notes = NULL;
	}
	for (const char *const *ok = (const char *const[]){ "region1",
			"region1/zone1", "region1/zone1/subzone1", NULL }; *ok; ok++) {
		o.locality = *ok;
		CHECK(!run_import(&o, &in, 1), "%s: %s", *ok, fx.e.msg);
		sw_config_free(&fx.got);
		free(fx.notes);
		fx.notes = NULL;
	}
}

static void test_missing_file(const void *arg)
{
	static const char *const paths[] = { "tests/istio/echo-dr.yaml",
					     "tests/istio/no-such.yaml" };
	struct sw_istio_opts o = options();

	(void)arg;
	CHECK(sw_istio_import_files(&o, paths, 2, &fx.got, stderr, &fx.e) ==
	      -ENOENT);
	CHECK(strstr(fx.e.msg, "tests/istio/no-such.yaml: cannot open"), "%s",
	      fx.e.msg);
}

/* ------------------------------------------------------------------------ */

static const struct test_case other_cases[] = {
	{ "seed/files", test_seed_files, NULL },
	{ "seed/stdin-one-stream", test_seed_stdin, NULL },
	{ "cluster-dir", test_cluster_dir, NULL },
	{ "cluster-dir-strict", test_cluster_dir_strict, NULL },
	{ "api-versions", test_api_versions, NULL },
	{ "other-version-and-kinds-skipped", test_other_version_skipped, NULL },
	{ "port-level-settings", test_port_level, NULL },
	{ "port-level-only", test_port_level_only, NULL },
	{ "ipv6-and-dual-stack", test_ipv6_and_dual_stack, NULL },
	{ "no-addresses", test_no_addresses, NULL },
	{ "order/file", test_order_file, NULL },
	{ "order/failover", test_order_failover, NULL },
	{ "order/failover-locality-option", test_order_failover_locality_option, NULL },
	{ "order/failover-priority", test_order_failover_priority, NULL },
	{ "order/failover-priority-region", test_region_label, NULL },
	{ "multiple-documents", test_multiple_documents, NULL },
	{ "kubectl-list", test_kubectl_list, NULL },
	{ "tunnel-settings", test_tunnel_settings, NULL },
	{ "tunnel-settings-conflict", test_tunnel_settings_conflict, NULL },
	{ "consecutive-errors-as-istio", test_consecutive_errors, NULL },
	{ "remote-naming-and-ports", test_remote_naming_and_ports, NULL },
	{ "no-remote", test_no_remote, NULL },
	{ "short-host", test_short_host, NULL },
	{ "unpaired", test_unpaired, NULL },
	{ "nothing-to-import", test_nothing_to_import, NULL },
	{ "unsupported-fields-warned", test_unsupported_fields, NULL },
	{ "bad/options", test_bad_options, NULL },
	{ "bad/locality-option", test_bad_locality, NULL },
	{ "bad/missing-file", test_missing_file, NULL },
};

#define N_OTHER (int)ARRAY_SIZE(other_cases)

int main(int argc, char **argv)
{
	static struct test_case cases[N_OTHER + N_BAD + 1];
	static const struct test_suite suite = {
		.name = "istio",
		.setup = setup,
		.teardown = teardown,
		.cases = cases,
	};
	int n = 0;

	for (int i = 0; i < N_OTHER; i++)
		cases[n++] = other_cases[i];
	for (int i = 0; i < N_BAD; i++)
		cases[n++] = (struct test_case){ bad_inputs[i].name, test_bad,
						 &bad_inputs[i] };
	return test_main(&suite, argc, argv);
}
