/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Steered packets kept out of connection tracking, and so out of
 * kube-proxy's NAT. kube-proxy DNATs a Service's VIP in nat PREROUTING,
 * which runs after TC ingress: a SYN the datapath assigned to the tunnel
 * endpoint (bpf_sk_assign) would still be rewritten to a backend pod and
 * the spilled connection reset. NAT needs a conntrack entry; a packet that
 * carries the steer mark gets none. Equivalent to:
 *
 *   table inet spillway {
 *     chain steered {
 *       type filter hook prerouting priority raw - 10; policy accept;
 *       meta mark MARK notrack
 *     }
 *   }
 *
 * A table of its own (nf_tables, one table for IPv4 and IPv6) works with
 * kube-proxy in iptables mode (nf_tables or legacy backend) and in nftables
 * mode alike, and at raw - 10 it runs before anything in iptables' raw
 * table (priority raw) could clear the mark, and before conntrack (-200).
 * The endpoint's replies leave from a local socket to the client's
 * address: no Service rule matches them.
 *
 * Calls work in the calling thread's network namespace and need
 * CAP_NET_ADMIN. Errors are negative errno values, explained in e.
 */
#ifndef SW_DATAPATH_NOTRACK_H
#define SW_DATAPATH_NOTRACK_H

#include <stdbool.h>
#include <linux/types.h>

#include "lib/error.h"

#define SW_NOTRACK_TABLE "spillway"	/* nft list table inet spillway */

/* Install, or replace in one transaction, the table for mark. */
int sw_notrack_ensure(__u32 mark, struct sw_error *e);
/* Remove the table; absent is fine. */
int sw_notrack_remove(struct sw_error *e);
/* Is the table there with the rule for mark? */
int sw_notrack_present(__u32 mark, bool *present, struct sw_error *e);

#endif /* SW_DATAPATH_NOTRACK_H */
