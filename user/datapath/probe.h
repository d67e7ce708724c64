/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the running kernel offers the datapath, found by asking it: tiny
 * programs loaded and thrown away, a clsact qdisc and an XDP link tried in a
 * scratch network namespace, generic netlink for a driver's XDP support.
 * Nothing is taken from the version number: distributions backport and
 * patch, and this project's own kernel refuses a helper from Linux 4.15.
 */
#ifndef SW_DATAPATH_PROBE_H
#define SW_DATAPATH_PROBE_H

#include <stdbool.h>
#include <stdio.h>

enum sw_feature {
	SW_FEATURE_BTF,
	SW_FEATURE_BPFFS,
	SW_FEATURE_SYSCALL_PROG,
	SW_FEATURE_ATOMIC_FETCH,
	SW_FEATURE_KTIME_COARSE,
	SW_FEATURE_SKC_LOOKUP,
	SW_FEATURE_SK_ASSIGN,
	SW_FEATURE_SK_LOOKUP_PROG,
	SW_FEATURE_CLSACT,
	SW_FEATURE_XDP_SK_LOOKUP,
	SW_FEATURE_XDP_LINK,
	SW_FEATURE_XDP_META,
	SW_FEATURE_COUNT,
};

enum sw_presence {
	SW_ABSENT,
	SW_PRESENT,
	SW_UNKNOWN,		/* could not ask: see sw_probe_why */
};

struct sw_feature_info {
	const char *name;	/* as reports print it */
	const char *since;	/* the mainline release that brought it */
	bool xdp_only;		/* needed for attach: xdp only, else everywhere */
	const char *without;	/* what spillway does without it */
	/* Asked in a scratch network namespace (needs CAP_SYS_ADMIN). */
	bool scratch;
};

const struct sw_feature_info *sw_feature_info(enum sw_feature f);

/* Ask the kernel (once per process; later calls return the answer). */
enum sw_presence sw_probe(enum sw_feature f);

/* Why a feature is SW_UNKNOWN ("" otherwise). */
const char *sw_probe_why(enum sw_feature f);

/* One interface, as `spillway check --kernel` reports it. */
struct sw_iface_report {
	char name[16];
	bool missing;		/* no such interface here */
	char driver[32];	/* "" if the driver does not say */
	enum sw_presence xdp_native; /* the driver runs XDP itself (Linux 6.3+ says) */
	char tc[64];		/* spillway's TC programs attached ("" none) */
	char xdp[32];		/* an XDP program attached: native, generic, ... */
};

int sw_probe_interface(const char *ifname, struct sw_iface_report *r);

/*
 * One line for the agent's log: the features every node needs, asked
 * without a scratch namespace, and what is missing and what that means.
 */
void sw_probe_summary(char *buf, size_t len);

/*
 * `spillway check --kernel`: every feature, then the interfaces given.
 * Returns how many features every node needs are missing.
 */
int sw_probe_report(FILE *out, bool json, const char *const *ifnames,
		    int n_ifnames);

#endif /* SW_DATAPATH_PROBE_H */
