// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The steering policy route over raw rtnetlink: per family, one rule
 * (fwmark -> table) and one route (local default via lo in that table).
 *
 * Every change is decided from a dump, not from the kernel's answer alone:
 * - RTM_NEWRULE without NLM_F_EXCL (older ip(8)) adds a second identical
 *   rule; with NLM_F_EXCL, the kernel's "identical" ignores "not" (the
 *   invert flag);
 * - RTM_DELRULE deletes the first rule, in list order, that has the
 *   attributes sent, whatever else it has: "fwmark 0x53 iif eth0 lookup 153"
 *   is taken for "fwmark 0x53 lookup 153" if it comes first.
 * So we look first, and ask for a change only when it hits exactly ours.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/fib_rules.h>

#include "spillway/defaults.h"
#include "lib/netlink.h"
#include "datapath/route.h"

#define FWMASK_EXACT 0xffffffffu

/* One request: header, family header (both are 12 bytes), a few attributes. */
struct nl_req {
	struct nlmsghdr nh;
	union {
		struct fib_rule_hdr frh;
		struct rtmsg rtm;
	};
	char attrs[64];		/* at most five attributes: 40 bytes */
};

/* One of the four objects: the rule or the route, in one family. */
struct target {
	const struct sw_steer_route *r;
	int family;		/* AF_INET or AF_INET6 */
	bool rule;		/* the rule, else the local route */
	int lo;			/* ifindex of lo in this namespace */
};

/* What a dump showed about a target. */
struct scan {
	bool found;		/* ours is there */
	/*
	 * Rules only: the protocol of (the first of) ours, and whether a
	 * look-alike RTM_DELRULE would take for it comes before it: any
	 * look-alike (ours untagged), or one tagged SW_ROUTE_PROTO too.
	 */
	__u8 proto;
	bool before_any, before_tagged;
};

static int ipv(const struct target *t)
{
	return t->family == AF_INET ? 4 : 6;
}

static const char *describe(const struct target *t, char *buf, size_t len)
{
	if (t->rule)
		snprintf(buf, len, "IPv%d rule 'fwmark 0x%x lookup %u pref %u'",
			 ipv(t), t->r->mark, t->r->table, t->r->pref);
	else
		snprintf(buf, len,
			 "IPv%d route 'local default dev lo table %u'",
			 ipv(t), t->r->table);
	return buf;
}

/* What to do about err, for a platform engineer. */
static const char *hint(int err)
{
	switch (err) {
	case -EPERM:
	case -EACCES:
		return " (run as root or with CAP_NET_ADMIN)";
	case -EAFNOSUPPORT:
		return " (is IPv6 disabled on this kernel, ipv6.disable=1?)";
	default:
		return "";
	}
}

static int nl_open(struct sw_nl *nl, struct sw_error *e)
{
	int err = sw_nl_open(nl, NETLINK_ROUTE);

	if (err)
		return sw_fail(e, err,
			       "cannot open a rtnetlink socket to set up the "
			       "steering route: %s", strerror(-err));
	return 0;
}

static void put_u32(struct nl_req *req, __u16 type, __u32 v)
{
	sw_nl_put(&req->nh, sizeof(*req), type, &v, sizeof(v));
}

static void put_u8(struct nl_req *req, __u16 type, __u8 v)
{
	sw_nl_put(&req->nh, sizeof(*req), type, &v, sizeof(v));
}

static void build_header(struct nl_req *req, __u16 type, __u16 flags)
{
	memset(req, 0, sizeof(*req));
	req->nh.nlmsg_len = NLMSG_LENGTH(sizeof(req->frh));
	req->nh.nlmsg_type = type;
	req->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
}

/* Table ids above 255 only fit the attribute; the header says "see it". */
static __u8 header_table(__u32 table)
{
	return table < 256 ? table : RT_TABLE_UNSPEC;
}

/* fwmark MARK/0xffffffff lookup TABLE pref PREF [proto PROTO (not 0)] */
static void build_rule(struct nl_req *req, __u16 type, __u16 flags,
		       const struct target *t, __u8 proto)
{
	build_header(req, type, flags);
	req->frh.family = t->family;
	req->frh.action = FR_ACT_TO_TBL;
	req->frh.table = header_table(t->r->table);
	put_u32(req, FRA_FWMARK, t->r->mark);
	put_u32(req, FRA_FWMASK, FWMASK_EXACT);
	put_u32(req, FRA_TABLE, t->r->table);
	put_u32(req, FRA_PRIORITY, t->r->pref);
	if (proto)
		put_u8(req, FRA_PROTOCOL, proto);
}

/*
 * local default dev lo table TABLE [proto PROTO (0: any, for deletes)];
 * no RTA_DST: a /0 has no address.
 */
static void build_route(struct nl_req *req, __u16 type, __u16 flags,
			const struct target *t, __u8 proto)
{
	build_header(req, type, flags);
	req->rtm.rtm_family = t->family;
	req->rtm.rtm_type = RTN_LOCAL;
	req->rtm.rtm_scope = RT_SCOPE_HOST;
	req->rtm.rtm_protocol = proto;
	req->rtm.rtm_table = header_table(t->r->table);
	put_u32(req, RTA_TABLE, t->r->table);
	put_u32(req, RTA_OIF, t->lo);
}

static void build_dump(struct nl_req *req, const struct target *t)
{
	build_header(req, t->rule ? RTM_GETRULE : RTM_GETROUTE, NLM_F_DUMP);
	if (t->rule)
		req->frh.family = t->family;
	else
		req->rtm.rtm_family = t->family;
}

/* A rule from a dump, as far as telling ours from others needs. */
struct rule_view {
	__u32 mark, mask, table, pref;
	__u8 family, action, proto;
	/*
	 * Nothing else selects packets or changes the lookup (no iif, oif,
	 * src, dst, "not", suppress_*, ...). Attributes we do not know count
	 * as selectors: newer kernels keep adding them.
	 */
	bool plain;
};

static bool read_rule(const struct nlmsghdr *nh, struct rule_view *v)
{
	const struct fib_rule_hdr *frh = NLMSG_DATA(nh);
	const struct rtattr *a;
	long len;

	if (nh->nlmsg_type != RTM_NEWRULE ||
	    nh->nlmsg_len < NLMSG_LENGTH(sizeof(*frh)))
		return false;
	memset(v, 0, sizeof(*v));
	v->family = frh->family;
	v->table = frh->table;
	v->action = frh->action;
	v->plain = !(frh->flags & FIB_RULE_INVERT) && !frh->src_len &&
		   !frh->dst_len && !frh->tos;
	a = (const void *)((const char *)frh + NLMSG_ALIGN(sizeof(*frh)));
	len = nh->nlmsg_len - NLMSG_SPACE(sizeof(*frh));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		switch (a->rta_type) {
		case FRA_FWMARK:
			v->mark = sw_nl_u32(a, 0);
			break;
		case FRA_FWMASK:
			v->mask = sw_nl_u32(a, 0);
			break;
		case FRA_TABLE:
			v->table = sw_nl_u32(a, v->table);
			break;
		case FRA_PRIORITY:
			v->pref = sw_nl_u32(a, 0);
			break;
		case FRA_PROTOCOL:
			if (RTA_PAYLOAD(a) >= 1)
				v->proto = *(const __u8 *)RTA_DATA(a);
			break;
		case FRA_SUPPRESS_PREFIXLEN:	/* dumped always; -1: unset */
		case FRA_SUPPRESS_IFGROUP:
			if (sw_nl_u32(a, 0) != (__u32)-1)
				v->plain = false;
			break;
		case FRA_PAD:
			break;
		default:
			v->plain = false;
		}
	}
	return true;
}

/*
 * Record a rule of the dump. RTM_DELRULE for ours would take any rule with
 * our action, mark, mask, table and pref (and protocol, if we name it):
 * ours is the plain one, the others are look-alikes.
 */
static void scan_rule(const struct nlmsghdr *nh, const struct target *t,
		      struct scan *s)
{
	struct rule_view v;

	if (s->found || !read_rule(nh, &v))
		return;
	if (v.family != t->family || v.action != FR_ACT_TO_TBL ||
	    v.mark != t->r->mark ||
	    v.mask != FWMASK_EXACT || v.table != t->r->table ||
	    v.pref != t->r->pref)
		return;
	if (v.plain) {
		s->found = true;
		s->proto = v.proto;
	} else {
		s->before_any = true;
		s->before_tagged |= v.proto == SW_ROUTE_PROTO;
	}
}

/* Ours: a local default route via lo in our table, whoever added it. */
static void scan_route(const struct nlmsghdr *nh, const struct target *t,
		       struct scan *s)
{
	const struct rtmsg *rtm = NLMSG_DATA(nh);
	const struct rtattr *tb[RTA_MAX + 1];

	if (nh->nlmsg_type != RTM_NEWROUTE ||
	    !sw_nl_parse(nh, sizeof(*rtm), tb, RTA_MAX))
		return;
	if (rtm->rtm_family == t->family && rtm->rtm_type == RTN_LOCAL &&
	    !rtm->rtm_dst_len && !rtm->rtm_src_len && !rtm->rtm_tos &&
	    sw_nl_u32(tb[RTA_TABLE], rtm->rtm_table) == t->r->table &&
	    sw_nl_u32(tb[RTA_OIF], 0) == (__u32)t->lo)
		s->found = true;
}

/* A dump reply: recorded in the scan of the target being looked for. */
struct finding {
	const struct target *t;
	struct scan *s;
};

static int on_dump_reply(const struct nlmsghdr *nh, void *arg)
{
	struct finding *f = arg;

	if (f->t->rule)
		scan_rule(nh, f->t, f->s);
	else
		scan_route(nh, f->t, f->s);
	return 0;
}

/* ": <strerror> (kernel: <extack>)<hint>" for the end of a message. */
static const char *why(const struct sw_nl *nl, int err, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s", strerror(-err),
		 nl->extack[0] ? " (kernel: " : "", nl->extack,
		 nl->extack[0] ? ")" : "", hint(err));
	return buf;
}

/* Dump t's kind in t's family and record what is there in s. */
static int find(struct sw_nl *nl, const struct target *t, struct scan *s,
		struct sw_error *e)
{
	char what[96], reason[384];
	struct finding f = { t, s };
	struct nl_req req;
	int err;

	memset(s, 0, sizeof(*s));
	build_dump(&req, t);
	err = sw_nl_talk(nl, &req.nh, on_dump_reply, &f);
	if (err)
		return sw_fail(e, err, "cannot look for the steering %s: "
			       "listing the IPv%d %ss failed: %s",
			       describe(t, what, sizeof(what)), ipv(t),
			       t->rule ? "rule" : "route",
			       why(nl, err, reason, sizeof(reason)));
	return 0;
}

/* Ask for one change (RTM_NEW* or RTM_DEL*) of t; 0 or -errno, no message. */
static int change(struct sw_nl *nl, const struct target *t, __u16 type,
		  __u16 flags, __u8 proto)
{
	struct nl_req req;

	if (t->rule)
		build_rule(&req, type, flags, t, proto);
	else
		build_route(&req, type, flags, t, proto);
	return sw_nl_talk(nl, &req.nh, NULL, NULL);
}

static int ensure_one(struct sw_nl *nl, const struct target *t,
		      struct sw_error *e)
{
	char what[96], reason[384];
	struct scan s;
	int err;

	err = find(nl, t, &s, e);
	if (err || s.found)
		return err;
	err = change(nl, t, t->rule ? RTM_NEWRULE : RTM_NEWROUTE,
		     NLM_F_CREATE | NLM_F_EXCL, SW_ROUTE_PROTO);
	if (!err)
		return 0;
	if (err != -EEXIST)
		return sw_fail(e, err, "cannot add the steering %s: %s",
			       describe(t, what, sizeof(what)),
			       why(nl, err, reason, sizeof(reason)));
	/*
	 * EEXIST: either someone added ours since we looked (fine), or
	 * something we do not take for ours is in the way: for a route,
	 * another default route in the table (the table is someone else's).
	 */
	err = find(nl, t, &s, e);
	if (err || s.found)
		return err;
	if (t->rule)
		return sw_fail(e, -EEXIST,
			       "cannot add the steering %s: the kernel has a "
			       "rule it considers the same; look at it with "
			       "'ip -%d -d rule show pref %u' and remove it",
			       describe(t, what, sizeof(what)), ipv(t),
			       t->r->pref);
	return sw_fail(e, -EEXIST,
		       "cannot add the steering %s: routing table %u already "
		       "has another IPv%d default route ('ip -%d route show "
		       "table %u'); choose a table of spillway's own, or "
		       "remove that route",
		       describe(t, what, sizeof(what)), t->r->table, ipv(t),
		       ipv(t), t->r->table);
}

/*
 * Delete ours, naming its protocol when it is spillway's. When a rule the
 * kernel would take for ours comes first, delete nothing: better a rule left
 * behind than someone else's rule gone.
 */
static int remove_once(struct sw_nl *nl, const struct target *t,
		       const struct scan *s, struct sw_error *e)
{
	char what[96], reason[384];
	__u8 proto = 0;
	int err;

	if (t->rule && s->proto == SW_ROUTE_PROTO)
		proto = SW_ROUTE_PROTO;
	if (t->rule && (proto ? s->before_tagged : s->before_any))
		return sw_fail(e, -EBUSY,
			       "cannot remove the steering %s: a rule with the "
			       "same mark, table and pref but more conditions "
			       "comes before it, and the kernel would delete "
			       "that one instead; see 'ip -%d rule show pref "
			       "%u', and remove or move that rule first",
			       describe(t, what, sizeof(what)), ipv(t),
			       t->r->pref);
	err = change(nl, t, t->rule ? RTM_DELRULE : RTM_DELROUTE, 0, proto);
	/* Gone meanwhile is what we wanted. */
	if (err && err != -ENOENT && err != -ESRCH)
		return sw_fail(e, err, "cannot remove the steering %s: %s",
			       describe(t, what, sizeof(what)),
			       why(nl, err, reason, sizeof(reason)));
	return 0;
}

/* Rounds of remove_one: ours may be there more than once (old ip(8)). */
#define MAX_REMOVE_ROUNDS 16

static int remove_one(struct sw_nl *nl, const struct target *t,
		      struct sw_error *e)
{
	char what[96];
	struct scan s;
	int err;

	for (int i = 0; i < MAX_REMOVE_ROUNDS; i++) {
		err = find(nl, t, &s, e);
		if (err || !s.found)
			return err;
		err = remove_once(nl, t, &s, e);
		if (err)
			return err;
	}
	return sw_fail(e, -EAGAIN,
		       "cannot remove the steering %s: still there after %d "
		       "deletions; is another program (a second spillway "
		       "agent?) adding it back?",
		       describe(t, what, sizeof(what)), MAX_REMOVE_ROUNDS);
}

static int check_config(const struct sw_steer_route *r, struct sw_error *e)
{
	if (!r->mark)
		return sw_fail(e, -EINVAL,
			       "steering route: mark 0 is not allowed: a rule "
			       "for mark 0 would deliver every unmarked packet "
			       "locally; choose a non-zero mark");
	if (!r->table || r->table == RT_TABLE_DEFAULT ||
	    r->table == RT_TABLE_MAIN || r->table == RT_TABLE_LOCAL)
		return sw_fail(e, -EINVAL,
			       "steering route: table %u is reserved by the "
			       "kernel (0, 253 default, 254 main, 255 local); "
			       "choose a table of spillway's own", r->table);
	if (!r->pref || r->pref >= 32766)
		return sw_fail(e, -EINVAL,
			       "steering route: rule preference %u must be "
			       "from 1 to 32765, after the local table's rule "
			       "and before the main table's", r->pref);
	return 0;
}

enum walk { WALK_ENSURE, WALK_REMOVE, WALK_PRESENT };

/*
 * Visit the four objects. Ensure adds the routes before the rules, so that
 * a failure (the table is someone else's) never leaves a rule sending marked
 * packets into a table that is not ours. Remove takes the rules away first,
 * so that a rule a failure leaves behind still has its route.
 */
static int walk(const struct sw_steer_route *r, enum walk op, bool *present,
		struct sw_error *e)
{
	static const int families[] = { AF_INET, AF_INET6 };
	bool rules_first = op == WALK_REMOVE;
	struct target t = { .r = r };
	struct scan s;
	struct sw_nl nl;
	int err;

	if (present)
		*present = false;
	err = check_config(r, e);
	if (err)
		return err;
	t.lo = if_nametoindex("lo");
	if (!t.lo)
		return sw_fail(e, -ENODEV, "steering route: no loopback "
			       "interface 'lo' in this network namespace: %s",
			       strerror(errno));
	err = nl_open(&nl, e);
	if (err)
		return err;
	if (present)
		*present = true;
	for (int pass = 0; pass < 2 && !err; pass++) {
		t.rule = pass == 0 ? rules_first : !rules_first;
		for (size_t i = 0; i < 2 && !err; i++) {
			t.family = families[i];
			switch (op) {
			case WALK_ENSURE:
				err = ensure_one(&nl, &t, e);
				break;
			case WALK_REMOVE:
				err = remove_one(&nl, &t, e);
				break;
			case WALK_PRESENT:
				err = find(&nl, &t, &s, e);
				if (!err && !s.found)
					*present = false;
				break;
			}
		}
	}
	sw_nl_close(&nl);
	if (err && present)
		*present = false;
	return err;
}

int sw_steer_route_ensure(const struct sw_steer_route *r, struct sw_error *e)
{
	return walk(r, WALK_ENSURE, NULL, e);
}

int sw_steer_route_remove(const struct sw_steer_route *r, struct sw_error *e)
{
	return walk(r, WALK_REMOVE, NULL, e);
}

int sw_steer_route_present(const struct sw_steer_route *r, bool *present,
			   struct sw_error *e)
{
	return walk(r, WALK_PRESENT, present, e);
}
