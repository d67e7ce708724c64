// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "spillway/abi.h"
#include "spillway.skel.h"
#include "lib/util.h"
#include "datapath/control.h"
#include "datapath/upgrade.h"

/* Layout 1 lacked local_fallback_total (before epoch); 2 ended at epoch. */
_Static_assert(__builtin_offsetof(struct sw_service_v1, epoch) ==
	       __builtin_offsetof(struct sw_service, local_fallback_total) &&
	       sizeof(struct sw_service_v2) ==
	       __builtin_offsetof(struct sw_service, handshakes),
	       "older services values are prefixes of today's");

static void service_from_v1(const void *old, struct sw_service *out)
{
	const struct sw_service_v1 *v = old;

	memset(out, 0, sizeof(*out));
	memcpy(out, v, __builtin_offsetof(struct sw_service_v1, epoch));
	out->epoch = v->epoch;
}

static void service_from_v2(const void *old, struct sw_service *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out, old, sizeof(struct sw_service_v2));
}

/* One older layout: how its services values read as today's. */
struct layout {
	__u32 version;
	__u32 service_size;
	void (*read_service)(const void *old, struct sw_service *out);
};

static const struct layout layouts[] = {
	{ 1, sizeof(struct sw_service_v1), service_from_v1 },
	{ 2, sizeof(struct sw_service_v2), service_from_v2 },
};
/* read_old reads an old value into a buffer of today's size. */
_Static_assert(sizeof(struct sw_service_v1) <= sizeof(struct sw_service) &&
	       sizeof(struct sw_service_v2) <= sizeof(struct sw_service),
	       "an old services value must fit today's");

/* A service as copied, to tell later what the old programs added. */
struct copied {
	struct sw_service_key key;
	struct sw_service at_copy;
};

struct sw_upgrade {
	const struct layout *from;
	int old_fd;			/* the old services map */
	struct copied *services;
	__u32 n, cap;
};

static const struct layout *layout_of(__u32 version)
{
	for (size_t i = 0; i < ARRAY_SIZE(layouts); i++)
		if (layouts[i].version == version)
			return &layouts[i];
	return NULL;
}

bool sw_upgrade_known(__u32 version)
{
	return layout_of(version) != NULL;
}

__u32 sw_upgrade_from(const struct sw_upgrade *up)
{
	return up->from->version;
}

__u32 sw_upgrade_services(const struct sw_upgrade *up)
{
	return up->n;
}

void sw_upgrade_free(struct sw_upgrade *up)
{
	if (!up)
		return;
	if (up->old_fd >= 0)
		close(up->old_fd);
	free(up->services);
	free(up);
}

static void pin_paths(const struct sw_datapath *dp, char *old, char *next)
{
	sw_pin_path(old, PATH_MAX, dp->pin_dir, "services");
	sw_pin_path(next, PATH_MAX, dp->pin_dir, SW_UPGRADE_DIR "/services");
}

int sw_upgrade_begin(struct sw_datapath *dp, __u32 from, struct sw_upgrade **out,
		     struct sw_error *e)
{
	char old[PATH_MAX], next[PATH_MAX], dir[PATH_MAX];
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct sw_upgrade *up;
	int err;

	*out = NULL;
	pin_paths(dp, old, next);
	up = calloc(1, sizeof(*up));
	if (!up)
		return sw_fail(e, -ENOMEM, "out of memory");
	up->from = layout_of(from);
	up->old_fd = bpf_obj_get(old);
	if (up->old_fd < 0) {
		err = sw_fail(e, -errno, "cannot open %s to upgrade it: %s", old,
			      strerror(errno));
		goto fail;
	}
	if (bpf_obj_get_info_by_fd(up->old_fd, &info, &len)) {
		err = sw_fail(e, -errno, "cannot inspect %s: %s", old,
			      strerror(errno));
		goto fail;
	}
	if (info.value_size == sizeof(struct sw_service)) {
		/* An earlier upgrade moved the pins but did not get to say so. */
		sw_upgrade_free(up);
		return 0;
	}
	if (info.value_size != up->from->service_size) {
		err = sw_fail(e, -EPROTO,
			      "%s has %u-byte values, not the %u bytes of "
			      "layout version %u: it was not made by spillway; "
			      "run 'spillway down --pin-dir %s' (tracked flows "
			      "are lost)", old, info.value_size,
			      up->from->service_size, from, dp->pin_dir);
		goto fail;
	}
	/* A map left here by an upgrade that stopped half way is redone. */
	if (unlink(next) && errno != ENOENT) {
		err = sw_fail(e, -errno, "cannot remove %s: %s", next,
			      strerror(errno));
		goto fail;
	}
	sw_pin_path(dir, sizeof(dir), dp->pin_dir, SW_UPGRADE_DIR);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		err = sw_fail(e, -errno, "cannot create %s: %s", dir,
			      strerror(errno));
		goto fail;
	}
	err = bpf_map__set_pin_path(dp->skel->maps.services, next);
	if (err) {
		sw_fail(e, err, "cannot pin the new services map at %s: %s",
			next, strerror(-err));
		goto fail;
	}
	*out = up;
	return 0;
fail:
	sw_upgrade_free(up);
	return err;
}

static int remember(struct sw_upgrade *up, const struct sw_service_key *key,
		    const struct sw_service *svc)
{
	if (up->n == up->cap) {
		__u32 cap = up->cap ? 2 * up->cap : 64;
		struct copied *c = realloc(up->services, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		up->services = c;
		up->cap = cap;
	}
	up->services[up->n].key = *key;
	up->services[up->n].at_copy = *svc;
	up->n++;
	return 0;
}

/* The old map's value for key, read as today's; false if it has none. */
static bool read_old(const struct sw_upgrade *up,
		     const struct sw_service_key *key, struct sw_service *out)
{
	unsigned char raw[sizeof(struct sw_service)];

	if (bpf_map_lookup_elem(up->old_fd, key, raw))
		return false;
	up->from->read_service(raw, out);
	return true;
}

int sw_upgrade_copy(struct sw_upgrade *up, struct sw_datapath *dp,
		    struct sw_error *e)
{
	int fd = bpf_map__fd(dp->skel->maps.services);
	struct sw_service_key key, *prev = NULL;
	struct sw_service svc;

	while (!bpf_map_get_next_key(up->old_fd, prev, &key)) {
		prev = &key;
		if (!read_old(up, &key, &svc))
			continue;	/* removed meanwhile */
		if (bpf_map_update_elem(fd, &key, &svc, BPF_NOEXIST))
			return sw_fail(e, -errno, "cannot copy a service into "
				       "the new services map: %s",
				       strerror(errno));
		if (remember(up, &key, &svc))
			return sw_fail(e, -ENOMEM, "out of memory");
	}
	return 0;
}

/*
 * Every program that could still be running on another CPU started before
 * the swap: an RCU grace period (which MEMBARRIER_CMD_GLOBAL waits for)
 * lets them finish. Kernels with nohz_full refuse it; a long pause instead.
 */
static void wait_for_old_programs(void)
{
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		usleep(200 * 1000);
}

/* What the old programs counted for one service after it was copied. */
static bool counted_since(const struct copied *c, const struct sw_service *now,
			  struct sw_service_delta *d)
{
	const struct sw_service *was = &c->at_copy;

	memset(d, 0, sizeof(*d));
	d->epoch = was->epoch;
	d->active_local = (__s32)(now->active_local - was->active_local);
	d->active_remote = (__s32)(now->active_remote - was->active_remote);
	d->local_total = (__s64)(now->local_total - was->local_total);
	d->overflowed_total = (__s64)(now->overflowed_total -
				      was->overflowed_total);
	d->overflow_unavailable_total =
		(__s64)(now->overflow_unavailable_total -
			was->overflow_unavailable_total);
	d->local_fallback_total = (__s64)(now->local_fallback_total -
					  was->local_fallback_total);
	return d->active_local || d->active_remote || d->local_total ||
	       d->overflowed_total || d->overflow_unavailable_total ||
	       d->local_fallback_total;
}

int sw_upgrade_finish(struct sw_upgrade *up, struct sw_datapath *dp,
		      struct sw_error *e)
{
	char old[PATH_MAX], next[PATH_MAX], dir[PATH_MAX];
	struct sw_service_delta d;
	struct sw_service now;
	int err;

	wait_for_old_programs();
	for (__u32 i = 0; i < up->n; i++) {
		const struct copied *c = &up->services[i];

		if (!read_old(up, &c->key, &now) || !counted_since(c, &now, &d))
			continue;
		err = sw_service_add(dp, &c->key, &d, e);
		if (err && err != -ENOENT)	/* -ENOENT: removed since */
			return err;
	}
	pin_paths(dp, old, next);
	if (rename(next, old))
		return sw_fail(e, -errno, "cannot move %s to %s: %s", next, old,
			       strerror(errno));
	sw_pin_path(dir, sizeof(dir), dp->pin_dir, SW_UPGRADE_DIR);
	rmdir(dir);
	return 0;
}
