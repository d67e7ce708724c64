/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The agent's outgoing TCP connections: where to, and with what socket. */
#ifndef SW_TUNNEL_NET_H
#define SW_TUNNEL_NET_H

#include <sys/socket.h>
#include <linux/types.h>

#include "config/config.h"
#include "lib/loop.h"

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

/*
 * A listening socket that stops accepting for a while when the process
 * (EMFILE) or the system (ENFILE) is out of file descriptors, as nginx
 * does: the connection that could not be taken stays in the backlog, so
 * the socket stays readable, and accepting again at once would spin (120k
 * failed accept4 in 3 s). Paused, the socket is not watched for
 * SW_ACCEPT_PAUSE_MS; a timerfd, opened with the listener (there may be no
 * descriptor to spare later), turns it back on.
 */
#define SW_ACCEPT_PAUSE_MS 100

struct sw_listener {
	struct sw_io io;		/* the listening socket */
	struct sw_io resume;		/* a timerfd, armed while paused */
	struct sw_loop *loop;
	const char *what;		/* for the log: "the gateway" */
};

/*
 * Watch the listening socket fd (owned from now on, closed on failure) and
 * call on_accept when it is readable; -errno on failure.
 */
int sw_listener_open(struct sw_listener *l, struct sw_loop *loop, int fd,
		     const char *what,
		     void (*on_accept)(struct sw_io *io, uint32_t events));
/*
 * accept4 (non-blocking, close-on-exec) into *ss (may be NULL); -1 when
 * there is nothing to accept now, or after pausing for want of descriptors.
 */
int sw_listener_accept(struct sw_listener *l, struct sockaddr_storage *ss);
void sw_listener_close(struct sw_listener *l);

#endif /* SW_TUNNEL_NET_H */
