/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The agent's outgoing TCP connections: where to, and with what socket. */
#ifndef SW_TUNNEL_NET_H
#define SW_TUNNEL_NET_H

#include <sys/socket.h>
#include <linux/types.h>

#include "config/config.h"

/*
 * A non-blocking TCP socket marked with the bypass mark, so the datapath
 * never steers or counts the agent's own traffic; bypass_mark 0: unmarked
 * (no datapath to bypass: SO_MARK needs CAP_NET_ADMIN, which a gateway-only
 * agent need not have). -errno on failure.
 */
int sw_agent_socket(int family, __u32 bypass_mark);

/*
 * No Nagle on sockets that carry the tunnel or its relays: a response's
 * HEADERS and first DATA are small writes, and waiting for the peer's
 * delayed ACK between them costs 40 ms per connection.
 */
int sw_no_delay(int fd);

/* Make close(fd) send an RST, not a FIN (SO_LINGER 0): a reset passed on. */
void sw_reset_on_close(int fd);
/* Close fd with an RST. */
void sw_close_reset(int fd);

/*
 * TCP keepalive as a remote's keepalive block says (SO_KEEPALIVE, and the
 * timers and count it sets; the kernel's for those it leaves at 0), so a
 * gateway that vanished without a FIN is noticed on an idle connection too.
 * Nothing if the block is not written. -errno on failure.
 */
int sw_keepalive(int fd, const struct sw_keepalive_config *k);

#endif /* SW_TUNNEL_NET_H */
