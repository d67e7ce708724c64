// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "spillway/abi.h"
#include "spillway.skel.h"
#include "datapath/lookup.h"

static int put_listener(int map, __u32 slot, int fd, struct sw_error *e)
{
	__u64 value = (__u64)fd;

	if (bpf_map_update_elem(map, &slot, &value, BPF_ANY))
		return sw_fail(e, -errno, "cannot put the tunnel endpoint's "
			       "IPv%d listener in the endpoints map: %s",
			       slot == SW_ENDPOINT_IPV4 ? 4 : 6,
			       strerror(errno));
	return 0;
}

int sw_datapath_lookup_endpoint(struct sw_datapath *dp, const int fds[2],
				struct sw_error *e)
{
	int map = bpf_map__fd(dp->skel->maps.endpoints), ns, err = 0;

	if (!dp->lookup) {
		ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (ns < 0)
			return sw_fail(e, -errno, "cannot open /proc/self/ns/net: "
				       "%s", strerror(errno));
		dp->lookup = bpf_program__attach_netns(
			dp->skel->progs.spill_sk_lookup, ns);
		err = dp->lookup ? 0 : -errno;
		close(ns);
		if (err)
			return sw_fail(e, err, "cannot attach spill_sk_lookup to "
				       "this network namespace: %s (the node "
				       "could not spill)", strerror(-err));
	}
	/* Only now: a listener in the map is what lets the datapath steer. */
	for (__u32 slot = 0; slot < SW_ENDPOINT_SLOTS && !err; slot++)
		err = put_listener(map, slot, fds[slot], e);
	return err;
}
