/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The node's TLS: one directory with root-cert.pem (the trust anchor common
 * to both clusters), cert-chain.pem (this node's leaf, then its
 * intermediates) and key.pem, as in Istio's cacerts layout (ca-cert.pem and
 * ca-key.pem never need to be on a node).
 *
 * One SSL_CTX per role. Both: TLS 1.3 only, no early data, ALPN "h2", the
 * peer must present a certificate that chains to root-cert.pem alone (no
 * partial chains), is within its validity, is fit for its role (key usage,
 * extended key usage), and that carries a name of the allow list as a URI
 * or DNS SAN. That name (the list's first the certificate carries) is the
 * peer's identity for everything after: per-peer limits, logs, metrics.
 * Mutual: the tunnel client checks the gateway exactly as the gateway
 * checks the client.
 *
 * A set is validated as a whole when loaded (key matches the leaf, the
 * chain verifies, nothing expired): a reload builds a new set and swaps it
 * in only if it loads; live connections keep the SSL_CTX they started with.
 *
 * In three files: tls_cert.c reads and checks the certificate set,
 * tls_ctx.c builds the SSL_CTXs and connections, tls_verify.c makes the
 * checks of each handshake and says why one failed.
 */
#ifndef SW_TUNNEL_TLS_H
#define SW_TUNNEL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <openssl/ssl.h>

#include "lib/error.h"

#define SW_TLS_ALPN "h2"

struct sw_tls;

/*
 * Load and validate dir. allow: identities the peer may have (SPIFFE URIs
 * such as spiffe://cluster.local/ns/spillway/sa/spillway, or DNS names);
 * copied. An empty allow list allows no peer. Errors name the file and say
 * what is wrong (e.g. "DIR/key.pem does not match the certificate in
 * DIR/cert-chain.pem", "DIR/cert-chain.pem: the certificate expired on ...",
 * "DIR/cert-chain.pem does not chain to DIR/root-cert.pem: ...").
 */
struct sw_tls *sw_tls_load(const char *dir, const char *const *allow,
			   int n_allow, struct sw_error *e);
/*
 * One more holder of t (returned; NULL stays NULL): a set is shared by the
 * agent and its workers' threads, read-only, and freed by the last
 * sw_tls_free. OpenSSL lets threads make connections from one SSL_CTX.
 */
struct sw_tls *sw_tls_ref(struct sw_tls *t);
void sw_tls_free(struct sw_tls *t);

/* This node's identity (the leaf's first URI SAN, else first DNS SAN). */
const char *sw_tls_identity(const struct sw_tls *t);
/* When the leaf (or the earliest-expiring certificate of the chain) expires. */
time_t sw_tls_not_after(const struct sw_tls *t);

/*
 * A new connection on a connected (client) or accepted (server) socket fd,
 * non-blocking, handshake not started. The client sends sni (may be NULL).
 * The SSL holds its own reference to the SSL_CTX: freeing t later is safe.
 */
SSL *sw_tls_client(struct sw_tls *t, int fd, const char *sni,
		   struct sw_error *e);
SSL *sw_tls_server(struct sw_tls *t, int fd, struct sw_error *e);

/*
 * Why a handshake failed, in words and as a short metric label:
 * "no_client_cert", "unknown_ca", "expired", "not_allowed", "protocol"
 * (e.g. TLS 1.2 offered), "no_alpn", "other". Call after SSL_do_handshake
 * returned a fatal error on ssl.
 */
const char *sw_tls_failure(SSL *ssl, char *detail, size_t len);

/*
 * After a successful handshake: the peer's identity, the allow list's name
 * that verification matched (so a certificate listing other names, or
 * listing them in another order, is still the one peer it was allowed as).
 */
const char *sw_tls_peer_identity(SSL *ssl, char *buf, size_t len);

#endif /* SW_TUNNEL_TLS_H */
