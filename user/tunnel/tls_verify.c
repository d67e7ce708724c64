// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What each handshake checks (tls_verify.h), and why one failed.
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
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "lib/util.h"
#include "tunnel/tls.h"
#include "tunnel/tls_cert.h"
#include "tunnel/tls_verify.h"

const unsigned char tls_alpn_h2[] = { 2, 'h', '2' };

/* Owned by an SSL_CTX: one allocation, the names follow the pointers. */
struct tls_allow_list {
	int n;
	const char *names[];
};

/* Owned by an SSL: what our callbacks saw, for sw_tls_failure. */
struct conn_note {
	const char *label;		/* set when one of our checks failed */
	char detail[512];
	char peer[TLS_NAME_MAX_SHOWN];	/* the identity in the peer's leaf */
	char where[TLS_NAME_MAX_SHOWN];	/* the certificate verification stopped at */
	char when[40];			/* its notAfter, or notBefore */
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

bool tls_verify_ready(void)
{
	return CRYPTO_THREAD_run_once(&index_once, make_indexes) &&
	       allow_index >= 0 && note_index >= 0;
}

static struct conn_note *note_of(const SSL *ssl)
{
	return ssl && note_index >= 0 ? SSL_get_ex_data(ssl, note_index) : NULL;
}

bool tls_note_attach(SSL *ssl)
{
	struct conn_note *note = calloc(1, sizeof(*note));

	if (note && SSL_set_ex_data(ssl, note_index, note))
		return true;
	free(note);
	return false;
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
/* The allow list */

struct tls_allow_list *tls_allow_copy(const char *const *allow, int n)
{
	size_t size = sizeof(struct tls_allow_list);
	struct tls_allow_list *a;
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

/*
 * The allow list's first entry that x carries, by exact match of a URI or
 * DNS SAN (entries with a scheme (':') against URI SANs only, the others
 * against DNS SANs only, so that no name can pass as the other kind); NULL
 * if none. It is the peer's identity from then on (per-peer limits, logs):
 * one per certificate, however many allowed names it lists and in which
 * order, so that two certificates of one peer cannot pass as two peers.
 */
static const char *allowed_identity(const struct tls_allow_list *allow,
				    X509 *x)
{
	const char *found = NULL;
	GENERAL_NAMES *names;

	if (!allow || !allow->n)
		return NULL;
	names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int k = 0; names && !found && k < allow->n; k++) {
		const char *want = allow->names[k], *s;
		int type = strchr(want, ':') ? GEN_URI : GEN_DNS, n;

		for (int i = 0; !found && i < sk_GENERAL_NAME_num(names); i++)
			if (tls_san_text(sk_GENERAL_NAME_value(names, i), type,
					 &s, &n) &&
			    (size_t)n == strlen(want) && !memcmp(s, want, n))
				found = want;
	}
	GENERAL_NAMES_free(names);
	return found;
}

static void format_allow(const struct tls_allow_list *allow, char *buf, size_t len)
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
	if (n == tls_alpn_h2[0] && !memcmp(p, tls_alpn_h2 + 1, n))
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
	const struct tls_allow_list *allow = NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(x);
	const char *identity;
	char seen[TLS_NAME_MAX_SHOWN], list[256], subject[TLS_NAME_MAX_SHOWN];

	(void)arg;
	if (!ssl) {
		X509_STORE_CTX_set_error(x, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	allow = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), allow_index);
	tls_identity_of(leaf, seen, sizeof(seen));
	if (note)
		snprintf(note->peer, sizeof(note->peer), "%s", seen);

	if (X509_verify_cert(x) <= 0) {
		X509 *at = X509_STORE_CTX_get_current_cert(x);
		int err = X509_STORE_CTX_get_error(x);

		if (note) {
			tls_describe(at ? at : leaf, note->where, sizeof(note->where));
			note->when[0] = '\0';
			if (at && err == X509_V_ERR_CERT_HAS_EXPIRED)
				tls_format_time(tls_time_of(X509_get0_notAfter(at)),
					    note->when, sizeof(note->when));
			else if (at && err == X509_V_ERR_CERT_NOT_YET_VALID)
				tls_format_time(tls_time_of(X509_get0_notBefore(at)),
					    note->when, sizeof(note->when));
		}
		return 0;
	}

	identity = allowed_identity(allow, leaf);
	if (identity && note)
		snprintf(note->peer, sizeof(note->peer), "%s", identity);
	if (!identity) {
		format_allow(allow, list, sizeof(list));
		tls_describe(leaf, subject, sizeof(subject));
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
		if (n == tls_alpn_h2[0] && !memcmp(in + i, tls_alpn_h2 + 1, n)) {
			*out = tls_alpn_h2 + 1;
			*outlen = tls_alpn_h2[0];
			return SSL_TLSEXT_ERR_OK;
		}
		i += n;
	}
	format_alpn(in, inlen, offered, sizeof(offered));
	note_failure(ssl, "no_alpn", "the client offered ALPN %s; the tunnel "
		     "speaks only 'h2' (HTTP/2)", offered[0] ? offered : "(none)");
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

bool tls_verify_install(SSL_CTX *ctx, bool server,
			struct tls_allow_list *allow)
{
	SSL_CTX_set_cert_verify_callback(ctx, verify_peer, NULL);
	if (server) {
		SSL_CTX_set_client_hello_cb(ctx, require_alpn, NULL);
		SSL_CTX_set_alpn_select_cb(ctx, select_h2, NULL);
	}
	return SSL_CTX_set_ex_data(ctx, allow_index, allow);
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

const char *sw_tls_peer_identity(SSL *ssl, char *buf, size_t len)
{
	const struct conn_note *note = note_of(ssl);

	if (!len)
		return buf;
	/* The allowed name verification matched, else the certificate's own. */
	if (note && note->peer[0] && SSL_get_verify_result(ssl) == X509_V_OK)
		snprintf(buf, len, "%s", note->peer);
	else
		tls_identity_of(ssl ? SSL_get0_peer_certificate(ssl) : NULL,
				buf, len);
	return buf;
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
