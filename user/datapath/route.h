/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The policy route that delivers steered packets to the local stack. The
 * datapath marks every packet it assigns to the tunnel endpoint; without a
 * route saying "marked packets are local" the kernel would forward them (or
 * drop them) before the assigned socket ever sees them. Equivalent to:
 *
 *   ip rule add fwmark MARK lookup TABLE pref PREF
 *   ip route add local 0.0.0.0/0 dev lo table TABLE
 *   ip -6 rule add fwmark MARK lookup TABLE pref PREF
 *   ip -6 route add local ::/0 dev lo table TABLE
 *
 * Rules and routes spillway adds carry protocol 83 ("proto 83" in ip rule
 * show), which lets remove name exactly its own. All calls work in the
 * calling thread's network namespace and need CAP_NET_ADMIN to change
 * anything. Errors are negative errno values, explained in e.
 */
#ifndef SW_DATAPATH_ROUTE_H
#define SW_DATAPATH_ROUTE_H

#include <stdbool.h>
#include <linux/types.h>

#include "lib/error.h"

struct sw_steer_route {
	__u32 mark;	/* fwmark the datapath sets; SW_DEFAULT_STEER_MARK */
	__u32 table;	/* routing table of the local default route */
	__u32 pref;	/* rule preference; must come before main (32766) */
};

/*
 * Make sure both rules and both local routes exist. Idempotent: what already
 * exists is kept (also if added by hand), nothing is duplicated. -EEXIST if
 * the table already holds a different default route (another system owns
 * that table); -EINVAL for mark 0, a reserved table (0, 253-255) or a pref
 * outside 1..32765.
 */
int sw_steer_route_ensure(const struct sw_steer_route *r, struct sw_error *e);

/*
 * Remove exactly ours: rules with the same mark, table and pref and no other
 * condition, and the local default route via lo in that table. Absent is
 * fine; rules and routes that merely look alike (another table, another
 * pref, an extra iif) are left alone. -EBUSY, deleting nothing more, if a
 * hand-added rule of ours comes after such a look-alike: the kernel's delete
 * would hit the look-alike.
 */
int sw_steer_route_remove(const struct sw_steer_route *r, struct sw_error *e);

/* Both rules and both routes present? (for status and tests) */
int sw_steer_route_present(const struct sw_steer_route *r, bool *present,
			   struct sw_error *e);

#endif /* SW_DATAPATH_ROUTE_H */
