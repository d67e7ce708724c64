/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The tunnel endpoint's listeners in the kernel's listener lookup
 * (bpf/lookup.h says which packets need it). The attachment is this
 * process's, unlike the datapath's others: it serves this process's
 * sockets, the endpoints map forgets a socket when it closes, and the link
 * goes with sw_datapath_close.
 */
#ifndef SW_DATAPATH_LOOKUP_H
#define SW_DATAPATH_LOOKUP_H

#include "lib/error.h"
#include "datapath/datapath.h"

/*
 * Put the endpoint's listeners (fds: IPv4, IPv6, as enum sw_endpoint_slot)
 * in the endpoints map, and attach spill_sk_lookup to the current network
 * namespace the first time. The datapath spills only while the map holds a
 * listener, and steers to the one it holds.
 */
int sw_datapath_lookup_endpoint(struct sw_datapath *dp, const int fds[2],
				struct sw_error *e);

#endif /* SW_DATAPATH_LOOKUP_H */
