/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Loading, pinning and attaching the datapath. Maps are pinned by name under
 * a pin directory; an existing set with the same layout version is adopted
 * (counters and flows survive), one of an older version user/upgrade.c knows
 * is upgraded in place (the same, once sw_datapath_finish_upgrade is done),
 * any other is refused. Attachments outlive the process: TC filters belong
 * to the interface, XDP links are pinned.
 */
#ifndef SW_DATAPATH_DATAPATH_H
#define SW_DATAPATH_DATAPATH_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <linux/types.h>

#include "lib/error.h"
#include "datapath/attach.h"

struct bpf_link;
struct spillway_bpf;
struct sw_upgrade;

/* Longest pin directory name (so every pin path fits in PATH_MAX). */
#define SW_PIN_DIR_MAX 256

/* How spill_xdp hands a decision to spill_tc_steer (bpf/handoff.h). */
enum sw_handoff {
	SW_HANDOFF_AUTO,	/* metadata where the kernel accepts it */
	SW_HANDOFF_METADATA,	/* a word in the packet's XDP metadata */
	SW_HANDOFF_FLOW_TABLE,	/* spill_tc_steer looks the flow up */
};

struct sw_datapath_opts {
	const char *pin_dir;	/* NULL: SW_DEFAULT_PIN_DIR */
	__u32 flow_capacity;	/* 0: the pinned table's, else the default */
	__u32 steer_mark;
	__u32 bypass_mark;
	enum sw_handoff handoff; /* XDP mode; tests force the flow table */
};

struct sw_datapath {
	/* The maps and the programs every node runs: spill_tc_in,
	 * spill_tc_out, spill_ctl. */
	struct spillway_bpf *skel;
	/* XDP mode's spill_xdp and spill_tc_steer, over skel's maps: loaded
	 * for the first interface in xdp mode (sw_datapath_load_xdp). */
	struct spillway_bpf *xdp;
	enum sw_handoff handoff; /* METADATA or FLOW_TABLE once xdp is loaded */
	struct sw_datapath_opts opts;	/* as opened (pin_dir: this pin_dir) */
	char pin_dir[SW_PIN_DIR_MAX];
	bool adopted;		/* pinned maps existed and were reused */
	struct sw_upgrade *upgrade; /* pinned maps of an older layout: upgrading */
	/* spill_sk_lookup's attachment to this namespace (datapath/lookup.h). */
	struct bpf_link *lookup;
};

/* An interface the datapath is attached to, and the entry that chose it. */
struct sw_attached {
	char name[IF_NAMESIZE];
	int ifindex;
	enum sw_attach_mode attach;
	char matched[IF_NAMESIZE];	/* the name or pattern configured */
	int bridge;			/* the bridge it is a port of; 0: none */
	char bridge_name[IF_NAMESIZE];
};

/* Route libbpf's messages to stderr: warnings always, debug if verbose. */
void sw_libbpf_log_init(bool verbose);

const char *sw_handoff_name(enum sw_handoff h);

/* The defaults of every option. */
void sw_datapath_opts_init(struct sw_datapath_opts *o);

int sw_datapath_open(struct sw_datapath *dp, const struct sw_datapath_opts *o,
		     struct sw_error *e);
/*
 * When sw_datapath_open found maps of an older layout (dp->upgrade), call
 * this once the new programs are attached wherever the old ones were: it
 * carries over what the old programs counted meanwhile and pins the new maps
 * in place of the old. Until then the old maps stay pinned, and a restart
 * starts the upgrade again. Nothing to do (0) otherwise.
 */
int sw_datapath_finish_upgrade(struct sw_datapath *dp, struct sw_error *e);
/* Close our handles; pins and attachments stay, but for lookup's. */
void sw_datapath_close(struct sw_datapath *dp);

/* Opened and loaded (an agent without interfaces never loads one). */
static inline bool sw_datapath_loaded(const struct sw_datapath *dp)
{
	return dp->skel != NULL;
}

/*
 * Load XDP mode's programs (sw_datapath_attach does, for the first
 * interface in xdp mode). The handoff is opts.handoff, AUTO resolved by
 * probing the kernel.
 */
int sw_datapath_load_xdp(struct sw_datapath *dp, struct sw_error *e);

/*
 * Turn NodePort matching on (a service has a node_port) or off, in every
 * instance of the programs, those loaded later included: while off, a
 * packet to no VIP costs nothing more.
 */
void sw_datapath_node_ports(struct sw_datapath *dp, bool on);

/*
 * True once a driver refused XDP metadata at run time: XDP mode has read
 * every decision from the flow table since.
 */
bool sw_datapath_meta_refused(const struct sw_datapath *dp);

/*
 * Paths under the pin directory. Pin directory names are limited to
 * SW_PIN_DIR_MAX (checked when the datapath opens), so these never truncate.
 */
void sw_pin_path(char *buf, size_t len, const char *dir, const char *name);

/*
 * Attach to an interface of the current network namespace, or switch its
 * mode: the interface ends up with exactly the programs of that mode.
 */
int sw_datapath_attach(struct sw_datapath *dp, const char *ifname,
		       enum sw_attach_mode mode, struct sw_error *e);

/*
 * A bridge whose ports the datapath is attached to (sw_link_bridge tells):
 * attach spill_tc_bridge to its ingress. A port's steering does not survive
 * the bridge where br_netfilter runs (bpf/spillway.bpf.c says why);
 * spill_tc_bridge steers the port's steered packets again, past it. It stays
 * until 'spillway down': it only acts on packets a port steered.
 */
int sw_datapath_attach_bridge(struct sw_datapath *dp, int ifindex,
			      struct sw_error *e);

/*
 * Remove our programs from one interface (needs no loaded datapath); a
 * bridge keeps spill_tc_bridge.
 */
int sw_detach(const char *pin_dir, const char *ifname, struct sw_error *e);

/*
 * Take the datapath down: our TC filters on every interface of the current
 * network namespace (bridges' spill_tc_bridge too), every pinned XDP link
 * (whatever namespace its interface is in), every pinned map, then pin_dir
 * itself. TC filters on interfaces of other namespaces have to be removed
 * from there.
 */
int sw_down(const char *pin_dir, struct sw_error *e);

#endif /* SW_DATAPATH_DATAPATH_H */
