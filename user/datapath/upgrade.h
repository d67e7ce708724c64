/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Upgrading pinned maps of an older layout version in place, so that a
 * rolling update of the agent keeps every tracked flow and counter instead
 * of refusing to start. Maps whose format did not change (flows, remotes,
 * ...) are adopted as they are; the services map is rebuilt:
 *
 *  1. sw_upgrade_begin, before the load: the new services map will be
 *     created and pinned under UPGRADE_DIR; the old one is kept open.
 *  2. sw_upgrade_copy, after the load: every service is converted into the
 *     new map, and what was copied is remembered.
 *  3. sw_upgrade_finish, once the new programs have replaced the old ones on
 *     every interface: wait until no old program can still be running, add
 *     what the old programs counted after the copy, and move the new map's
 *     pin over the old one.
 *
 * The flow table is shared all along, so a connection opened by an old
 * program and closed by a new one is released once, into the new map.
 */
#ifndef SW_DATAPATH_UPGRADE_H
#define SW_DATAPATH_UPGRADE_H

#include <stdbool.h>
#include <linux/types.h>

#include "spillway/abi.h"
#include "datapath/datapath.h"
#include "lib/error.h"

/* Where the rebuilt maps are pinned until the upgrade finishes. */
#define SW_UPGRADE_DIR "upgrading"

struct sw_upgrade;

/* What the services values of layouts 1 and 2 begin with. */
struct sw_service_head_v1 {
	struct sw_service_config cfg;
	__u32 flags;
	__u32 active_local;
	__u32 active_remote;
	__u64 local_total;
	__u64 overflowed_total;
	__u64 overflow_unavailable_total;
};

/* services value of layout 1, before local_fallback_total. */
struct sw_service_v1 {
	struct sw_service_head_v1 head;
	__u64 epoch;
};

/* services value of layout 2, before the handshake buckets. */
struct sw_service_v2 {
	struct sw_service_head_v1 head;
	__u64 local_fallback_total;
	__u64 epoch;
};

/* Whether this build can upgrade pinned maps of layout `version`. */
bool sw_upgrade_known(__u32 version);

/*
 * Before the load (dp->skel opened, not loaded). *up stays NULL when there
 * is nothing to rebuild: an earlier upgrade got as far as moving the pins.
 */
int sw_upgrade_begin(struct sw_datapath *dp, __u32 from, struct sw_upgrade **up,
		     struct sw_error *e);
/* After the load: copy the old services into the new map. */
int sw_upgrade_copy(struct sw_upgrade *up, struct sw_datapath *dp,
		    struct sw_error *e);
/* Once the new programs are attached wherever the old ones were. */
int sw_upgrade_finish(struct sw_upgrade *up, struct sw_datapath *dp,
		      struct sw_error *e);
__u32 sw_upgrade_from(const struct sw_upgrade *up);
/* Services carried over (after sw_upgrade_copy). */
__u32 sw_upgrade_services(const struct sw_upgrade *up);
void sw_upgrade_free(struct sw_upgrade *up);

#endif /* SW_DATAPATH_UPGRADE_H */
