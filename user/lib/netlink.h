/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Raw netlink, the part every user shares: a socket that asks for the
 * kernel's explanations (extended acks), one request and its replies up to
 * the ack or the end of a dump, attributes in and out. rtnetlink (route.c)
 * and generic netlink (probe.c) build their messages on top.
 */
#ifndef SW_LIB_NETLINK_H
#define SW_LIB_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/types.h>

struct sw_nl {
	int fd;
	__u32 seq;
	char extack[256];	/* the kernel's word on the last error */
	/* The kernel never builds a dump message larger than 32 KiB. */
	char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
};

/* Open a socket of protocol (NETLINK_ROUTE, NETLINK_GENERIC): 0 or -errno. */
int sw_nl_open(struct sw_nl *nl, int protocol);
void sw_nl_close(struct sw_nl *nl);

/*
 * Called for each reply to a request that is not its ack or the end of its
 * dump. Returns 0 to read on, or a negative errno to stop.
 */
typedef int (*sw_nl_reply_fn)(const struct nlmsghdr *nh, void *arg);

/*
 * Send req (its nlmsg_seq is set here) and read its replies up to its ack
 * or the end of its dump. Returns the kernel's verdict: 0 or -errno
 * (explained in nl->extack), or what on_reply returned.
 */
int sw_nl_talk(struct sw_nl *nl, struct nlmsghdr *req, sw_nl_reply_fn on_reply,
	       void *arg);

/* Append an attribute to msg, whose buffer holds cap bytes in all. */
void sw_nl_put(struct nlmsghdr *msg, size_t cap, __u16 type, const void *data,
	       size_t len);

/*
 * The attributes after a family header of hdrlen bytes, by type (NULL if
 * absent; later ones above max are ignored). False if nh is too short.
 */
bool sw_nl_parse(const struct nlmsghdr *nh, size_t hdrlen,
		 const struct rtattr **tb, int max);

/* The attributes nested in attribute nest, by type (as sw_nl_parse). */
void sw_nl_parse_nested(const struct rtattr *nest, const struct rtattr **tb,
			int max);

/* The attribute's value, or dflt if it is absent or too short. */
__u32 sw_nl_u32(const struct rtattr *a, __u32 dflt);
__u64 sw_nl_u64(const struct rtattr *a, __u64 dflt);

#endif /* SW_LIB_NETLINK_H */
