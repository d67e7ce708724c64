/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The tunnel endpoint's listening socket: the socket the datapath assigns
 * overflowed connections to. IP_TRANSPARENT (IPv6: IPV6_TRANSPARENT) lets it
 * own connections addressed to any VIP; accepted sockets keep the VIP:port
 * the client dialled as their local address.
 */
#ifndef SW_TUNNEL_ENDPOINT_H
#define SW_TUNNEL_ENDPOINT_H

#include <stddef.h>
#include <sys/socket.h>
#include <linux/types.h>

#include "spillway/abi.h"
#include "lib/error.h"

/*
 * Listen on all addresses of family (4 or 6) at port; returns the fd.
 * Accepted sockets inherit TCP_NODELAY from it (one setsockopt fewer per
 * connection). One socket for all the tunnel's workers, each watching it
 * (a dup), not one each with SO_REUSEPORT: before Linux 6.5 bpf_sk_assign
 * refuses SO_REUSEPORT sockets (-ESOCKTNOSUPPORT), and nothing would spill.
 */
int sw_endpoint_listen(int family, __u16 port, struct sw_error *e);

/*
 * The flow of an accepted socket: its local end is the VIP:port the client
 * dialled (also in *vip unless NULL), its peer the client (formatted into
 * client): peer if accept gave it, else asked of the socket. -errno if the
 * socket has no addresses any more.
 */
int sw_endpoint_flow(int fd, const struct sockaddr_storage *peer,
		     struct sw_flow_key *key, struct sockaddr_storage *vip,
		     char *client, size_t len);

#endif /* SW_TUNNEL_ENDPOINT_H */
