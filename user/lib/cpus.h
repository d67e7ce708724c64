/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * How many CPUs this process may use: the CPUs of its affinity mask, and
 * the CPU quota of its cgroup, which is what a container's CPU limit
 * becomes (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` over
 * `cpu.cfs_period_us`; the smallest on the way from the process's cgroup
 * up to its hierarchy's root). A pod limited to 2 CPUs on a 64-core node
 * may use 2, though its affinity mask has 64.
 */
#ifndef SW_LIB_CPUS_H
#define SW_LIB_CPUS_H

#include <stddef.h>

struct sw_cpus {
	unsigned int affinity;	/* CPUs of the affinity mask (at least 1) */
	double quota;		/* CPUs' worth of the cgroup's quota; 0: none */
	char quota_file[544];	/* where the quota was read ("" if none) */
};

/* Read both for this process. */
void sw_cpus_read(struct sw_cpus *c);

/* The CPUs it may use: the affinity's, fewer if the quota is (rounded up). */
unsigned int sw_cpus_usable(const struct sw_cpus *c);

/* Pure, for tests. */

/* cgroup v2 cpu.max ("max 100000", "150000 100000"): CPUs, 0 if none. */
double sw_cpu_max_parse(const char *text);
/* cgroup v1: cpu.cfs_quota_us ("-1": none) over cpu.cfs_period_us. */
double sw_cfs_quota_parse(const char *quota, const char *period);
/*
 * The directory of this process's cgroup in the hierarchy that has the CPU
 * controller, from /proc/self/mountinfo and /proc/self/cgroup texts: the
 * cgroup2 mount (v2), or the cgroup mount whose options name "cpu" (v1).
 * *v2 says which. Returns 0, or -ENOENT if neither has it.
 */
int sw_cgroup_cpu_dir(const char *mountinfo, const char *proc_cgroup,
		      char *dir, size_t len, size_t *mount_len, int *v2);

#endif /* SW_LIB_CPUS_H */
