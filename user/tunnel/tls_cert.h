/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The tls module's certificates (tls.h is its public face): the node's
 * certificate set, read from the TLS directory and checked as a whole
 * before anything is built from it, and what the rest of the module reads
 * from a certificate: its name, its times, its identity.
 */
#ifndef SW_TUNNEL_TLS_CERT_H
#define SW_TUNNEL_TLS_CERT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <openssl/x509v3.h>

#include "lib/error.h"

/*
 * Intermediates allowed between a leaf and the root: Istio's layout has
 * one; a PKI may add a level above the clusters' intermediates.
 */
#define TLS_MAX_VERIFY_DEPTH 2

/* Enough of an identity or a subject to recognise it in a log line. */
#define TLS_NAME_MAX_SHOWN 256

/* What sw_tls_load reads, before anything is built from it. */
struct tls_certs {
	char root_path[PATH_MAX];
	char chain_path[PATH_MAX];
	char key_path[PATH_MAX];
	STACK_OF(X509) *roots;
	STACK_OF(X509) *chain;		/* the leaf first */
	STACK_OF(X509) *intermediates;	/* the chain without the leaf */
	EVP_PKEY *key;
};

/* Read dir and check it as a whole; *identity, *not_after: of the set. */
int tls_certs_load(struct tls_certs *s, const char *dir, char *identity,
		   size_t identity_len, time_t *not_after, struct sw_error *e);
void tls_certs_free(struct tls_certs *s);

/* A certificate's subject, "(unnamed)" without one. */
void tls_describe(X509 *x, char *buf, size_t len);
/* (time_t)-1 when unreadable; tls_format_time says so. */
time_t tls_time_of(const ASN1_TIME *t);
void tls_format_time(time_t t, char *buf, size_t len);
/* The text of a URI or DNS SAN; false for other kinds and embedded NULs. */
bool tls_san_text(const GENERAL_NAME *g, int type, const char **s, int *n);
/* The identity: the first URI SAN, else the first DNS SAN; "" if none. */
bool tls_identity_of(X509 *x, char *buf, size_t len);

/* The newest OpenSSL error as text, and a clean queue for the next step. */
const char *tls_openssl_reason(char *buf, size_t len);

#endif /* SW_TUNNEL_TLS_CERT_H */
