// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "lib/links.h"
#include "lib/netlink.h"

bool sw_ifname_is_pattern(const char *name)
{
	return strpbrk(name, "*?[") != NULL;
}

int sw_links_watch(struct sw_error *e)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
				  .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR |
					       RTMGRP_IPV6_IFADDR };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			NETLINK_ROUTE);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		if (fd >= 0)
			close(fd);
		return sw_fail(e, err, "cannot watch the network namespace's "
			       "links (rtnetlink): %s", strerror(-err));
	}
	return fd;
}

static void link_event(const struct nlmsghdr *nh,
		       void (*fn)(void *arg, const struct sw_link_event *ev),
		       void *arg)
{
	const struct rtattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	struct sw_link_event ev = { .gone = nh->nlmsg_type == RTM_DELLINK };
	size_t len;

	if ((nh->nlmsg_type != RTM_NEWLINK && nh->nlmsg_type != RTM_DELLINK) ||
	    !sw_nl_parse(nh, sizeof(*ifi), tb, IFLA_MAX) || !tb[IFLA_IFNAME])
		return;
	len = RTA_PAYLOAD(tb[IFLA_IFNAME]);
	if (len >= sizeof(ev.name))
		len = sizeof(ev.name) - 1;
	memcpy(ev.name, RTA_DATA(tb[IFLA_IFNAME]), len);
	ev.name[strnlen(ev.name, len)] = '\0';
	ev.ifindex = ifi->ifi_index;
	fn(arg, &ev);
}

int sw_links_read(int fd, void (*fn)(void *arg, const struct sw_link_event *ev),
		  void *arg)
{
	char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
	bool lost = false;
	int addrs = 0;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == ENOBUFS) {
			lost = true;	/* read on: what is queued is newer */
			continue;
		}
		if (n <= 0)
			break;
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf;
		     fn && NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			addrs += nh->nlmsg_type == RTM_NEWADDR ||
				 nh->nlmsg_type == RTM_DELADDR;
			link_event(nh, fn, arg);
		}
	}
	return lost ? -ENOBUFS : addrs;
}
