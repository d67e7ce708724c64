// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The node's TLS (see tls.h): a certificate set loaded and checked as a
 * whole, then one SSL_CTX per role built from it by the same function.
 *
 * Trust is root-cert.pem and nothing else: no system store, no partial
 * chains, so an intermediate that leaks into a trust store cannot vouch for
 * a peer by itself. The peer's intermediates come from the chain it sends.
 *
 * The allow list is enforced inside certificate verification (a
 * cert_verify_callback that runs the normal verification, then the
 * identity check), so a peer that is not allowed never completes a
 * handshake. The list belongs to each SSL_CTX (ex_data, freed with it):
 * connections made before a reload keep the list they were made with, even
 * after sw_tls_free.
 *
 * Why a handshake failed is often known only inside a callback (the peer's
 * identity, the ALPN it offered): the callback leaves a note on the SSL
 * (ex_data, freed with it) that sw_tls_failure reads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/util.h"
#include "tunnel/tls.h"

#define ROOT_FILE "root-cert.pem"
#define CHAIN_FILE "cert-chain.pem"
#define KEY_FILE "key.pem"

/*
 * Intermediates allowed between a leaf and the root: Istio's layout has
 * one; a PKI may add a level above the clusters' intermediates.
 */
#define MAX_VERIFY_DEPTH 2

/* Enough of an identity or a subject to recognise it in a log line. */
#define NAME_MAX_SHOWN 256

/* ALPN in wire format: length-prefixed names. */
static const unsigned char alpn_h2[] = { 2, 'h', '2' };

struct sw_tls {
	SSL_CTX *client;
	SSL_CTX *server;
	char *identity;
	time_t not_after;
};

/* Owned by an SSL_CTX: one allocation, the names follow the pointers. */
struct allow_list {
	int n;
	const char *names[];
};

/* Owned by an SSL: what our callbacks saw, for sw_tls_failure. */
struct conn_note {
	const char *label;		/* set when one of our checks failed */
	char detail[512];
	char peer[NAME_MAX_SHOWN];	/* the identity in the peer's leaf */
	char where[NAME_MAX_SHOWN];	/* the certificate verification stopped at */
	char when[40];			/* its notAfter, or notBefore */
};

/* What sw_tls_load reads, before anything is built from it. */
struct cert_set {
	char root_path[PATH_MAX];
	char chain_path[PATH_MAX];
	char key_path[PATH_MAX];
	STACK_OF(X509) *roots;
	STACK_OF(X509) *chain;		/* the leaf first */
	STACK_OF(X509) *intermediates;	/* the chain without the leaf */
	EVP_PKEY *key;
};

/* ------------------------------------------------------------------------ */
/* ex_data: the allow list on each SSL_CTX, the note on each SSL */

static CRYPTO_ONCE index_once = CRYPTO_ONCE_STATIC_INIT;
static int allow_index = -1;
static int note_index = -1;

static void free_ex(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
		    long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	free(ptr);
}

static void make_indexes(void)
{
	allow_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_ex);
	note_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_ex);
}

static bool indexes_ready(void)
{
	return CRYPTO_THREAD_run_once(&index_once, make_indexes) &&
	       allow_index >= 0 && note_index >= 0;
}

static struct conn_note *note_of(const SSL *ssl)
{
	return ssl && note_index >= 0 ? SSL_get_ex_data(ssl, note_index) : NULL;
}

static void note_failure(SSL *ssl, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note_failure(SSL *ssl, const char *label, const char *fmt, ...)
{
	struct conn_note *note = note_of(ssl);
	va_list ap;

	if (!note)
		return;
	note->label = label;
	va_start(ap, fmt);
	vsnprintf(note->detail, sizeof(note->detail), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* Certificates: names, times, identities */

static void describe(X509 *x, char *buf, size_t len)
{
	if (!x || !X509_NAME_oneline(X509_get_subject_name(x), buf, (int)len))
		snprintf(buf, len, "(unnamed)");
}

static time_t time_of(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return (time_t)-1;
	return timegm(&tm);
}

static void format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == (time_t)-1 || !gmtime_r(&t, &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "(unreadable time)");
}

/* The text of a URI or DNS SAN; false for other kinds and embedded NULs. */
static bool san_text(const GENERAL_NAME *g, int type, const char **s, int *n)
{
	const ASN1_IA5STRING *v;

	if (g->type != type)
		return false;
	v = type == GEN_URI ? g->d.uniformResourceIdentifier : g->d.dNSName;
	*s = (const char *)ASN1_STRING_get0_data(v);
	*n = ASN1_STRING_length(v);
	return *s && *n > 0 && !memchr(*s, '\0', *n);
}

/* The identity: the first URI SAN, else the first DNS SAN; "" if none. */
static bool identity_of(X509 *x, char *buf, size_t len)
{
	static const int order[] = { GEN_URI, GEN_DNS };
	GENERAL_NAMES *names;
	bool found = false;

	if (len)
		buf[0] = '\0';
	names = x ? X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL) : NULL;
	for (size_t k = 0; names && !found && k < 2; k++) {
		for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
			const char *s;
			int n;

			if (san_text(sk_GENERAL_NAME_value(names, i), order[k], &s, &n)) {
				snprintf(buf, len, "%.*s", n, s);
				found = true;
				break;
			}
		}
	}
	GENERAL_NAMES_free(names);
	return found;
}

/*
 * Exact match of any URI or DNS SAN: entries with a scheme (':') against
 * URI SANs only, the others against DNS SANs only, so that no name can
 * pass as the other kind.
 */
static bool is_allowed(const struct allow_list *allow, X509 *x)
{
	GENERAL_NAMES *names;
	bool ok = false;

	if (!allow || !allow->n)
		return false;
	names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; names && !ok && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);

		for (int k = 0; !ok && k < allow->n; k++) {
			const char *want = allow->names[k], *s;
			int type = strchr(want, ':') ? GEN_URI : GEN_DNS, n;

			ok = san_text(g, type, &s, &n) && (size_t)n == strlen(want) &&
			     !memcmp(s, want, n);
		}
	}
	GENERAL_NAMES_free(names);
	return ok;
}

static void format_allow(const struct allow_list *allow, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; allow && i < allow->n; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 allow->names[i]);

		if (n < 0 || (size_t)n >= len - used) {
			/* Say the list goes on rather than cut a name. */
			buf[used] = '\0';
			snprintf(buf + used, len - used, i ? ", ..." : "...");
			return;
		}
		used += n;
	}
}

/* "'h2', 'http/1.1'" from an ALPN list in wire format. */
static void format_alpn(const unsigned char *p, unsigned int len, char *buf,
			size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < len;) {
		unsigned int n = p[i++];
		char name[256];
		int w;

		if (n > len - i)
			break;
		/* The peer's bytes go into a log line: printable ASCII only. */
		for (unsigned int k = 0; k < n; k++)
			name[k] = p[i + k] >= 0x20 && p[i + k] < 0x7f ? p[i + k] : '?';
		name[n] = '\0';
		w = snprintf(buf + used, size - used, "%s'%s'", used ? ", " : "",
			     name);
		if (w < 0 || (size_t)w >= size - used)
			break;
		used += w;
		i += n;
	}
}

/* ------------------------------------------------------------------------ */
/* Callbacks: the checks made during each handshake */

/*
 * Client: the gateway must have chosen h2. A client cannot refuse a
 * handshake for its ALPN outcome anywhere else, and this runs after it is
 * known: EncryptedExtensions, with the ALPN, come before the Certificate.
 */
static bool chose_h2(SSL *ssl, const char *seen)
{
	const unsigned char *p = NULL;
	unsigned char wire[256];
	unsigned int n = 0;
	char got[128];

	SSL_get0_alpn_selected(ssl, &p, &n);
	if (n == alpn_h2[0] && !memcmp(p, alpn_h2 + 1, n))
		return true;
	wire[0] = (unsigned char)n;
	if (n)
		memcpy(wire + 1, p, n);
	format_alpn(wire, n ? n + 1 : 0, got, sizeof(got));
	note_failure(ssl, "no_alpn", "the gateway %s chose %s%s; the tunnel "
		     "speaks only 'h2' (HTTP/2)", seen,
		     n ? "ALPN " : "no ALPN protocol", got);
	return false;
}

/*
 * Both roles: the normal chain verification (root-cert.pem only, purpose
 * set per role), then the allow list, then (client) the ALPN the gateway
 * chose. Failing here sends the peer an alert and fails the handshake.
 */
static int verify_peer(X509_STORE_CTX *x, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct conn_note *note = note_of(ssl);
	const struct allow_list *allow = NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(x);
	char seen[NAME_MAX_SHOWN], list[256], subject[NAME_MAX_SHOWN];

	(void)arg;
	if (!ssl) {
		X509_STORE_CTX_set_error(x, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	allow = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), allow_index);
	identity_of(leaf, seen, sizeof(seen));
	if (note)
		snprintf(note->peer, sizeof(note->peer), "%s", seen);

	if (X509_verify_cert(x) <= 0) {
		X509 *at = X509_STORE_CTX_get_current_cert(x);
		int err = X509_STORE_CTX_get_error(x);

		if (note) {
			describe(at ? at : leaf, note->where, sizeof(note->where));
			note->when[0] = '\0';
			if (at && err == X509_V_ERR_CERT_HAS_EXPIRED)
				format_time(time_of(X509_get0_notAfter(at)),
					    note->when, sizeof(note->when));
			else if (at && err == X509_V_ERR_CERT_NOT_YET_VALID)
				format_time(time_of(X509_get0_notBefore(at)),
					    note->when, sizeof(note->when));
		}
		return 0;
	}

	if (!is_allowed(allow, leaf)) {
		format_allow(allow, list, sizeof(list));
		describe(leaf, subject, sizeof(subject));
		if (!allow || !allow->n)
			note_failure(ssl, "not_allowed", "the peer %s (%s) is refused: "
				     "the allow list is empty, so no peer is allowed "
				     "(tls.allow_identities)",
				     seen[0] ? seen : "(no identity)", subject);
		else if (!seen[0])
			note_failure(ssl, "not_allowed", "the peer's certificate %s has "
				     "no URI or DNS SAN to match the allow list (%s)",
				     subject, list);
		else
			note_failure(ssl, "not_allowed", "the peer's identity '%s' "
				     "(%s) is not in the allow list (%s)", seen,
				     subject, list);
		goto refuse;
	}

	if (!SSL_is_server(ssl) && !chose_h2(ssl, seen))
		goto refuse;
	return 1;

refuse:
	X509_STORE_CTX_set_error_depth(x, 0);
	X509_STORE_CTX_set_current_cert(x, leaf);
	X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

/* Does the ClientHello offer TLS 1.3 (supported_versions)? */
static bool offers_tls13(SSL *ssl)
{
	const unsigned char *p;
	size_t len;

	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &p, &len) ||
	    len < 1 || p[0] != len - 1)
		return false;
	for (size_t i = 1; i + 1 < len; i += 2)
		if (p[i] == (TLS1_3_VERSION >> 8) && p[i + 1] == (TLS1_3_VERSION & 0xff))
			return true;
	return false;
}

/*
 * Server: a client that offers no ALPN at all never reaches the ALPN
 * select callback, and the handshake would succeed without h2. Refuse it
 * here, unless it does not speak TLS 1.3 either: version negotiation then
 * fails it with the more telling reason.
 */
static int require_alpn(SSL *ssl, int *alert, void *arg)
{
	const unsigned char *p;
	size_t len;

	(void)arg;
	if (SSL_client_hello_get0_ext(ssl,
			TLSEXT_TYPE_application_layer_protocol_negotiation,
			&p, &len) || !offers_tls13(ssl))
		return SSL_CLIENT_HELLO_SUCCESS;
	note_failure(ssl, "no_alpn", "the client offered no ALPN protocol; the "
		     "tunnel speaks only 'h2' (HTTP/2)");
	*alert = SSL_AD_NO_APPLICATION_PROTOCOL;
	return SSL_CLIENT_HELLO_ERROR;
}

/* Server: h2 or nothing (a no_application_protocol alert). */
static int select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		     const unsigned char *in, unsigned int inlen, void *arg)
{
	char offered[128];

	(void)arg;
	for (unsigned int i = 0; i < inlen;) {
		unsigned int n = in[i++];

		if (n > inlen - i)
			break;
		if (n == alpn_h2[0] && !memcmp(in + i, alpn_h2 + 1, n)) {
			*out = alpn_h2 + 1;
			*outlen = alpn_h2[0];
			return SSL_TLSEXT_ERR_OK;
		}
		i += n;
	}
	format_alpn(in, inlen, offered, sizeof(offered));
	note_failure(ssl, "no_alpn", "the client offered ALPN %s; the tunnel "
		     "speaks only 'h2' (HTTP/2)", offered[0] ? offered : "(none)");
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* ------------------------------------------------------------------------ */
/* Loading */

/* The newest OpenSSL error as text, and a clean queue for the next step. */
static const char *openssl_reason(char *buf, size_t len)
{
	unsigned long err = ERR_peek_last_error();

	if (err)
		ERR_error_string_n(err, buf, len);
	else
		snprintf(buf, len, "unknown error");
	ERR_clear_error();
	return buf;
}

static int join_path(char *buf, const char *dir, const char *file,
		     struct sw_error *e)
{
	size_t n = strlen(dir);
	bool slash = n && dir[n - 1] == '/';

	if ((size_t)snprintf(buf, PATH_MAX, "%s%s%s", dir, slash ? "" : "/",
			     file) >= PATH_MAX)
		return sw_fail(e, -ENAMETOOLONG, "%s: the TLS directory's path "
			       "is too long", dir);
	return 0;
}

static FILE *open_file(const char *path, const char *what, struct sw_error *e,
		       int *err)
{
	FILE *f = fopen(path, "r");

	if (!f)
		*err = sw_fail(e, -errno, "cannot open %s: %s; the TLS directory "
			       "must hold root-cert.pem, cert-chain.pem and key.pem "
			       "(%s)", path, strerror(errno), what);
	return f;
}

/* Every certificate in a PEM file, in order; at least one. */
static int read_certs(const char *path, const char *what, STACK_OF(X509) **out,
		      struct sw_error *e)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	unsigned long last;
	char why[256];
	X509 *x;
	int err = 0;
	FILE *f;

	if (!certs)
		return sw_fail(e, -ENOMEM, "%s: out of memory", path);
	f = open_file(path, what, e, &err);
	if (!f) {
		sk_X509_free(certs);
		return err;
	}
	ERR_clear_error();
	while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			err = sw_fail(e, -ENOMEM, "%s: out of memory", path);
			goto out;
		}
	}
	/* The end of the file reads as "no start line"; anything else is bad. */
	last = ERR_peek_last_error();
	if (ferror(f)) {
		err = sw_fail(e, -EIO, "cannot read %s: %s", path, strerror(errno));
	} else if (!sk_X509_num(certs)) {
		err = sw_fail(e, -EINVAL, "%s holds no certificate: expected PEM "
			      "('-----BEGIN CERTIFICATE-----'), the %s", path, what);
	} else if (last && !(ERR_GET_LIB(last) == ERR_LIB_PEM &&
			     ERR_GET_REASON(last) == PEM_R_NO_START_LINE)) {
		err = sw_fail(e, -EINVAL, "%s: certificate %d cannot be read (%s); "
			      "the file must hold only PEM certificates, the %s",
			      path, sk_X509_num(certs) + 1,
			      openssl_reason(why, sizeof(why)), what);
	}
out:
	ERR_clear_error();
	fclose(f);
	if (err) {
		sk_X509_pop_free(certs, X509_free);
		return err;
	}
	*out = certs;
	return 0;
}

/* An encrypted key would make OpenSSL prompt on the terminal: refuse it. */
static int no_passphrase(char *buf, int size, int rwflag, void *asked)
{
	(void)buf, (void)size, (void)rwflag;
	*(bool *)asked = true;
	return -1;
}

static int read_key(const char *path, EVP_PKEY **out, struct sw_error *e)
{
	bool asked = false;
	char why[256];
	int err = 0;
	FILE *f = open_file(path, "this node's private key", e, &err);

	if (!f)
		return err;
	ERR_clear_error();
	*out = PEM_read_PrivateKey(f, NULL, no_passphrase, &asked);
	fclose(f);
	if (*out)
		return 0;
	if (asked)
		return sw_fail(e, -EINVAL, "%s is encrypted; spillway needs it "
			       "unencrypted (openssl pkey -in %s -out key.pem), "
			       "readable by the agent only", path, path);
	return sw_fail(e, -EINVAL, "%s holds no private key (%s): expected PEM "
		       "('-----BEGIN PRIVATE KEY-----'), the key of the first "
		       "certificate in cert-chain.pem", path,
		       openssl_reason(why, sizeof(why)));
}

/* Every certificate within its validity, now. */
static int check_times(const char *path, STACK_OF(X509) *certs, time_t now,
		       struct sw_error *e)
{
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		time_t from = time_of(X509_get0_notBefore(x));
		time_t until = time_of(X509_get0_notAfter(x));
		char name[NAME_MAX_SHOWN], t[40], n[40];

		describe(x, name, sizeof(name));
		if (from == (time_t)-1 || until == (time_t)-1)
			return sw_fail(e, -EINVAL, "%s: the certificate %s has an "
				       "unreadable validity period; issue a new one",
				       path, name);
		if (now < from) {
			format_time(from, t, sizeof(t));
			format_time(now, n, sizeof(n));
			return sw_fail(e, -EINVAL, "%s: the certificate %s is not "
				       "valid before %s (it is %s here); check this "
				       "machine's clock, or wait", path, name, t, n);
		}
		if (now > until) {
			format_time(until, t, sizeof(t));
			return sw_fail(e, -EINVAL, "%s: the certificate %s expired on "
				       "%s; issue a new one (scripts/gen-certs.sh "
				       "makes test certificates)", path, name, t);
		}
	}
	return 0;
}

/*
 * The chain must verify to root-cert.pem alone, as a peer will verify it,
 * and the leaf must be fit for both roles (the same set serves the tunnel
 * client and the gateway). *not_after: when the first certificate of the
 * verified chain (root included) expires.
 */
static int verify_own_chain(struct cert_set *s, time_t *not_after,
			    struct sw_error *e)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *leaf = sk_X509_value(s->chain, 0);
	char name[NAME_MAX_SHOWN], why[256];
	int err = 0;

	if (!store || !ctx) {
		err = sw_fail(e, -ENOMEM, "%s: out of memory", s->chain_path);
		goto out;
	}
	for (int i = 0; i < sk_X509_num(s->roots); i++) {
		if (!X509_STORE_add_cert(store, sk_X509_value(s->roots, i))) {
			err = sw_fail(e, -EINVAL, "%s: cannot use certificate %d as "
				      "a trust anchor: %s", s->root_path, i + 1,
				      openssl_reason(why, sizeof(why)));
			goto out;
		}
	}
	if (!X509_STORE_CTX_init(ctx, store, leaf, s->intermediates)) {
		err = sw_fail(e, -ENOMEM, "%s: cannot set up verification: %s",
			      s->chain_path, openssl_reason(why, sizeof(why)));
		goto out;
	}
	/* As strict as a peer will be: a chain it would refuse is refused now. */
	X509_STORE_CTX_set_depth(ctx, MAX_VERIFY_DEPTH);
	if (X509_verify_cert(ctx) <= 0) {
		X509 *at = X509_STORE_CTX_get_current_cert(ctx);
		int v = X509_STORE_CTX_get_error(ctx);

		describe(at ? at : leaf, name, sizeof(name));
		err = sw_fail(e, -EINVAL, "%s does not chain to %s: %s (at %s); "
			      "cert-chain.pem must hold this node's certificate, "
			      "then its intermediates, and root-cert.pem the root "
			      "that issued them", s->chain_path, s->root_path,
			      X509_verify_cert_error_string(v), name);
		goto out;
	}
	*not_after = (time_t)-1;
	for (int i = 0; i < sk_X509_num(X509_STORE_CTX_get0_chain(ctx)); i++) {
		X509 *x = sk_X509_value(X509_STORE_CTX_get0_chain(ctx), i);
		time_t t = time_of(X509_get0_notAfter(x));

		if (*not_after == (time_t)-1 || t < *not_after)
			*not_after = t;
	}
	describe(leaf, name, sizeof(name));
	if (X509_check_purpose(leaf, X509_PURPOSE_SSL_CLIENT, 0) != 1 ||
	    X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0) != 1)
		err = sw_fail(e, -EINVAL, "%s: the certificate %s is not fit for "
			      "both TLS roles: it needs keyUsage digitalSignature "
			      "and extendedKeyUsage serverAuth and clientAuth",
			      s->chain_path, name);
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return err;
}

static void free_set(struct cert_set *s)
{
	sk_X509_pop_free(s->roots, X509_free);
	sk_X509_pop_free(s->chain, X509_free);
	sk_X509_free(s->intermediates);		/* borrowed from chain */
	EVP_PKEY_free(s->key);
}

/* Read dir and check it as a whole; *identity, *not_after: of the set. */
static int load_set(struct cert_set *s, const char *dir, char *identity,
		    size_t identity_len, time_t *not_after, struct sw_error *e)
{
	char name[NAME_MAX_SHOWN];
	X509 *leaf;
	int err;

	if ((err = join_path(s->root_path, dir, ROOT_FILE, e)) ||
	    (err = join_path(s->chain_path, dir, CHAIN_FILE, e)) ||
	    (err = join_path(s->key_path, dir, KEY_FILE, e)) ||
	    (err = read_certs(s->root_path, "root CA common to the clusters",
			      &s->roots, e)) ||
	    (err = read_certs(s->chain_path, "node's certificate then its "
			      "intermediates", &s->chain, e)) ||
	    (err = read_key(s->key_path, &s->key, e)))
		return err;

	leaf = sk_X509_value(s->chain, 0);
	s->intermediates = sk_X509_dup(s->chain);
	if (!s->intermediates)
		return sw_fail(e, -ENOMEM, "%s: out of memory", s->chain_path);
	sk_X509_shift(s->intermediates);

	describe(leaf, name, sizeof(name));
	if (X509_check_private_key(leaf, s->key) != 1) {
		ERR_clear_error();
		return sw_fail(e, -EINVAL, "%s does not match the certificate in %s "
			       "(%s); use the key that certificate was issued for, "
			       "and keep that certificate first in %s", s->key_path,
			       s->chain_path, name, CHAIN_FILE);
	}
	if (!identity_of(leaf, identity, identity_len))
		return sw_fail(e, -EINVAL, "%s: the certificate %s has no URI or "
			       "DNS subjectAltName; peers identify this node by it "
			       "(e.g. URI:spiffe://cluster.local/ns/spillway/sa/"
			       "spillway)", s->chain_path, name);
	if ((err = check_times(s->chain_path, s->chain, time(NULL), e)) ||
	    (err = check_times(s->root_path, s->roots, time(NULL), e)))
		return err;
	return verify_own_chain(s, not_after, e);
}

static struct allow_list *copy_allow(const char *const *allow, int n)
{
	size_t size = sizeof(struct allow_list);
	struct allow_list *a;
	int kept = 0;
	char *p;

	for (int i = 0; i < n; i++) {
		if (allow[i] && allow[i][0]) {
			size += sizeof(char *) + strlen(allow[i]) + 1;
			kept++;
		}
	}
	a = malloc(size);
	if (!a)
		return NULL;
	a->n = 0;
	p = (char *)&a->names[kept];
	for (int i = 0; i < n; i++) {
		if (!allow[i] || !allow[i][0])
			continue;
		a->names[a->n++] = p;
		p = stpcpy(p, allow[i]) + 1;
	}
	return a;
}

/* ------------------------------------------------------------------------ */
/* The SSL_CTX, one builder for both roles */

static SSL_CTX *build_ctx(const struct cert_set *s, bool server,
			  const char *const *allow, int n_allow,
			  struct sw_error *e)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	X509_STORE *store = ctx ? SSL_CTX_get_cert_store(ctx) : NULL;
	struct allow_list *list = copy_allow(allow, n_allow);
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
	     (server || !SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof(alpn_h2)));
	for (int i = 0; ok && i < sk_X509_num(s->roots); i++)
		ok = X509_STORE_add_cert(store, sk_X509_value(s->roots, i));
	if (!ok)
		goto fail;
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* Send exactly cert-chain.pem, never a chain built from the store. */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
			   (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	SSL_CTX_set_verify_depth(ctx, MAX_VERIFY_DEPTH);
	SSL_CTX_set_cert_verify_callback(ctx, verify_peer, NULL);
	if (server) {
		SSL_CTX_set_client_hello_cb(ctx, require_alpn, NULL);
		SSL_CTX_set_alpn_select_cb(ctx, select_h2, NULL);
	}
	if (!SSL_CTX_set_ex_data(ctx, allow_index, list))
		goto fail;
	return ctx;

fail:
	sw_fail(e, list ? -EINVAL : -ENOMEM, "%s: cannot set up TLS for the %s "
		"from %s, %s and %s: %s", s->chain_path, role, s->root_path,
		s->chain_path, s->key_path, openssl_reason(why, sizeof(why)));
	free(list);
	SSL_CTX_free(ctx);
	return NULL;
}

struct sw_tls *sw_tls_load(const char *dir, const char *const *allow,
			   int n_allow, struct sw_error *e)
{
	struct cert_set set = {};
	char identity[1024];
	struct sw_tls *t = NULL;
	time_t not_after = (time_t)-1;

	if (!indexes_ready()) {
		sw_fail(e, -ENOMEM, "%s: cannot set up OpenSSL (ex_data)", dir);
		return NULL;
	}
	if (n_allow < 0 || (n_allow && !allow))
		n_allow = 0;
	if (load_set(&set, dir, identity, sizeof(identity), &not_after, e))
		goto out;
	t = calloc(1, sizeof(*t));
	if (!t || !(t->identity = strdup(identity))) {
		sw_fail(e, -ENOMEM, "%s: out of memory", dir);
		goto fail;
	}
	t->not_after = not_after;
	t->client = build_ctx(&set, false, allow, n_allow, e);
	if (!t->client)
		goto fail;
	t->server = build_ctx(&set, true, allow, n_allow, e);
	if (!t->server)
		goto fail;
out:
	free_set(&set);
	return t;
fail:
	sw_tls_free(t);
	t = NULL;
	goto out;
}

void sw_tls_free(struct sw_tls *t)
{
	if (!t)
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
	struct conn_note *note = calloc(1, sizeof(*note));
	SSL *ssl = SSL_new(ctx);
	char why[256];

	if (!note || !ssl || !SSL_set_ex_data(ssl, note_index, note)) {
		sw_fail(e, -ENOMEM, "cannot make a TLS %s connection: %s", role,
			openssl_reason(why, sizeof(why)));
		free(note);
		SSL_free(ssl);
		return NULL;
	}
	if (!SSL_set_fd(ssl, fd)) {
		sw_fail(e, -EINVAL, "cannot make a TLS %s connection on fd %d: %s",
			role, fd, openssl_reason(why, sizeof(why)));
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
			"(SNI): %s", sni, openssl_reason(why, sizeof(why)));
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

/* ------------------------------------------------------------------------ */
/* Why a handshake failed */

/* What the peer's alerts and our own protocol errors mean. */
static const struct {
	int reason;
	const char *label;
	const char *detail;
} reasons[] = {
	{ SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE, "no_client_cert",
	  "the client sent no certificate; a tunnel client must present one" },
	{ SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED, "no_client_cert",
	  "the gateway requires a client certificate and none was sent" },
	{ SSL_R_UNSUPPORTED_PROTOCOL, "protocol",
	  "the peer does not offer TLS 1.3, the only version spillway speaks" },
	{ SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, "protocol",
	  "the peer refused the TLS version offered (protocol_version alert): "
	  "both ends must speak TLS 1.3" },
	{ SSL_R_UNSUPPORTED_SSL_VERSION, "protocol",
	  "the peer chose a TLS version other than 1.3" },
	{ SSL_R_WRONG_SSL_VERSION, "protocol",
	  "the peer chose a TLS version other than 1.3" },
	{ SSL_R_VERSION_TOO_LOW, "protocol",
	  "the peer chose a TLS version older than 1.3" },
	{ SSL_R_WRONG_VERSION_NUMBER, "protocol",
	  "the peer does not speak TLS (wrong version number in a record)" },
	{ SSL_R_HTTP_REQUEST, "protocol",
	  "the peer sent plain HTTP, not TLS" },
	{ SSL_R_HTTPS_PROXY_REQUEST, "protocol",
	  "the peer sent an HTTP proxy request, not TLS" },
	{ SSL_R_NO_APPLICATION_PROTOCOL, "no_alpn",
	  "the client did not offer ALPN 'h2'" },
	{ SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL, "no_alpn",
	  "the peer did not agree on ALPN 'h2' (no_application_protocol alert)" },
	{ SSL_R_TLSV1_ALERT_UNKNOWN_CA, "unknown_ca",
	  "the peer does not trust this node's certificate: cert-chain.pem does "
	  "not chain to the peer's root-cert.pem (unknown_ca alert)" },
	{ SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED, "expired",
	  "the peer says this node's certificate expired (certificate_expired "
	  "alert)" },
	/*
	 * What a spillway peer sends when its allow list refuses us; other
	 * causes (no shared cipher or group) cannot happen between two nodes
	 * that both speak TLS 1.3 with the defaults.
	 */
	{ SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, "not_allowed",
	  "the peer refused the handshake (handshake_failure alert): most "
	  "likely this node's identity is not in its allow list; see its log" },
	{ SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE, "other",
	  "the peer finds this node's certificate unfit for its role "
	  "(keyUsage, extendedKeyUsage)" },
	{ SSL_R_SSLV3_ALERT_BAD_CERTIFICATE, "other",
	  "the peer refused this node's certificate (bad_certificate alert; "
	  "e.g. not yet valid by the peer's clock)" },
};

static const char *verify_label(long v)
{
	switch (v) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "expired";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_INVALID_CA:
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:
		return "unknown_ca";
	case X509_V_ERR_APPLICATION_VERIFICATION:
		return "not_allowed";
	default:
		return "other";
	}
}

/* Our verification refused the peer's certificate. */
static const char *verify_failure(long v, const struct conn_note *note,
				  char *detail, size_t len)
{
	const char *label = verify_label(v);
	const char *peer = note && note->peer[0] ? note->peer : "(no identity)";
	const char *where = note && note->where[0] ? note->where : "?";
	const char *when = note && note->when[0] ? note->when : NULL;

	if (!strcmp(label, "unknown_ca"))
		snprintf(detail, len, "the peer's certificate (%s) does not chain to "
			 "this node's root-cert.pem: %s (at %s)", peer,
			 X509_verify_cert_error_string(v), where);
	else if (v == X509_V_ERR_CERT_HAS_EXPIRED)
		snprintf(detail, len, "the peer's certificate %s (%s) expired%s%s",
			 where, peer, when ? " on " : "", when ? when : "");
	else if (v == X509_V_ERR_CERT_NOT_YET_VALID)
		snprintf(detail, len, "the peer's certificate %s (%s) is not valid "
			 "before %s; check the clocks", where, peer,
			 when ? when : "?");
	else
		snprintf(detail, len, "the peer's certificate (%s) was refused: %s "
			 "(at %s)", peer, X509_verify_cert_error_string(v), where);
	return label;
}

const char *sw_tls_failure(SSL *ssl, char *detail, size_t len)
{
	const struct conn_note *note = note_of(ssl);
	long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long err, first = 0;
	const char *label = NULL;
	char scratch[8];

	if (!detail || !len) {
		detail = scratch;
		len = sizeof(scratch);
	}
	detail[0] = '\0';
	/* Our own checks know best why they refused. */
	if (note && note->label) {
		snprintf(detail, len, "%s", note->detail);
		label = note->label;
	}
	/* The queue is per thread: drain it whatever we report. */
	while ((err = ERR_get_error())) {
		if (!first)
			first = err;
		if (label || ERR_GET_LIB(err) != ERR_LIB_SSL)
			continue;
		if (ERR_GET_REASON(err) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
		    verify != X509_V_OK) {
			label = verify_failure(verify, note, detail, len);
			continue;
		}
		for (size_t i = 0; i < ARRAY_SIZE(reasons); i++) {
			if (ERR_GET_REASON(err) == reasons[i].reason) {
				label = reasons[i].label;
				snprintf(detail, len, "%s", reasons[i].detail);
				break;
			}
		}
	}
	if (label)
		return label;
	if (verify != X509_V_OK)
		return verify_failure(verify, note, detail, len);
	if (first) {
		char why[256];

		ERR_error_string_n(first, why, sizeof(why));
		snprintf(detail, len, "TLS error: %s", why);
	} else {
		snprintf(detail, len, "the connection closed during the TLS "
			 "handshake, without an alert");
	}
	return "other";
}

const char *sw_tls_peer_identity(SSL *ssl, char *buf, size_t len)
{
	if (!len)
		return buf;
	buf[0] = '\0';
	if (ssl)
		identity_of(SSL_get0_peer_certificate(ssl), buf, len);
	return buf;
}
