/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A network namespace of the process's own, with the tunnel endpoint. */
#ifndef SW_TEST_SANDBOX_H
#define SW_TEST_SANDBOX_H

/*
 * unshare(CLONE_NEWNET), bring lo up, listen as the tunnel endpoint on
 * SW_DEFAULT_TUNNEL_PORT (IPv4 and IPv6; their sockets in endpoint, if
 * not NULL, as enum sw_endpoint_slot). The namespace dies with the process.
 * Prints why and returns -1 on failure.
 */
int enter_sandbox(int endpoint[2]);

#endif /* SW_TEST_SANDBOX_H */
