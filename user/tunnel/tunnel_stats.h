/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Tunnel counters, kept per remote (client side) and per gateway. */
#ifndef SW_TUNNEL_TUNNEL_STATS_H
#define SW_TUNNEL_TUNNEL_STATS_H

#include <string.h>
#include <linux/types.h>

/* How a stream ended: the CONNECT's answer, or none at all. */
#define SW_STREAM_RESULTS(X) X(200) X(403) X(405) X(431) X(502) X(503) X(other) X(no_answer)
/* Why a connection failed before or during its TLS handshake. */
#define SW_HS_REASONS(X) X(no_client_cert) X(unknown_ca) X(expired) \
	X(not_allowed) X(protocol) X(no_alpn) X(timeout) X(connect) X(busy) \
	X(evicted) X(other)

#define SW_ENUM(name) SW_STREAM_##name,
enum sw_stream_result { SW_STREAM_RESULTS(SW_ENUM) SW_STREAM_N };
#undef SW_ENUM
#define SW_ENUM(name) SW_HS_##name,
enum sw_hs_reason { SW_HS_REASONS(SW_ENUM) SW_HS_N };
#undef SW_ENUM

struct sw_tunnel_counters {
	__u64 connections_open;
	__u64 streams_open;
	__u64 streams[SW_STREAM_N];
	__u64 bytes_sent;		/* towards the other cluster */
	__u64 bytes_received;
	__u64 handshake_failures[SW_HS_N];
	/* Allocated for stream bytes the sockets have not taken yet. */
	__u64 buffered_bytes;
	__u64 buffer_budget;		/* 0: none (see gateway.h) */
};

extern const char *const sw_stream_result_names[SW_STREAM_N];
extern const char *const sw_hs_reason_names[SW_HS_N];

/* The counter index for an HTTP status (0: no answer). */
enum sw_stream_result sw_stream_result_of(int status);
/* The counter index for a failure label (sw_tls_failure, "timeout"...). */
enum sw_hs_reason sw_hs_reason_of(const char *label);

#endif /* SW_TUNNEL_TUNNEL_STATS_H */
