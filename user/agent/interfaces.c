// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The interfaces the datapath is attached to: those the configuration
 * names, and every link that matches one of its patterns (cali*, lxc*,
 * veth*), now and as pods come and go. The first entry a link matches says
 * how it is attached.
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

static int remember(struct sw_attached **list, int *n, int ifindex,
		    const char *name, const struct sw_iface_config *entry)
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
	(*n)++;
	return 0;
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

		if (!entry)
			continue;
		err = sw_datapath_attach(&a->dp, l->if_name, entry->attach, e);
		if (!err && remember(&want, &n_want, l->if_index, l->if_name,
				     entry))
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

/* A link that exists now: attach it if a pattern wants it. */
static void link_here(struct agent *a, const struct sw_link_event *ev)
{
	struct sw_attached *f = attached(a, ev->ifindex);
	const struct sw_iface_config *entry = entry_for(&a->cfg, ev->name);
	struct sw_error e = {};

	if (f && !strcmp(f->name, ev->name))
		return;			/* a change of state */
	if (f) {			/* renamed: its XDP pin has the old name */
		log_info("interface %s is now %s", f->name, ev->name);
		if (sw_detach(a->dp.pin_dir, f->name, &e))
			log_warn("%s", e.msg);
		forget(a, f);
	}
	if (!entry)
		return;
	if (sw_datapath_attach(&a->dp, ev->name, entry->attach, &e)) {
		log_warn("interface %s appeared (matches %s) but cannot be "
			 "attached: %s", ev->name, entry->name, e.msg);
		return;
	}
	if (remember(&a->ifaces, &a->n_ifaces, ev->ifindex, ev->name, entry)) {
		log_error("interface %s: out of memory", ev->name);
		return;
	}
	log_info("interface %s appeared (matches %s): attached, %s mode",
		 ev->name, entry->name, sw_attach_mode_name(entry->attach));
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
