/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Work userspace asks the kernel to do through spill_ctl, because it must be
 * atomic with respect to the datapath:
 *  - service_set changes a service's configuration in place, so the live
 *    counters beside it are never overwritten by a map update;
 *  - collect expires flows and releases their slots with the very function
 *    the datapath uses, so a slot is released exactly once whoever gets
 *    there first, and removes flows only through a claim no packet holds;
 *    it ages the services' unacknowledged handshakes (handshake.h);
 *  - flow_fall_back moves a spilled flow's slot to local when the agent
 *    serves it here, racing safely with its release;
 *  - service_add adds to a service's counters while packets count too (a
 *    layout upgrade carries over what the old programs counted);
 *  - link_gone releases the flows of clients behind a link that went.
 */
#ifndef SW_BPF_CONTROL_H
#define SW_BPF_CONTROL_H

#include "flow.h"
#include "stats.h"

static __always_inline int service_set(const struct sw_service_key *ukey,
				       const struct sw_service_config *ucfg)
{
	struct sw_service_key key = *ukey;
	struct sw_service_config cfg = *ucfg;
	struct sw_service fresh = {}, *svc;
	__u32 bit = filter_bit(&key);
	__u64 *word = filter_word(bit);
	long err;

	if (!word)
		return -EINVAL;
	__sync_fetch_and_or(word, 1ull << (bit % 64));
	svc = lookup_service(&key);
	if (!svc) {
		fresh.cfg = cfg;
		fresh.epoch = bpf_ktime_get_ns();
		err = bpf_map_update_elem(&services, &key, &fresh, BPF_NOEXIST);
		if (err != -EEXIST)
			return err;
		svc = lookup_service(&key);
		if (!svc)
			return -ENOENT;
	}
	/* Lower or raise: either order is safe, keeps_spilling() clamps. */
	svc->cfg.max_connections = cfg.max_connections;
	svc->cfg.resume_below = cfg.resume_below;
	/* One 32-bit store: no CPU ever sees half an old and half a new list. */
	*(__u32 *)svc->cfg.overflow_to = *(__u32 *)cfg.overflow_to;
	settle_overflowing(svc, svc->active_local);	/* a raised threshold */
	return 0;
}

/*
 * The remote would not take a spilled flow; the agent serves it locally.
 * Its slot moves from active_remote to active_local. The local count goes
 * up first and the fallback bit lands by compare-and-swap: a release before
 * it gave the remote slot back (undo, nothing to move), a release after it
 * gives back the local one. Counters may overcount for an instant, never
 * undercount. -ENOENT: no such flow (or released); -EALREADY: moved before.
 */
static __always_inline int flow_fall_back(const struct sw_flow_key *ukey)
{
	struct sw_flow_key key = *ukey;
	__u32 tag = flow_tag(&key), before = 0;
	struct sw_stats *st = stats_this_cpu();
	struct sw_service *svc;
	struct sw_flow *f;

	if (!st)
		return -ENOENT;
	f = bpf_map_lookup_elem(&flows, &key);
	if (!f || f->tag != tag)
		return -ENOENT;
	if (f->decision != SW_REMOTE)
		return -EINVAL;
	svc = lookup_service(&key.svc);
	if (!svc || svc->epoch != f->svc_epoch)
		return -ENOENT;	/* its service is gone: no slot to move */
	__sync_fetch_and_add(&svc->active_local, 1);
	if (!flow_add(f, tag, SW_FLOW_LOCAL_FALLBACK, &before, st) ||
	    (before & (SW_FLOW_RELEASED | SW_FLOW_LOCAL_FALLBACK))) {
		__sync_fetch_and_sub(&svc->active_local, 1);
		return before & SW_FLOW_LOCAL_FALLBACK ? -EALREADY : -ENOENT;
	}
	__sync_fetch_and_sub(&svc->active_remote, 1);
	__sync_fetch_and_add(&svc->local_fallback_total, 1);
	return 0;
}

static __always_inline int service_add(const struct sw_service_key *ukey,
				       const struct sw_service_delta *d)
{
	struct sw_service_key key = *ukey;
	struct sw_service *svc = lookup_service(&key);

	if (!svc || svc->epoch != d->epoch)
		return -ENOENT;	/* removed (or removed and re-added) since */
	__sync_fetch_and_add(&svc->active_local, d->active_local);
	__sync_fetch_and_add(&svc->active_remote, d->active_remote);
	__sync_fetch_and_add(&svc->local_total, d->local_total);
	__sync_fetch_and_add(&svc->overflowed_total, d->overflowed_total);
	__sync_fetch_and_add(&svc->overflow_unavailable_total,
			     d->overflow_unavailable_total);
	__sync_fetch_and_add(&svc->local_fallback_total, d->local_fallback_total);
	return 0;
}

struct collect_ctx {
	struct sw_collect_params params;
	struct sw_collect_result result;
	struct sw_stats *st;
};

static __always_inline bool older_than(__u64 then, __u64 now, __u64 age)
{
	return now > then && now - then > age;
}

static long collect_one(struct bpf_map *map, const struct sw_flow_key *key,
			struct sw_flow *f, struct collect_ctx *c)
{
	__u64 now = c->params.now_ns;
	__u32 tag = flow_tag(key), s = f->state;

	c->result.scanned++;
	if (f->tag != tag || (s & SW_FLOW_CLAIMED))
		return 0;
	if (!(s & SW_FLOW_RELEASED)) {
		bool half_open = !(s & SW_FLOW_ACKED) &&
			older_than(f->created_ns, now, c->params.half_open_ns);
		bool idle = older_than(f->last_seen_ns, now, c->params.idle_ns);

		if (!half_open && !idle)
			return 0;
		if (release_flow_once(key, f, tag, c->st)) {
			if (half_open) {
				c->result.expired_half_open++;
				__sync_fetch_and_add(&c->st->released_half_open, 1);
			} else {
				c->result.expired_idle++;
				__sync_fetch_and_add(&c->st->released_idle, 1);
			}
		}
	} else if (!older_than(f->last_seen_ns, now, c->params.closed_ns)) {
		return 0;
	} else {
		c->result.removed_closed++;
	}
	/* Delete only what no SYN has claimed for reuse in the meantime. */
	s = f->state;
	if ((s & SW_FLOW_RELEASED) && !(s & SW_FLOW_CLAIMED) &&
	    flow_claim(f, tag, s, s | SW_FLOW_CLAIMED))
		bpf_map_delete_elem(map, key);
	return 0;
}

struct link_gone_ctx {
	__u32 ifindex;
	__u32 released;
	struct sw_stats *st;
};

static long release_if_from(struct bpf_map *map, const struct sw_flow_key *key,
			    struct sw_flow *f, struct link_gone_ctx *c)
{
	struct sw_client_key ck;
	__u32 *ifindex;

	(void)map;
	if (f->tag != flow_tag(key) ||
	    (f->state & (SW_FLOW_RELEASED | SW_FLOW_CLAIMED)))
		return 0;
	client_key(&ck, key);
	ifindex = bpf_map_lookup_elem(&clients, &ck);
	if (ifindex && *ifindex == c->ifindex &&
	    release_flow_once(key, f, flow_tag(key), c->st))
		c->released++;
	return 0;
}

/*
 * A link went (a pod deleted: its connections vanished with its network
 * namespace, no FIN or RST need come): release the flows of the clients
 * last seen on it now, not at the idle timeout. The collector removes them
 * after closed_ns, as any released flow.
 */
static __always_inline int link_gone(struct sw_ctl *req)
{
	struct link_gone_ctx c = { .ifindex = req->link.ifindex };

	c.st = stats_this_cpu();
	if (!c.st || !c.ifindex)
		return -EINVAL;
	bpf_for_each_map_elem(&flows, release_if_from, &c, 0);
	req->link.released = c.released;
	return 0;
}

static long age_service(struct bpf_map *map, const struct sw_service_key *key,
			struct sw_service *svc, __u64 *now)
{
	(void)map;
	(void)key;
	age_local_handshakes(svc, *now);
	return 0;
}

/*
 * Expire flows; and age every service's handshakes, which SYNs do too, so
 * that a service a flood left without new connections reports its slots
 * right within a collect interval.
 */
static __always_inline int collect(struct sw_ctl *req)
{
	struct collect_ctx c = {};

	c.st = stats_this_cpu();
	if (!c.st)
		return -ENOENT;
	c.params = req->collect.params;
	bpf_for_each_map_elem(&services, age_service, &c.params.now_ns, 0);
	bpf_for_each_map_elem(&flows, collect_one, &c, 0);
	req->collect.result = c.result;
	return 0;
}

#endif /* SW_BPF_CONTROL_H */
