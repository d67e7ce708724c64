// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The node's certificate set (tls_cert.h): root-cert.pem, cert-chain.pem
 * and key.pem, each read with an error that names the file and says what
 * it must hold, then checked together as a peer will check them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tunnel/tls.h"
#include "tunnel/tls_cert.h"

#define ROOT_FILE "root-cert.pem"
#define CHAIN_FILE "cert-chain.pem"
#define KEY_FILE "key.pem"

/* ------------------------------------------------------------------------ */
/* Names, times, identities */

void tls_describe(X509 *x, char *buf, size_t len)
{
	if (!x || !X509_NAME_oneline(X509_get_subject_name(x), buf, (int)len))
		snprintf(buf, len, "(unnamed)");
}

time_t tls_time_of(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return (time_t)-1;
	return timegm(&tm);
}

void tls_format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == (time_t)-1 || !gmtime_r(&t, &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "(unreadable time)");
}

bool tls_san_text(const GENERAL_NAME *g, int type, const char **s, int *n)
{
	const ASN1_IA5STRING *v;

	if (g->type != type)
		return false;
	v = type == GEN_URI ? g->d.uniformResourceIdentifier : g->d.dNSName;
	*s = (const char *)ASN1_STRING_get0_data(v);
	*n = ASN1_STRING_length(v);
	return *s && *n > 0 && !memchr(*s, '\0', *n);
}

bool tls_identity_of(X509 *x, char *buf, size_t len)
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

			if (tls_san_text(sk_GENERAL_NAME_value(names, i), order[k], &s, &n)) {
				snprintf(buf, len, "%.*s", n, s);
				found = true;
				break;
			}
		}
	}
	GENERAL_NAMES_free(names);
	return found;
}

/* ------------------------------------------------------------------------ */
/* Loading */

const char *tls_openssl_reason(char *buf, size_t len)
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
			      tls_openssl_reason(why, sizeof(why)), what);
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
		       tls_openssl_reason(why, sizeof(why)));
}

/* Every certificate within its validity, now. */
static int check_times(const char *path, STACK_OF(X509) *certs, time_t now,
		       struct sw_error *e)
{
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		time_t from = tls_time_of(X509_get0_notBefore(x));
		time_t until = tls_time_of(X509_get0_notAfter(x));
		char name[TLS_NAME_MAX_SHOWN], t[40], n[40];

		tls_describe(x, name, sizeof(name));
		if (from == (time_t)-1 || until == (time_t)-1)
			return sw_fail(e, -EINVAL, "%s: the certificate %s has an "
				       "unreadable validity period; issue a new one",
				       path, name);
		if (now < from) {
			tls_format_time(from, t, sizeof(t));
			tls_format_time(now, n, sizeof(n));
			return sw_fail(e, -EINVAL, "%s: the certificate %s is not "
				       "valid before %s (it is %s here); check this "
				       "machine's clock, or wait", path, name, t, n);
		}
		if (now > until) {
			tls_format_time(until, t, sizeof(t));
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
static int verify_own_chain(struct tls_certs *s, time_t *not_after,
			    struct sw_error *e)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *leaf = sk_X509_value(s->chain, 0);
	char name[TLS_NAME_MAX_SHOWN], why[256];
	int err = 0;

	if (!store || !ctx) {
		err = sw_fail(e, -ENOMEM, "%s: out of memory", s->chain_path);
		goto out;
	}
	for (int i = 0; i < sk_X509_num(s->roots); i++) {
		if (!X509_STORE_add_cert(store, sk_X509_value(s->roots, i))) {
			err = sw_fail(e, -EINVAL, "%s: cannot use certificate %d as "
				      "a trust anchor: %s", s->root_path, i + 1,
				      tls_openssl_reason(why, sizeof(why)));
			goto out;
		}
	}
	if (!X509_STORE_CTX_init(ctx, store, leaf, s->intermediates)) {
		err = sw_fail(e, -ENOMEM, "%s: cannot set up verification: %s",
			      s->chain_path, tls_openssl_reason(why, sizeof(why)));
		goto out;
	}
	/* As strict as a peer will be: a chain it would refuse is refused now. */
	X509_STORE_CTX_set_depth(ctx, TLS_MAX_VERIFY_DEPTH);
	if (X509_verify_cert(ctx) <= 0) {
		X509 *at = X509_STORE_CTX_get_current_cert(ctx);
		int v = X509_STORE_CTX_get_error(ctx);

		tls_describe(at ? at : leaf, name, sizeof(name));
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
		time_t t = tls_time_of(X509_get0_notAfter(x));

		if (*not_after == (time_t)-1 || t < *not_after)
			*not_after = t;
	}
	tls_describe(leaf, name, sizeof(name));
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

void tls_certs_free(struct tls_certs *s)
{
	sk_X509_pop_free(s->roots, X509_free);
	sk_X509_pop_free(s->chain, X509_free);
	sk_X509_free(s->intermediates);		/* borrowed from chain */
	EVP_PKEY_free(s->key);
}

int tls_certs_load(struct tls_certs *s, const char *dir, char *identity,
		    size_t identity_len, time_t *not_after, struct sw_error *e)
{
	char name[TLS_NAME_MAX_SHOWN];
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

	tls_describe(leaf, name, sizeof(name));
	if (X509_check_private_key(leaf, s->key) != 1) {
		ERR_clear_error();
		return sw_fail(e, -EINVAL, "%s does not match the certificate in %s "
			       "(%s); use the key that certificate was issued for, "
			       "and keep that certificate first in %s", s->key_path,
			       s->chain_path, name, CHAIN_FILE);
	}
	if (!tls_identity_of(leaf, identity, identity_len))
		return sw_fail(e, -EINVAL, "%s: the certificate %s has no URI or "
			       "DNS subjectAltName; peers identify this node by it "
			       "(e.g. URI:spiffe://cluster.local/ns/spillway/sa/"
			       "spillway)", s->chain_path, name);
	if ((err = check_times(s->chain_path, s->chain, time(NULL), e)) ||
	    (err = check_times(s->root_path, s->roots, time(NULL), e)))
		return err;
	return verify_own_chain(s, not_after, e);
}
