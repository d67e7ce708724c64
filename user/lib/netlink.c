// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/netlink.h"

int sw_nl_open(struct sw_nl *nl, int protocol)
{
	int one = 1;

	nl->seq = 0;
	nl->extack[0] = '\0';
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
	if (nl->fd < 0)
		return -errno;
	/*
	 * Best effort, both: the kernel's own words make errors clearer, and
	 * acks need not echo our request back.
	 */
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return 0;
}

void sw_nl_close(struct sw_nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

void sw_nl_put(struct nlmsghdr *msg, size_t cap, __u16 type, const void *data,
	       size_t len)
{
	__u32 off = NLMSG_ALIGN(msg->nlmsg_len);
	struct rtattr *a = (void *)((char *)msg + off);

	assert(off + RTA_SPACE(len) <= cap);
	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	msg->nlmsg_len = off + RTA_SPACE(len);
}

/* The len bytes of attributes from a, by type. */
static void parse_attrs(const struct rtattr *a, long len,
			const struct rtattr **tb, int max)
{
	memset(tb, 0, sizeof(*tb) * (max + 1));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		/* Generic netlink sets flag bits above the type. */
		__u16 type = a->rta_type & NLA_TYPE_MASK;

		if (type <= max)
			tb[type] = a;
	}
}

bool sw_nl_parse(const struct nlmsghdr *nh, size_t hdrlen,
		 const struct rtattr **tb, int max)
{
	if (nh->nlmsg_len < NLMSG_LENGTH(hdrlen))
		return false;
	parse_attrs((const void *)((const char *)NLMSG_DATA(nh) +
				   NLMSG_ALIGN(hdrlen)),
		    nh->nlmsg_len - NLMSG_SPACE(hdrlen), tb, max);
	return true;
}

void sw_nl_parse_nested(const struct rtattr *nest, const struct rtattr **tb,
			int max)
{
	parse_attrs(RTA_DATA(nest), RTA_PAYLOAD(nest), tb, max);
}

/* Copy len bytes of the attribute's value into v, if it has them. */
static bool attr_value(const struct rtattr *a, void *v, size_t len)
{
	if (!a || RTA_PAYLOAD(a) < len)
		return false;
	memcpy(v, RTA_DATA(a), len);
	return true;
}

__u32 sw_nl_u32(const struct rtattr *a, __u32 dflt)
{
	__u32 v;

	return attr_value(a, &v, sizeof(v)) ? v : dflt;
}

__u64 sw_nl_u64(const struct rtattr *a, __u64 dflt)
{
	__u64 v;

	return attr_value(a, &v, sizeof(v)) ? v : dflt;
}

/* Keep the kernel's explanation (NLMSGERR_ATTR_MSG) of an error, if any. */
static void keep_extack(struct sw_nl *nl, const struct nlmsghdr *nh)
{
	const struct nlmsgerr *err = NLMSG_DATA(nh);
	const struct rtattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t hdrlen = sizeof(*err);

	nl->extack[0] = '\0';
	if (!(nh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* Without NETLINK_CAP_ACK the request's payload comes back too. */
	if (!(nh->nlmsg_flags & NLM_F_CAPPED)) {
		if (err->msg.nlmsg_len < sizeof(err->msg))
			return;
		hdrlen += err->msg.nlmsg_len - sizeof(err->msg);
	}
	if (!sw_nl_parse(nh, hdrlen, tb, NLMSGERR_ATTR_MAX) ||
	    !tb[NLMSGERR_ATTR_MSG])
		return;
	snprintf(nl->extack, sizeof(nl->extack), "%.*s",
		 (int)RTA_PAYLOAD(tb[NLMSGERR_ATTR_MSG]),
		 (const char *)RTA_DATA(tb[NLMSGERR_ATTR_MSG]));
}

/*
 * One reply to the current request: 1 to read on, or the verdict (0 or
 * -errno) if this is the ack or the end of the dump, or on_reply said stop.
 */
static int take_reply(struct sw_nl *nl, const struct nlmsghdr *nh,
		      sw_nl_reply_fn on_reply, void *arg)
{
	int err;

	if (nh->nlmsg_seq != nl->seq)
		return 1;	/* a late reply to an earlier request */
	switch (nh->nlmsg_type) {
	case NLMSG_ERROR:	/* the ack: error 0 is success */
		if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
			return -EBADMSG;
		keep_extack(nl, nh);
		err = ((const struct nlmsgerr *)NLMSG_DATA(nh))->error;
		return err > 0 ? -EPROTO : err;
	case NLMSG_DONE:	/* a dump that failed midway says so here */
		if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(err)))
			return 0;
		memcpy(&err, NLMSG_DATA(nh), sizeof(err));
		return err > 0 ? -EPROTO : err;
	default:
		err = on_reply ? on_reply(nh, arg) : 0;
		return err < 0 ? err : 1;
	}
}

int sw_nl_talk(struct sw_nl *nl, struct nlmsghdr *req, sw_nl_reply_fn on_reply,
	       void *arg)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	const struct nlmsghdr *nh;
	ssize_t n;
	int ret;

	nl->extack[0] = '\0';
	req->nlmsg_seq = ++nl->seq;
	if (sendto(nl->fd, req, req->nlmsg_len, 0,
		   (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		n = recv(nl->fd, nl->buf, sizeof(nl->buf), MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if ((size_t)n > sizeof(nl->buf))
			return -EMSGSIZE;
		nh = (const void *)nl->buf;
		for (; NLMSG_OK(nh, n); nh = NLMSG_NEXT(nh, n)) {
			ret = take_reply(nl, nh, on_reply, arg);
			if (ret <= 0)
				return ret;
		}
	}
}
