/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The checks each handshake makes (the tls module's; tls.h is its public
 * face): the peer's chain against root-cert.pem, its identity against the
 * allow list, ALPN h2. Installed on each SSL_CTX; a note on each SSL says
 * why one failed (sw_tls_failure).
 */
#ifndef SW_TUNNEL_TLS_VERIFY_H
#define SW_TUNNEL_TLS_VERIFY_H

#include <stdbool.h>
#include <openssl/ssl.h>

/* ALPN in wire format: length-prefixed names. */
extern const unsigned char tls_alpn_h2[3];

struct tls_allow_list;

/* Set up once what the checks keep on contexts and connections (ex_data). */
bool tls_verify_ready(void);

/* The allow list's entries, the empty ones dropped; NULL: out of memory. */
struct tls_allow_list *tls_allow_copy(const char *const *allow, int n);

/*
 * The checks on ctx for its role, with allow (which ctx owns from then on,
 * on success).
 */
bool tls_verify_install(SSL_CTX *ctx, bool server,
			struct tls_allow_list *allow);

/* A new connection's note (freed with it); false: out of memory. */
bool tls_note_attach(SSL *ssl);

#endif /* SW_TUNNEL_TLS_VERIFY_H */
