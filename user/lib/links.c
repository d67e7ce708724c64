// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The bridge a link is a port of, from its attributes; 0: none. */
static int bridge_of(const struct rtattr **tb)
{
	const struct rtattr *info[IFLA_INFO_MAX + 1];
	const struct rtattr *kind;

	if (!tb[IFLA_MASTER] || !tb[IFLA_LINKINFO])
		return 0;
	sw_nl_parse_nested(tb[IFLA_LINKINFO], info, IFLA_INFO_MAX);
	kind = info[IFLA_INFO_SLAVE_KIND];
	if (!kind || RTA_PAYLOAD(kind) != sizeof("bridge") ||
	    memcmp(RTA_DATA(kind), "bridge", sizeof("bridge")))
		return 0;
	return (int)sw_nl_u32(tb[IFLA_MASTER], 0);
}

static int on_link_reply(const struct nlmsghdr *nh, void *arg)
{
	const struct rtattr *tb[IFLA_MAX + 1];

	if (nh->nlmsg_type == RTM_NEWLINK &&
	    sw_nl_parse(nh, sizeof(struct ifinfomsg), tb, IFLA_MAX))
		*(int *)arg = bridge_of(tb);
	return 0;
}

int sw_link_bridge(int ifindex, struct sw_error *e)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
			.nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK },
		.ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex },
	};
	struct sw_nl *nl = malloc(sizeof(*nl));	/* 32 KiB: not the stack */
	int bridge = 0, err;

	if (!nl)
		return sw_fail(e, -ENOMEM, "out of memory");
	err = sw_nl_open(nl, NETLINK_ROUTE);
	if (!err)
		err = sw_nl_talk(nl, &req.nh, on_link_reply, &bridge);
	if (err)
		err = sw_fail(e, err, "cannot tell whether interface %d is a "
			      "bridge port (rtnetlink): %s", ifindex,
			      strerror(-err));
	sw_nl_close(nl);
	free(nl);
	return err ? err : bridge;
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
	ev.bridge = bridge_of(tb);
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
