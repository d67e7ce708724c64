// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The node's TLS with real OpenSSL and real handshakes. Every case makes its
 * certificates with scripts/gen-certs.sh in a directory of its own, then
 * runs a client SSL against a server SSL over a socketpair, both ends
 * non-blocking, pumped in turn: no network.
 *
 * Each refusal is checked from both sides: the label (and detail) of the
 * side that refuses, and what the refused side makes of the alert it gets.
 * Peers that spillway itself would never build (no certificate, TLS 1.2,
 * no ALPN, a leaf without its intermediate, an expired certificate) are
 * plain SSL_CTXs made here.
 *
 * SW_TEST_VERBOSE=1 prints every side's label and detail.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "harness.h"
#include "tunnel/tls.h"

#define CLIENT_ID "spiffe://cluster.local/ns/spillway/sa/spillway"
#define GATEWAY_ID "spiffe://cluster.local/ns/spillway/sa/gateway"
#define GATEWAY_DNS "gateway.example"
#define INTRUDER_ID "spiffe://cluster.local/ns/other/sa/intruder"

/* Rounds of the handshake pump: a TLS 1.3 handshake needs three or four. */
#define MAX_ROUNDS 64

static char script[PATH_MAX];	/* scripts/gen-certs.sh, absolute */

static const char *const allow_client[] = { CLIENT_ID };
static const char *const allow_gateway[] = { GATEWAY_ID };
static const char *const allow_intruder[] = { INTRUDER_ID };

/* One end of a handshake and how it ended. */
struct side {
	const char *name;
	SSL *ssl;
	int state;			/* 0 running, 1 done, -1 failed */
	const char *label;
	char detail[600];
};

/* Everything a case made; torn down after every case, failed or not. */
static struct {
	char dir[64];
	struct sw_tls *client_tls, *gateway_tls, *extra;
	SSL_CTX *raw;
	int fd[2];
	struct side c, s;
} fx;

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	fx.fd[0] = fx.fd[1] = -1;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/swt-tls-XXXXXX");
	if (!mkdtemp(fx.dir))
		test_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static void teardown(void)
{
	SSL_free(fx.c.ssl);
	SSL_free(fx.s.ssl);
	SSL_CTX_free(fx.raw);
	sw_tls_free(fx.client_tls);
	sw_tls_free(fx.gateway_tls);
	sw_tls_free(fx.extra);
	for (int i = 0; i < 2; i++)
		if (fx.fd[i] >= 0)
			close(fx.fd[i]);
	if (fx.dir[0])
		nftw(fx.dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	ERR_clear_error();
	memset(&fx, 0, sizeof(fx));
}

/* ------------------------------------------------------------------------ */
/* Files */

/* dir/rel; a few at a time are alive. */
static const char *path(const char *rel)
{
	static char buf[8][PATH_MAX];
	static unsigned int n;
	char *b = buf[n++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", fx.dir, rel);
	return b;
}

/* Run scripts/gen-certs.sh in the case's directory. */
static void gen(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void gen(const char *fmt, ...)
{
	char args[512], cmd[PATH_MAX + 1024], out[4096];
	size_t used = 0, n;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "cd '%s' && bash '%s' %s 2>&1", fx.dir,
		 script, args);
	p = popen(cmd, "r");
	CHECK(p, "popen: %s", strerror(errno));
	while ((n = fread(out + used, 1, sizeof(out) - 1 - used, p)) > 0)
		used += n;
	out[used] = '\0';
	st = pclose(p);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "gen-certs.sh %s: %s", args,
	      out);
}

static void write_file(const char *rel, const char *text)
{
	FILE *f = fopen(path(rel), "w");

	CHECK(f, "%s: %s", path(rel), strerror(errno));
	fputs(text, f);
	CHECK(!fclose(f), "%s: %s", path(rel), strerror(errno));
}

static void copy_file(const char *from, const char *to)
{
	char buf[16384];
	size_t n;
	FILE *f = fopen(path(from), "r");

	CHECK(f, "%s: %s", path(from), strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	write_file(to, buf);
}

/* The usual pair: client c1 and gateway gw under one root, in pki/. */
static void gen_pki(void)
{
	gen("pki c1");
	gen("--root pki --identity %s --dns %s pki gw", GATEWAY_ID, GATEWAY_DNS);
}

/* ------------------------------------------------------------------------ */
/* Loading */

static struct sw_tls *load(const char *rel, const char *const *allow, int n)
{
	struct sw_error e = {};
	struct sw_tls *t = sw_tls_load(path(rel), allow, n, &e);

	CHECK(t, "sw_tls_load(%s): %s", rel, e.msg);
	return t;
}

/* Loading rel must fail, naming file (under rel) and saying what. */
static void load_fails(const char *rel, const char *file, const char *what)
{
	struct sw_error e = {};
	char named[PATH_MAX];

	fx.extra = sw_tls_load(path(rel), allow_gateway, 1, &e);
	CHECK(!fx.extra, "%s loaded; expected '%s'", rel, what);
	snprintf(named, sizeof(named), "%s/%s", path(rel), file);
	CHECK(strstr(e.msg, named), "message does not name %s: %s", named, e.msg);
	CHECK(strstr(e.msg, what), "message lacks '%s': %s", what, e.msg);
	if (getenv("SW_TEST_VERBOSE"))
		fprintf(stderr, "    load: %s\n", e.msg);
}

/* ------------------------------------------------------------------------ */
/* Peers made here, outside sw_tls */

enum raw_cert { RAW_NO_CERT, RAW_CHAIN, RAW_LEAF_ONLY };

struct raw {
	bool server;
	const char *trust;		/* root-cert.pem to verify the peer with */
	const char *certs;		/* cert-chain.pem and key.pem */
	enum raw_cert cert;
	int max_version;		/* 0: TLS 1.3 */
	const char *alpn;		/* wire format; NULL: none */
	unsigned int alpn_len;
};

static SSL_CTX *raw_ctx(const struct raw *r)
{
	char file[256];
	SSL_CTX *ctx = SSL_CTX_new(r->server ? TLS_server_method() : TLS_client_method());

	CHECK(ctx);
	fx.raw = ctx;
	CHECK(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION));
	CHECK(SSL_CTX_set_max_proto_version(ctx, r->max_version ? r->max_version
								: TLS1_3_VERSION));
	snprintf(file, sizeof(file), "%s/root-cert.pem", r->trust);
	CHECK(SSL_CTX_load_verify_locations(ctx, path(file), NULL));
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* Send what we say, not a chain completed from the trust store. */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	snprintf(file, sizeof(file), "%s/cert-chain.pem", r->certs);
	if (r->cert == RAW_CHAIN)
		CHECK(SSL_CTX_use_certificate_chain_file(ctx, path(file)) == 1);
	else if (r->cert == RAW_LEAF_ONLY)
		CHECK(SSL_CTX_use_certificate_file(ctx, path(file),
						   SSL_FILETYPE_PEM) == 1);
	snprintf(file, sizeof(file), "%s/key.pem", r->certs);
	if (r->cert != RAW_NO_CERT)
		CHECK(SSL_CTX_use_PrivateKey_file(ctx, path(file),
						  SSL_FILETYPE_PEM) == 1);
	if (r->alpn)
		CHECK(!SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)r->alpn,
					       r->alpn_len));
	return ctx;
}

static SSL *raw_ssl(SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);

	CHECK(ssl && SSL_set_fd(ssl, fd));
	if (SSL_is_server(ssl))
		SSL_set_accept_state(ssl);
	else
		SSL_set_connect_state(ssl);
	return ssl;
}

/* ------------------------------------------------------------------------ */
/* Handshakes */

static void socket_pair(void)
{
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
			  fx.fd), "socketpair: %s", strerror(errno));
	fx.c.name = "client";
	fx.s.name = "gateway";
}

/* The tunnel client (fx.client_tls) and the gateway (fx.gateway_tls). */
static void connect_both(void)
{
	struct sw_error e = {};

	socket_pair();
	fx.c.ssl = sw_tls_client(fx.client_tls, fx.fd[0], GATEWAY_DNS, &e);
	CHECK(fx.c.ssl, "sw_tls_client: %s", e.msg);
	fx.s.ssl = sw_tls_server(fx.gateway_tls, fx.fd[1], &e);
	CHECK(fx.s.ssl, "sw_tls_server: %s", e.msg);
}

/* A client made here against the gateway. */
static void connect_raw_client(const struct raw *r)
{
	struct sw_error e = {};

	socket_pair();
	fx.c.ssl = raw_ssl(raw_ctx(r), fx.fd[0]);
	fx.s.ssl = sw_tls_server(fx.gateway_tls, fx.fd[1], &e);
	CHECK(fx.s.ssl, "sw_tls_server: %s", e.msg);
}

/* The tunnel client against a gateway made here. */
static void connect_raw_gateway(const struct raw *r)
{
	struct sw_error e = {};

	socket_pair();
	fx.c.ssl = sw_tls_client(fx.client_tls, fx.fd[0], GATEWAY_DNS, &e);
	CHECK(fx.c.ssl, "sw_tls_client: %s", e.msg);
	fx.s.ssl = raw_ssl(raw_ctx(r), fx.fd[1]);
}

/*
 * The error queue is per thread and both ends run in this one: the label
 * is taken right after the call that failed, before the other end runs.
 */
static void failed(struct side *x)
{
	x->state = -1;
	x->label = sw_tls_failure(x->ssl, x->detail, sizeof(x->detail));
}

static void step(struct side *x)
{
	int r = SSL_do_handshake(x->ssl), err;

	if (r == 1) {
		x->state = 1;
		return;
	}
	err = SSL_get_error(x->ssl, r);
	if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
		failed(x);
}

/*
 * In TLS 1.3 the client's handshake ends before the server has checked the
 * client's certificate: a refusal reaches the client on its next read.
 */
static void read_refusal(struct side *x)
{
	char buf[16];
	int r = SSL_read(x->ssl, buf, sizeof(buf)), err;

	if (r > 0)
		return;
	err = SSL_get_error(x->ssl, r);
	if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
		failed(x);
}

static void show(const struct side *x)
{
	if (getenv("SW_TEST_VERBOSE"))
		fprintf(stderr, "    %-7s %s%s%s%s\n", x->name,
			x->state == 1 ? "ok" : "failed: ", x->label ? x->label : "",
			x->label ? ": " : "", x->label ? x->detail : "");
}

static void handshake(void)
{
	for (int i = 0; i < MAX_ROUNDS && (!fx.c.state || !fx.s.state); i++) {
		if (!fx.c.state)
			step(&fx.c);
		if (!fx.s.state)
			step(&fx.s);
	}
	CHECK(fx.c.state && fx.s.state, "handshake unfinished after %d rounds",
	      MAX_ROUNDS);
	if (fx.c.state == 1 && fx.s.state == -1)
		read_refusal(&fx.c);
	if (fx.s.state == 1 && fx.c.state == -1)
		read_refusal(&fx.s);
	show(&fx.c);
	show(&fx.s);
}

static void expect_ok(const struct side *x)
{
	CHECK(x->state == 1, "%s failed: %s: %s", x->name, x->label, x->detail);
}

static void expect_refused(const struct side *x, const char *label,
			   const char *needle)
{
	CHECK(x->state == -1, "%s: the handshake succeeded, expected %s",
	      x->name, label);
	CHECK(!strcmp(x->label, label), "%s: '%s' (%s), expected '%s'", x->name,
	      x->label, x->detail, label);
	CHECK(!needle || strstr(x->detail, needle), "%s: detail '%s' lacks '%s'",
	      x->name, x->detail, needle);
}

static void expect_alpn_h2(SSL *ssl)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;

	SSL_get0_alpn_selected(ssl, &p, &n);
	CHECK(n == 2 && !memcmp(p, "h2", 2), "ALPN '%.*s'", (int)n,
	      p ? (const char *)p : "");
}

/* Bytes both ways over the established connection. */
static void exchange(SSL *from, SSL *to, const char *msg)
{
	char buf[64];
	int n = 0;

	CHECK(SSL_write(from, msg, strlen(msg)) == (int)strlen(msg));
	for (int i = 0; i < MAX_ROUNDS && n <= 0; i++)
		n = SSL_read(to, buf, sizeof(buf));
	CHECK(n == (int)strlen(msg) && !memcmp(buf, msg, n), "read %d bytes", n);
}

/* ------------------------------------------------------------------------ */
/* (a) Handshakes that succeed */

static void test_ok(const void *arg)
{
	char id[256];

	(void)arg;
	gen_pki();
	fx.client_tls = load("pki/c1", allow_gateway, 1);
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	CHECK(!strcmp(sw_tls_identity(fx.client_tls), CLIENT_ID), "%s",
	      sw_tls_identity(fx.client_tls));
	CHECK(!strcmp(sw_tls_identity(fx.gateway_tls), GATEWAY_ID), "%s",
	      sw_tls_identity(fx.gateway_tls));
	connect_both();
	handshake();
	expect_ok(&fx.c);
	expect_ok(&fx.s);
	CHECK_EQ(SSL_version(fx.c.ssl), TLS1_3_VERSION);
	CHECK_EQ(SSL_version(fx.s.ssl), TLS1_3_VERSION);
	expect_alpn_h2(fx.c.ssl);
	expect_alpn_h2(fx.s.ssl);
	CHECK_EQ(SSL_get_verify_result(fx.c.ssl), X509_V_OK);
	CHECK_EQ(SSL_get_verify_result(fx.s.ssl), X509_V_OK);
	CHECK(!(X509_VERIFY_PARAM_get_flags(SSL_get0_param(fx.c.ssl)) &
		X509_V_FLAG_PARTIAL_CHAIN), "the client trusts partial chains");
	CHECK(!(X509_VERIFY_PARAM_get_flags(SSL_get0_param(fx.s.ssl)) &
		X509_V_FLAG_PARTIAL_CHAIN), "the gateway trusts partial chains");
	sw_tls_peer_identity(fx.s.ssl, id, sizeof(id));
	CHECK(!strcmp(id, CLIENT_ID), "the gateway sees '%s'", id);
	sw_tls_peer_identity(fx.c.ssl, id, sizeof(id));
	CHECK(!strcmp(id, GATEWAY_ID), "the client sees '%s'", id);
	exchange(fx.c.ssl, fx.s.ssl, "ping");
	exchange(fx.s.ssl, fx.c.ssl, "pong");
}

/* A peer known by its DNS SAN alone. */
static void test_ok_dns_identity(const void *arg)
{
	static const char *const allow[] = { "gw.example.test" };
	char id[256];

	(void)arg;
	gen("pki c1");
	gen("--root pki --identity '' --dns gw.example.test pki gw");
	fx.client_tls = load("pki/c1", allow, 1);
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	CHECK(!strcmp(sw_tls_identity(fx.gateway_tls), "gw.example.test"));
	connect_both();
	handshake();
	expect_ok(&fx.c);
	expect_ok(&fx.s);
	sw_tls_peer_identity(fx.c.ssl, id, sizeof(id));
	CHECK(!strcmp(id, "gw.example.test"), "the client sees '%s'", id);
}

/*
 * Any URI or DNS SAN may match, not only the first; the name that matched
 * is the peer's identity from then on.
 */
static void test_ok_any_san(const void *arg)
{
	static const char *const allow[] = { "nobody.example", GATEWAY_DNS };
	char id[256];

	(void)arg;
	gen_pki();
	fx.client_tls = load("pki/c1", allow, 2);
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	connect_both();
	handshake();
	expect_ok(&fx.c);
	expect_ok(&fx.s);
	sw_tls_peer_identity(fx.c.ssl, id, sizeof(id));
	CHECK(!strcmp(id, GATEWAY_DNS), "the client sees '%s'", id);
}

/* Connections outlive the set they were made from (a reload frees it). */
static void test_ok_after_free(const void *arg)
{
	(void)arg;
	gen_pki();
	fx.client_tls = load("pki/c1", allow_gateway, 1);
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	connect_both();
	sw_tls_free(fx.client_tls);
	sw_tls_free(fx.gateway_tls);
	fx.client_tls = fx.gateway_tls = NULL;
	handshake();
	expect_ok(&fx.c);
	expect_ok(&fx.s);
	exchange(fx.c.ssl, fx.s.ssl, "ping");
}

/* The allow list also survives the set, and still refuses. */
static void test_refuse_after_free(const void *arg)
{
	(void)arg;
	gen_pki();
	fx.client_tls = load("pki/c1", allow_gateway, 1);
	fx.gateway_tls = load("pki/gw", allow_intruder, 1);
	connect_both();
	sw_tls_free(fx.gateway_tls);
	fx.gateway_tls = NULL;
	handshake();
	expect_refused(&fx.s, "not_allowed", INTRUDER_ID);
}

/* ------------------------------------------------------------------------ */
/* (b) - (g), (i), (j): handshakes that fail, seen from both sides */

static void test_no_client_cert(const void *arg)
{
	(void)arg;
	gen_pki();
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	connect_raw_client(&(struct raw){ .trust = "pki", .cert = RAW_NO_CERT,
					  .alpn = "\2h2", .alpn_len = 3 });
	handshake();
	expect_refused(&fx.s, "no_client_cert", "sent no certificate");
	expect_refused(&fx.c, "no_client_cert", NULL);
}

static void test_unknown_ca_client(const void *arg)
{
	(void)arg;
	gen_pki();
	gen("other c1");
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	/* Trusts the gateway, but its own chain is from another root. */
	connect_raw_client(&(struct raw){ .trust = "pki", .certs = "other/c1",
					  .cert = RAW_CHAIN, .alpn = "\2h2",
					  .alpn_len = 3 });
	handshake();
	expect_refused(&fx.s, "unknown_ca", "does not chain");
	CHECK(strstr(fx.s.detail, CLIENT_ID), "%s", fx.s.detail);
	expect_refused(&fx.c, "unknown_ca", NULL);
}

static void test_unknown_ca_gateway(const void *arg)
{
	(void)arg;
	gen_pki();
	gen("--identity %s other gw", GATEWAY_ID);
	fx.client_tls = load("pki/c1", allow_gateway, 1);
	fx.gateway_tls = load("other/gw", allow_client, 1);
	connect_both();
	handshake();
	expect_refused(&fx.c, "unknown_ca", GATEWAY_ID);
	expect_refused(&fx.s, "unknown_ca", NULL);
}

static void test_expired_client(const void *arg)
{
	(void)arg;
	gen_pki();
	gen("--root pki --expired pki old");
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	connect_raw_client(&(struct raw){ .trust = "pki", .certs = "pki/old",
					  .cert = RAW_CHAIN, .alpn = "\2h2",
					  .alpn_len = 3 });
	handshake();
	expect_refused(&fx.s, "expired", "expired on");
	CHECK(strstr(fx.s.detail, "CN=old"), "%s", fx.s.detail);
	expect_refused(&fx.c, "expired", NULL);
}

static void test_expired_gateway(const void *arg)
{
	(void)arg;
	gen_pki();
	gen("--root pki --expired --identity %s pki oldgw", GATEWAY_ID);
	fx.client_tls = load("pki/c1", allow_gateway, 1);
	connect_raw_gateway(&(struct raw){ .server = true, .trust = "pki",
					   .certs = "pki/oldgw", .cert = RAW_CHAIN });
	handshake();
	expect_refused(&fx.c, "expired", "expired on");
}

static void test_not_allowed_client(const void *arg)
{
	(void)arg;
	gen_pki();
	gen("--root pki --identity %s pki intruder", INTRUDER_ID);
	fx.client_tls = load("pki/intruder", allow_gateway, 1);
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	connect_both();
	handshake();
	expect_refused(&fx.s, "not_allowed", INTRUDER_ID);
	CHECK(strstr(fx.s.detail, "allow list (" CLIENT_ID ")"), "%s", fx.s.detail);
	expect_refused(&fx.c, "not_allowed", NULL);
}

static void test_not_allowed_gateway(const void *arg)
{
	(void)arg;
	gen_pki();
	fx.client_tls = load("pki/c1", allow_intruder, 1);
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	connect_both();
	handshake();
	expect_refused(&fx.c, "not_allowed", GATEWAY_ID);
	CHECK(strstr(fx.c.detail, INTRUDER_ID), "%s", fx.c.detail);
	expect_refused(&fx.s, "not_allowed", NULL);
}

/* A certificate without SAN has no identity to allow. */
static void test_no_san_client(const void *arg)
{
	(void)arg;
	gen_pki();
	gen("--root pki --no-san pki bare");
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	connect_raw_client(&(struct raw){ .trust = "pki", .certs = "pki/bare",
					  .cert = RAW_CHAIN, .alpn = "\2h2",
					  .alpn_len = 3 });
	handshake();
	expect_refused(&fx.s, "not_allowed", "no URI or DNS SAN");
	CHECK(strstr(fx.s.detail, "CN=bare"), "%s", fx.s.detail);
	expect_refused(&fx.c, "not_allowed", NULL);
}

static void test_tls12_client(const void *arg)
{
	(void)arg;
	gen_pki();
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	connect_raw_client(&(struct raw){ .trust = "pki", .certs = "pki/c1",
					  .cert = RAW_CHAIN,
					  .max_version = TLS1_2_VERSION,
					  .alpn = "\2h2", .alpn_len = 3 });
	handshake();
	expect_refused(&fx.s, "protocol", "TLS 1.3");
	expect_refused(&fx.c, "protocol", NULL);
}

static void test_no_alpn(const void *arg)
{
	(void)arg;
	gen_pki();
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	connect_raw_client(&(struct raw){ .trust = "pki", .certs = "pki/c1",
					  .cert = RAW_CHAIN });
	handshake();
	expect_refused(&fx.s, "no_alpn", "offered no ALPN");
	expect_refused(&fx.c, "no_alpn", NULL);
}

static void test_other_alpn(const void *arg)
{
	(void)arg;
	gen_pki();
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	connect_raw_client(&(struct raw){ .trust = "pki", .certs = "pki/c1",
					  .cert = RAW_CHAIN,
					  .alpn = "\10http/1.1\6spdy/3",
					  .alpn_len = 16 });
	handshake();
	expect_refused(&fx.s, "no_alpn", "'http/1.1', 'spdy/3'");
	expect_refused(&fx.c, "no_alpn", NULL);
}

/* The client insists on h2 too: a gateway that ignores ALPN is refused. */
static void test_gateway_without_alpn(const void *arg)
{
	(void)arg;
	gen_pki();
	fx.client_tls = load("pki/c1", allow_gateway, 1);
	connect_raw_gateway(&(struct raw){ .server = true, .trust = "pki",
					   .certs = "pki/gw", .cert = RAW_CHAIN });
	handshake();
	expect_refused(&fx.c, "no_alpn", "chose no ALPN");
	CHECK(fx.s.state == -1, "the gateway's handshake succeeded");
}

static void test_empty_allow_gateway(const void *arg)
{
	(void)arg;
	gen_pki();
	fx.client_tls = load("pki/c1", allow_gateway, 1);
	fx.gateway_tls = load("pki/gw", NULL, 0);
	connect_both();
	handshake();
	expect_refused(&fx.s, "not_allowed", "allow list is empty");
	expect_refused(&fx.c, "not_allowed", NULL);
}

static void test_empty_allow_client(const void *arg)
{
	static const char *const blank[] = { "", NULL };

	(void)arg;
	gen_pki();
	/* Blank and NULL entries allow nobody either. */
	fx.client_tls = load("pki/c1", blank, 2);
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	connect_both();
	handshake();
	expect_refused(&fx.c, "not_allowed", "allow list is empty");
	expect_refused(&fx.s, "not_allowed", NULL);
}

/* A leaf without its intermediate: no partial-chain trust. */
static void test_partial_chain(const void *arg)
{
	(void)arg;
	gen_pki();
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	connect_raw_client(&(struct raw){ .trust = "pki", .certs = "pki/c1",
					  .cert = RAW_LEAF_ONLY, .alpn = "\2h2",
					  .alpn_len = 3 });
	handshake();
	expect_refused(&fx.s, "unknown_ca", "does not chain");
	expect_refused(&fx.c, "unknown_ca", NULL);
}

/* A peer whose chain is complete but whose root is the intermediate. */
static void test_partial_chain_anchor(const void *arg)
{
	(void)arg;
	gen_pki();
	fx.gateway_tls = load("pki/gw", allow_client, 1);
	/* The gateway's intermediate is all the client would need as anchor. */
	copy_file("pki/gw/ca-cert.pem", "pki/c1/root-cert.pem");
	load_fails("pki/c1", "cert-chain.pem", "does not chain to");
}

/* ------------------------------------------------------------------------ */
/* (h), (k): loading */

static void test_load_not_after(const void *arg)
{
	time_t when = time(NULL) + 10 * 86400;

	(void)arg;
	gen("--leaf-not-after @%lld pki c1", (long long)when);
	fx.client_tls = load("pki/c1", allow_gateway, 1);
	CHECK_EQ(sw_tls_not_after(fx.client_tls), when);
}

static void test_load_not_after_days(const void *arg)
{
	time_t now = time(NULL), got;

	(void)arg;
	gen("--days 30 pki c1");
	fx.client_tls = load("pki/c1", allow_gateway, 1);
	got = sw_tls_not_after(fx.client_tls);
	CHECK(got >= now + 30 * 86400 - 5 && got <= now + 30 * 86400 + 300,
	      "not_after %lld, now %lld", (long long)got, (long long)now);
}

static void test_load_key_mismatch(const void *arg)
{
	(void)arg;
	gen_pki();
	copy_file("pki/gw/key.pem", "pki/c1/key.pem");
	load_fails("pki/c1", "key.pem", "does not match the certificate in");
}

static void test_load_wrong_root(const void *arg)
{
	(void)arg;
	gen_pki();
	gen("other x");
	copy_file("other/root-cert.pem", "pki/c1/root-cert.pem");
	load_fails("pki/c1", "cert-chain.pem", "does not chain to");
	load_fails("pki/c1", "root-cert.pem", "unable to get local issuer");
}

static void test_load_expired(const void *arg)
{
	(void)arg;
	gen("--expired pki old");
	load_fails("pki/old", "cert-chain.pem", "expired on");
}

static void test_load_not_yet_valid(const void *arg)
{
	(void)arg;
	gen("--leaf-not-before '+1 day' --leaf-not-after '+2 days' pki early");
	load_fails("pki/early", "cert-chain.pem", "is not valid before");
}

static void test_load_missing(const void *arg)
{
	(void)arg;
	gen_pki();
	CHECK(!unlink(path("pki/c1/key.pem")));
	load_fails("pki/c1", "key.pem", "No such file");
	CHECK(!unlink(path("pki/gw/root-cert.pem")));
	load_fails("pki/gw", "root-cert.pem", "cannot open");
	load_fails("nothing-here", "root-cert.pem", "cannot open");
}

static void test_load_garbage(const void *arg)
{
	(void)arg;
	gen_pki();
	write_file("pki/c1/cert-chain.pem", "hello\n");
	load_fails("pki/c1", "cert-chain.pem", "holds no certificate");
	write_file("pki/gw/key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n"
		   "-----END PRIVATE KEY-----\n");
	load_fails("pki/gw", "key.pem", "holds no private key");
	copy_file("pki/root-cert.pem", "pki/gw/cert-chain.pem");
	write_file("pki/gw/root-cert.pem", "");
	load_fails("pki/gw", "root-cert.pem", "holds no certificate");
}

/* A good certificate, then a broken one. */
static void test_load_truncated(const void *arg)
{
	char chain[16384];
	FILE *f;
	size_t n;

	(void)arg;
	gen("pki c1");
	f = fopen(path("pki/c1/cert-chain.pem"), "r");
	CHECK(f);
	n = fread(chain, 1, sizeof(chain) - 1, f);
	fclose(f);
	chain[n] = '\0';
	/* Cut the second certificate's base64 in the middle. */
	CHECK(strstr(chain + 30, "-----BEGIN"));
	strcpy(strstr(chain + 30, "-----BEGIN") + 100, "\n-----END CERTIFICATE-----\n");
	write_file("pki/c1/cert-chain.pem", chain);
	load_fails("pki/c1", "cert-chain.pem", "certificate 2 cannot be read");
}

static void test_load_no_san(const void *arg)
{
	(void)arg;
	gen("--no-san pki bare");
	load_fails("pki/bare", "cert-chain.pem", "has no URI or DNS subjectAltName");
}

static void test_load_encrypted_key(const void *arg)
{
	char cmd[PATH_MAX * 2 + 128];

	(void)arg;
	gen("pki c1");
	snprintf(cmd, sizeof(cmd), "openssl pkey -in '%s' -aes256 -passout pass:x "
		 "-out '%s' 2>/dev/null", path("pki/c1/key.pem"),
		 path("pki/c1/key.pem.enc"));
	CHECK(!system(cmd), "%s", cmd);
	CHECK(!rename(path("pki/c1/key.pem.enc"), path("pki/c1/key.pem")));
	load_fails("pki/c1", "key.pem", "is encrypted");
}

/* ------------------------------------------------------------------------ */

static const struct test_case cases[] = {
	{ "handshake/ok", test_ok, NULL },
	{ "handshake/dns-identity", test_ok_dns_identity, NULL },
	{ "handshake/any-san", test_ok_any_san, NULL },
	{ "handshake/after-free", test_ok_after_free, NULL },
	{ "refuse/after-free", test_refuse_after_free, NULL },
	{ "refuse/no-client-cert", test_no_client_cert, NULL },
	{ "refuse/unknown-ca/client", test_unknown_ca_client, NULL },
	{ "refuse/unknown-ca/gateway", test_unknown_ca_gateway, NULL },
	{ "refuse/expired/client", test_expired_client, NULL },
	{ "refuse/expired/gateway", test_expired_gateway, NULL },
	{ "refuse/not-allowed/client", test_not_allowed_client, NULL },
	{ "refuse/not-allowed/gateway", test_not_allowed_gateway, NULL },
	{ "refuse/not-allowed/no-san", test_no_san_client, NULL },
	{ "refuse/tls12-client", test_tls12_client, NULL },
	{ "refuse/no-alpn", test_no_alpn, NULL },
	{ "refuse/other-alpn", test_other_alpn, NULL },
	{ "refuse/gateway-without-alpn", test_gateway_without_alpn, NULL },
	{ "refuse/empty-allow/gateway", test_empty_allow_gateway, NULL },
	{ "refuse/empty-allow/client", test_empty_allow_client, NULL },
	{ "refuse/partial-chain", test_partial_chain, NULL },
	{ "load/partial-chain-anchor", test_partial_chain_anchor, NULL },
	{ "load/not-after", test_load_not_after, NULL },
	{ "load/not-after-days", test_load_not_after_days, NULL },
	{ "load/key-mismatch", test_load_key_mismatch, NULL },
	{ "load/wrong-root", test_load_wrong_root, NULL },
	{ "load/expired", test_load_expired, NULL },
	{ "load/not-yet-valid", test_load_not_yet_valid, NULL },
	{ "load/missing", test_load_missing, NULL },
	{ "load/garbage", test_load_garbage, NULL },
	{ "load/truncated", test_load_truncated, NULL },
	{ "load/no-san", test_load_no_san, NULL },
	{ "load/encrypted-key", test_load_encrypted_key, NULL },
	{ 0 }
};

static const struct test_suite suite = {
	.name = "tls",
	.setup = setup,
	.teardown = teardown,
	.cases = cases,
};

/* From the repository root (make test), else next to build/tests/. */
static int find_script(const char *argv0)
{
	char exe[PATH_MAX], guess[PATH_MAX + 64];
	ssize_t n;

	if (realpath("scripts/gen-certs.sh", script))
		return 0;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(guess, sizeof(guess), "%s/../../scripts/gen-certs.sh", exe);
		if (realpath(guess, script))
			return 0;
	}
	fprintf(stderr, "%s: cannot find scripts/gen-certs.sh; run from the "
		"repository root\n", argv0);
	return 1;
}

int main(int argc, char **argv)
{
	if (find_script(argv[0]))
		return 1;
	return test_main(&suite, argc, argv);
}
