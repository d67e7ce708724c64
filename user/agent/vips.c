// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Services whose VIPs come from their names (no vip written, e.g. name:
 * echo.default.svc.cluster.local): each name is looked up through the
 * node's resolver when it first appears and every agent.resolve_interval
 * after, off the event loop (lib/resolve.h). When a name's addresses change
 * (a Service re-created with a new ClusterIP), the configuration is applied
 * again with them: the maps follow live, connections already open keep
 * their slots. A name that stops resolving keeps its last addresses.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_priv.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/resolve.h"

struct agent_vip_name {
	struct agent *a;
	char name[SW_NAME_MAX + 1];
	struct sw_lookup_all lookup;
	int n;				/* addresses known; -1: never resolved */
	char addrs[SW_MAX_VIPS_PER_NAME][INET6_ADDRSTRLEN];	/* sorted */
	bool failing;			/* said: it does not resolve now */
	bool wanted;			/* still in the configuration */
};

static struct agent_vip_name *find(const struct agent *a, const char *name)
{
	for (int i = 0; i < a->n_vip_names; i++)
		if (!strcmp(a->vip_names[i]->name, name))
			return a->vip_names[i];
	return NULL;
}

int agent_vips_of(void *arg, const char *name, char (*out)[INET6_ADDRSTRLEN],
		  int max)
{
	const struct agent_vip_name *v = find(arg, name);
	int n = v && v->n > 0 ? (v->n < max ? v->n : max) : 0;

	for (int i = 0; i < n; i++)
		memcpy(out[i], v->addrs[i], sizeof(out[i]));
	return n;
}

static int by_text(const void *x, const void *y)
{
	return strcmp(x, y);
}

/* The addresses as sorted text, without repeats; their number. */
static int addr_texts(const struct sw_addr_list *l,
		      char (*out)[INET6_ADDRSTRLEN])
{
	int n = 0, m = 0;

	for (int i = 0; i < l->n; i++) {
		const struct sockaddr_storage *ss = &l->addr[i];
		const void *raw = ss->ss_family == AF_INET ?
			(const void *)&((const struct sockaddr_in *)ss)->sin_addr :
			(const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

		if (inet_ntop(ss->ss_family, raw, out[n], INET6_ADDRSTRLEN))
			n++;
	}
	qsort(out, n, sizeof(out[0]), by_text);
	for (int i = 0; i < n; i++)
		if (!m || strcmp(out[i], out[m - 1]))
			memmove(out[m++], out[i], sizeof(out[0]));
	return m;
}

static void join(char *buf, size_t len, char (*addrs)[INET6_ADDRSTRLEN], int n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 addrs[i]);
	if (!n)
		snprintf(buf, len, "none");
}

static void answered(struct sw_lookup_all *l, const struct sw_addr_list *list,
		     const char *err)
{
	struct agent_vip_name *v = l->owner;
	char now[SW_MAX_VIPS_PER_NAME][INET6_ADDRSTRLEN] = {};	/* compared whole */
	char was_text[SW_MAX_VIPS_PER_NAME * INET6_ADDRSTRLEN];
	char now_text[SW_MAX_VIPS_PER_NAME * INET6_ADDRSTRLEN];
	struct sw_error e = {};
	int n = err ? 0 : addr_texts(list, now);

	if (!n) {
		if (!v->failing)
			log_warn("service %s: the name does not resolve (%s): %s",
				 v->name, err ? err : "no address", v->n > 0 ?
				 "keeping its VIPs" : "not counted until it "
				 "resolves");
		v->failing = true;
		return;
	}
	if (v->failing)
		log_info("service %s: the name resolves again", v->name);
	v->failing = false;
	if (n == v->n && !memcmp(now, v->addrs, n * sizeof(now[0])))
		return;
	join(was_text, sizeof(was_text), v->addrs, v->n > 0 ? v->n : 0);
	join(now_text, sizeof(now_text), now, n);
	memcpy(v->addrs, now, n * sizeof(now[0]));
	v->n = n;
	log_info("service %s: VIPs %s (were %s)", v->name, now_text, was_text);
	if (agent_reapply(v->a, &e))
		log_error("service %s: applying its new VIPs failed: %s", v->name,
			  e.msg);
}

static void ask(struct agent_vip_name *v)
{
	if (v->lookup.q)
		return;			/* the last question is still out */
	v->lookup.done = answered;
	v->lookup.owner = v;
	if (sw_resolve_all(v->a->resolver, v->name, &v->lookup))
		log_error("service %s: cannot look the name up: out of memory",
			  v->name);
}

static void free_name(struct agent_vip_name *v)
{
	sw_lookup_all_cancel(&v->lookup);
	free(v);
}

char (*agent_vips_named(const struct sw_config *cfg, int *n))[SW_NAME_MAX + 1]
{
	char (*names)[SW_NAME_MAX + 1] = calloc(cfg->n_services + 1,
						sizeof(*names));

	*n = 0;
	for (int i = 0; names && i < cfg->n_services; i++)
		if (sw_service_named(&cfg->services[i]))
			memcpy(names[(*n)++], cfg->services[i].name,
			       sizeof(names[0]));
	return names;
}

void agent_vips_track(struct agent *a, char (*names)[SW_NAME_MAX + 1], int n)
{
	bool added = false;
	int kept = 0;

	for (int i = 0; i < a->n_vip_names; i++)
		a->vip_names[i]->wanted = false;
	for (int i = 0; i < n; i++) {
		struct agent_vip_name *v = find(a, names[i]), **more;

		if (!v) {
			more = realloc(a->vip_names,
				       (a->n_vip_names + 1) * sizeof(*more));
			if (more)
				a->vip_names = more;
			if (!more || !(v = calloc(1, sizeof(*v)))) {
				log_error("service %s: cannot follow its name: "
					  "out of memory", names[i]);
				continue;
			}
			a->vip_names[a->n_vip_names++] = v;
			v->a = a;
			v->n = -1;
			snprintf(v->name, sizeof(v->name), "%s", names[i]);
			added = true;
		}
		v->wanted = true;
	}
	for (int i = 0; i < a->n_vip_names; i++) {
		if (a->vip_names[i]->wanted)
			a->vip_names[kept++] = a->vip_names[i];
		else
			free_name(a->vip_names[i]);
	}
	a->n_vip_names = kept;
	if (added)
		sw_loop_later(a->loop, &a->vips_task);	/* ask the new ones now */
}

void agent_vips_resolve(struct agent *a, bool all)
{
	for (int i = 0; i < a->n_vip_names; i++)
		if (all || a->vip_names[i]->n < 0)
			ask(a->vip_names[i]);
}

void agent_vips_free(struct agent *a)
{
	for (int i = 0; i < a->n_vip_names; i++)
		free_name(a->vip_names[i]);
	free(a->vip_names);
	a->vip_names = NULL;
	a->n_vip_names = 0;
}
