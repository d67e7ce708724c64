// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The interfaces the datapath is attached to: those the configuration
 * names, and every link that matches one of its patterns (cali*, lxc*,
 * veth*), now and as pods come and go. The first entry a link matches says
 * how it is attached. A link that is a bridge's port (a bridge CNI's veth
 * under cni0) has the bridge steer too (sw_datapath_attach_bridge).
 */
#include <errno.h>
#include <fnmatch.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_priv.h"
#include "datapath/control.h"
#include "datapath/datapath.h"
#include "lib/links.h"
#include "lib/log.h"

/* The first entry of cfg that names or matches a link; NULL if none. */
static const struct sw_iface_config *entry_for(const struct sw_config *cfg,
					       const char *name)
{
	for (int i = 0; i < cfg->n_interfaces; i++) {
		const char *want = cfg->interfaces[i].name;

		if (sw_ifname_is_pattern(want) ? !fnmatch(want, name, 0) :
						 !strcmp(want, name))
			return &cfg->interfaces[i];
	}
	return NULL;
}

static struct sw_attached *attached(struct agent *a, int ifindex)
{
	for (int i = 0; i < a->n_ifaces; i++)
		if (a->ifaces[i].ifindex == ifindex)
			return &a->ifaces[i];
	return NULL;
}

/* A bridge port's bridge; the name as it is now, for status. */
static void set_bridge(struct sw_attached *f, int bridge)
{
	f->bridge = bridge;
	if (!bridge || !if_indextoname(bridge, f->bridge_name))
		f->bridge_name[0] = '\0';
}

static int remember(struct sw_attached **list, int *n, int ifindex,
		    const char *name, const struct sw_iface_config *entry,
		    int bridge)
{
	struct sw_attached *more = realloc(*list, (*n + 1) * sizeof(**list));

	if (!more)
		return -ENOMEM;
	*list = more;
	more[*n] = (struct sw_attached){ .ifindex = ifindex,
					 .attach = entry->attach };
	snprintf(more[*n].name, sizeof(more[*n].name), "%s", name);
	snprintf(more[*n].matched, sizeof(more[*n].matched), "%s",
		 entry->name);
	set_bridge(&more[*n], bridge);
	(*n)++;
	return 0;
}

/*
 * Attach to a link as entry says, its bridge (0: none) first: a port must
 * never steer what its bridge would not deliver.
 */
static int attach_link(struct agent *a, const char *name, int bridge,
		       const struct sw_iface_config *entry, struct sw_error *e)
{
	int err = bridge ? sw_datapath_attach_bridge(&a->dp, bridge, e) : 0;

	return err ? err : sw_datapath_attach(&a->dp, name, entry->attach, e);
}

static void forget(struct agent *a, struct sw_attached *f)
{
	*f = a->ifaces[--a->n_ifaces];
}

int agent_ifaces_apply(struct agent *a, const struct sw_config *next,
		       struct sw_error *e)
{
	struct if_nameindex *links = if_nameindex(), *l;
	struct sw_attached *want = NULL;
	int n_want = 0, err = 0;

	if (!links)
		return sw_fail(e, -errno, "cannot list this network namespace's "
			       "links: %s", strerror(errno));
	for (l = links; !err && l->if_index; l++) {
		const struct sw_iface_config *entry = entry_for(next, l->if_name);
		int bridge;

		if (!entry)
			continue;
		bridge = sw_link_bridge(l->if_index, e);
		err = bridge < 0 ? bridge :
				   attach_link(a, l->if_name, bridge, entry, e);
		if (!err && remember(&want, &n_want, l->if_index, l->if_name,
				     entry, bridge))
			err = sw_fail(e, -ENOMEM, "out of memory");
	}
	if_freenameindex(links);
	/* What was attached and is no longer wanted lets go. */
	for (int i = 0; !err && i < a->n_ifaces; i++) {
		bool kept = false;

		for (int k = 0; k < n_want && !kept; k++)
			kept = want[k].ifindex == a->ifaces[i].ifindex;
		if (!kept)
			err = sw_detach(a->dp.pin_dir, a->ifaces[i].name, e);
	}
	if (err) {
		free(want);
		return err;
	}
	free(a->ifaces);
	a->ifaces = want;
	a->n_ifaces = n_want;
	return 0;
}

/*
 * An attached link joined a bridge (a bridge CNI makes the veth, then puts
 * it under cni0): the bridge steers too from now on, or the link lets go.
 * Or it left one (bridge 0).
 */
static void bridge_changed(struct agent *a, struct sw_attached *f, int bridge)
{
	struct sw_error e = {}, d = {};

	if (!bridge) {
		set_bridge(f, 0);
		return;
	}
	if (sw_datapath_attach_bridge(&a->dp, bridge, &e)) {
		if (sw_detach(a->dp.pin_dir, f->name, &d))
			log_warn("%s", d.msg);
		log_warn("interface %s joined a bridge that cannot steer its "
			 "spilled connections: detached from %s (its clients' "
			 "connections are neither counted nor spilled): %s",
			 f->name, f->name, e.msg);
		forget(a, f);
		return;
	}
	set_bridge(f, bridge);
	log_info("interface %s joined bridge %s: %s steers its spilled "
		 "connections too", f->name, f->bridge_name, f->bridge_name);
}

/* A link that exists now: attach it if a pattern wants it. */
static void link_here(struct agent *a, const struct sw_link_event *ev)
{
	struct sw_attached *f = attached(a, ev->ifindex);
	const struct sw_iface_config *entry = entry_for(&a->cfg, ev->name);
	struct sw_error e = {};

	if (f && !strcmp(f->name, ev->name)) {	/* a change of state */
		if (ev->bridge != f->bridge)
			bridge_changed(a, f, ev->bridge);
		return;
	}
	if (f) {			/* renamed: its XDP pin has the old name */
		log_info("interface %s is now %s", f->name, ev->name);
		if (sw_detach(a->dp.pin_dir, f->name, &e))
			log_warn("%s", e.msg);
		forget(a, f);
	}
	if (!entry)
		return;
	if (attach_link(a, ev->name, ev->bridge, entry, &e)) {
		log_warn("interface %s appeared (matches %s) but cannot be "
			 "attached: %s", ev->name, entry->name, e.msg);
		return;
	}
	if (remember(&a->ifaces, &a->n_ifaces, ev->ifindex, ev->name, entry,
		     ev->bridge)) {
		log_error("interface %s: out of memory", ev->name);
		return;
	}
	f = &a->ifaces[a->n_ifaces - 1];
	log_info("interface %s appeared (matches %s): attached, %s mode%s%s",
		 ev->name, entry->name, sw_attach_mode_name(entry->attach),
		 f->bridge ? ", a port of bridge " : "", f->bridge_name);
}

static void link_gone(struct agent *a, const struct sw_link_event *ev)
{
	struct sw_attached *f = attached(a, ev->ifindex);
	struct sw_error e = {};

	__u32 released = 0;

	if (!f)
		return;
	/* Its filters went with it; an XDP link's pin stays until removed. */
	if (sw_detach(a->dp.pin_dir, f->name, &e))
		log_warn("%s", e.msg);
	/* Its clients' connections vanished with them: free their slots. */
	if (sw_link_gone(&a->dp, f->ifindex, &released, &e))
		log_warn("%s", e.msg);
	a->flows_released_link_gone += released;
	log_info("interface %s (matched %s) is gone: %u flow(s) of its clients "
		 "released", f->name, f->matched, released);
	forget(a, f);
}

static void on_link(void *arg, const struct sw_link_event *ev)
{
	struct agent *a = arg;

	if (ev->gone)
		link_gone(a, ev);
	else
		link_here(a, ev);
}

/* One address of getifaddrs' list as a node_addrs key; false: not IP. */
static bool node_addr_key(const struct sockaddr *sa, struct sw_node_addr_key *k)
{
	memset(k, 0, sizeof(*k));
	if (sa && sa->sa_family == AF_INET) {
		memcpy(k->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		k->family = SW_INET;
	} else if (sa && sa->sa_family == AF_INET6) {
		memcpy(k->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		k->family = SW_INET6;
	}
	return k->family != 0;
}

void agent_node_addrs_sync(struct agent *a)
{
	bool on = sw_config_has_node_ports(&a->cfg);
	struct sw_node_addr_key *keys = NULL, *more;
	struct ifaddrs *ifs = NULL;
	struct sw_error e = {};
	int n = 0;

	if (!sw_datapath_loaded(&a->dp))
		return;
	if (on && getifaddrs(&ifs)) {
		log_warn("NodePorts: cannot list the node's addresses: %s; "
			 "matching on those known before", strerror(errno));
		return;
	}
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		more = realloc(keys, (n + 1) * sizeof(*keys));
		if (!more)
			break;
		keys = more;
		n += node_addr_key(i->ifa_addr, &keys[n]);
	}
	freeifaddrs(ifs);
	if (sw_node_addrs_set(&a->dp, keys, n, &e))
		log_warn("NodePorts: %s", e.msg);
	else if (on && n != a->n_node_addrs)
		log_info("NodePorts: matched on the node's %d address(es)", n);
	a->n_node_addrs = on ? n : 0;
	free(keys);
	sw_datapath_node_ports(&a->dp, on);
}

void agent_ifaces_changed(struct agent *a)
{
	struct sw_error e = {};
	int addrs;

	if (!sw_datapath_loaded(&a->dp)) {
		sw_links_read(a->links_io.fd, NULL, NULL);
		return;
	}
	addrs = sw_links_read(a->links_io.fd, on_link, a);
	if (addrs && sw_config_has_node_ports(&a->cfg))
		agent_node_addrs_sync(a);
	if (addrs != -ENOBUFS)
		return;
	/* Events were lost: look at every link again. */
	log_warn("link events were lost (too many at once): looking at every "
		 "interface again");
	if (agent_ifaces_apply(a, &a->cfg, &e))
		log_warn("%s", e.msg);
}
