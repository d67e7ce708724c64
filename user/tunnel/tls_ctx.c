// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The node's TLS (see tls.h): a certificate set loaded and checked as a
 * whole (tls_cert.c), then one SSL_CTX per role built from it by the same
 * function, with the checks of tls_verify.c on each.
 *
 * Trust is root-cert.pem and nothing else: no system store, no partial
 * chains, so an intermediate that leaks into a trust store cannot vouch for
 * a peer by itself. The peer's intermediates come from the chain it sends.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tunnel/tls.h"
#include "tunnel/tls_cert.h"
#include "tunnel/tls_verify.h"

struct sw_tls {
	SSL_CTX *client;
	SSL_CTX *server;
	char *identity;
	time_t not_after;
	int refs;		/* holders: the agent, each worker (atomic) */
};

/* ------------------------------------------------------------------------ */
/* The SSL_CTX, one builder for both roles */

static SSL_CTX *build_ctx(const struct tls_certs *s, bool server,
			  const char *const *allow, int n_allow,
			  struct sw_error *e)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	X509_STORE *store = ctx ? SSL_CTX_get_cert_store(ctx) : NULL;
	struct tls_allow_list *list = tls_allow_copy(allow, n_allow);
	const char *role = server ? "gateway" : "tunnel client";
	char why[256];
	bool ok;

	if (!ctx || !list)
		goto fail;
	ok = SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) &&
	     SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) &&
	     SSL_CTX_set_max_early_data(ctx, 0) &&
	     (!server || SSL_CTX_set_recv_max_early_data(ctx, 0)) &&
	     SSL_CTX_set1_groups_list(ctx, "X25519:P-256") &&
	     /* No resumption: every connection is verified against the list. */
	     SSL_CTX_set_num_tickets(ctx, 0) &&
	     SSL_CTX_use_certificate(ctx, sk_X509_value(s->chain, 0)) &&
	     SSL_CTX_set1_chain(ctx, s->intermediates) &&
	     SSL_CTX_use_PrivateKey(ctx, s->key) &&
	     SSL_CTX_check_private_key(ctx) &&
	     SSL_CTX_set_purpose(ctx, server ? X509_PURPOSE_SSL_CLIENT
					     : X509_PURPOSE_SSL_SERVER) &&
	     X509_VERIFY_PARAM_clear_flags(SSL_CTX_get0_param(ctx),
					   X509_V_FLAG_PARTIAL_CHAIN) &&
	     (server || !SSL_CTX_set_alpn_protos(ctx, tls_alpn_h2, sizeof(tls_alpn_h2)));
	for (int i = 0; ok && i < sk_X509_num(s->roots); i++)
		ok = X509_STORE_add_cert(store, sk_X509_value(s->roots, i));
	if (!ok)
		goto fail;
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* Send exactly cert-chain.pem, never a chain built from the store. */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
			   (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	SSL_CTX_set_verify_depth(ctx, TLS_MAX_VERIFY_DEPTH);
	if (!tls_verify_install(ctx, server, list))
		goto fail;
	return ctx;

fail:
	sw_fail(e, list ? -EINVAL : -ENOMEM, "%s: cannot set up TLS for the %s "
		"from %s, %s and %s: %s", s->chain_path, role, s->root_path,
		s->chain_path, s->key_path, tls_openssl_reason(why, sizeof(why)));
	free(list);
	SSL_CTX_free(ctx);
	return NULL;
}

struct sw_tls *sw_tls_load(const char *dir, const char *const *allow,
			   int n_allow, struct sw_error *e)
{
	struct tls_certs set = {};
	char identity[1024];
	struct sw_tls *t = NULL;
	time_t not_after = (time_t)-1;

	if (!tls_verify_ready()) {
		sw_fail(e, -ENOMEM, "%s: cannot set up OpenSSL (ex_data)", dir);
		return NULL;
	}
	if (n_allow < 0 || (n_allow && !allow))
		n_allow = 0;
	if (tls_certs_load(&set, dir, identity, sizeof(identity), &not_after, e))
		goto out;
	t = calloc(1, sizeof(*t));
	if (!t || !(t->identity = strdup(identity))) {
		sw_fail(e, -ENOMEM, "%s: out of memory", dir);
		goto fail;
	}
	t->not_after = not_after;
	t->refs = 1;
	t->client = build_ctx(&set, false, allow, n_allow, e);
	if (!t->client)
		goto fail;
	t->server = build_ctx(&set, true, allow, n_allow, e);
	if (!t->server)
		goto fail;
out:
	tls_certs_free(&set);
	return t;
fail:
	sw_tls_free(t);
	t = NULL;
	goto out;
}

struct sw_tls *sw_tls_ref(struct sw_tls *t)
{
	if (t)
		__atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
	return t;
}

void sw_tls_free(struct sw_tls *t)
{
	if (!t || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL))
		return;
	/* Connections hold their own references to the SSL_CTX. */
	SSL_CTX_free(t->client);
	SSL_CTX_free(t->server);
	free(t->identity);
	free(t);
}

const char *sw_tls_identity(const struct sw_tls *t)
{
	return t->identity;
}

time_t sw_tls_not_after(const struct sw_tls *t)
{
	return t->not_after;
}

/* ------------------------------------------------------------------------ */
/* Connections */

static SSL *new_conn(SSL_CTX *ctx, int fd, const char *role,
		     struct sw_error *e)
{
	SSL *ssl = SSL_new(ctx);
	char why[256];

	if (!ssl || !tls_note_attach(ssl)) {
		sw_fail(e, -ENOMEM, "cannot make a TLS %s connection: %s", role,
			tls_openssl_reason(why, sizeof(why)));
		SSL_free(ssl);
		return NULL;
	}
	if (!SSL_set_fd(ssl, fd)) {
		sw_fail(e, -EINVAL, "cannot make a TLS %s connection on fd %d: %s",
			role, fd, tls_openssl_reason(why, sizeof(why)));
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

/* SNI carries a host name, never an address (RFC 6066). */
static bool is_address(const char *s)
{
	struct in_addr a4;

	return strchr(s, ':') || inet_pton(AF_INET, s, &a4) == 1;
}

SSL *sw_tls_client(struct sw_tls *t, int fd, const char *sni,
		   struct sw_error *e)
{
	SSL *ssl = new_conn(t->client, fd, "client", e);
	char why[256];

	if (!ssl)
		return NULL;
	if (sni && sni[0] && !is_address(sni) &&
	    !SSL_set_tlsext_host_name(ssl, sni)) {
		sw_fail(e, -EINVAL, "'%s' cannot be sent as the TLS server name "
			"(SNI): %s", sni, tls_openssl_reason(why, sizeof(why)));
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_connect_state(ssl);
	return ssl;
}

SSL *sw_tls_server(struct sw_tls *t, int fd, struct sw_error *e)
{
	SSL *ssl = new_conn(t->server, fd, "server", e);

	if (ssl)
		SSL_set_accept_state(ssl);
	return ssl;
}
