/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The network namespace's links as they come and go: a rtnetlink socket
 * subscribed to link events (RTMGRP_LINK), read from the event loop. A pod's
 * host-side veth (cali*, lxc*, veth*) appears when the pod starts and goes
 * with it; this is how the agent hears of both. The same socket hears of
 * addresses added and removed (RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR): the
 * node's own addresses, where NodePorts are matched.
 */
#ifndef SW_LIB_LINKS_H
#define SW_LIB_LINKS_H

#include <stdbool.h>
#include <net/if.h>

#include "lib/error.h"

/* Does an interface name hold a shell pattern (fnmatch: '*', '?', '[')? */
bool sw_ifname_is_pattern(const char *name);

/*
 * A link as an event names it. gone: deleted (or moved to another network
 * namespace), else it exists now (created, renamed or changed state: a
 * bridge CNI's veth joins its bridge after it appears).
 */
struct sw_link_event {
	int ifindex;
	char name[IF_NAMESIZE];
	int bridge;		/* the bridge it is a port of; 0: none */
	bool gone;
};

/*
 * The bridge (its ifindex) a link of this network namespace is a port of:
 * 0 if it is a port of none, -errno if the link cannot be looked at.
 */
int sw_link_bridge(int ifindex, struct sw_error *e);

/* A non-blocking socket that hears of every link change: fd or -errno. */
int sw_links_watch(struct sw_error *e);

/*
 * Read what is pending on the watch socket, calling fn (if not NULL) for
 * each link event.
 * Returns how many address events there were (counted only with fn), or
 * -ENOBUFS when the kernel dropped events (the socket's buffer was full):
 * the caller then looks at every link and address again.
 */
int sw_links_read(int fd, void (*fn)(void *arg, const struct sw_link_event *ev),
		  void *arg);

#endif /* SW_LIB_LINKS_H */
