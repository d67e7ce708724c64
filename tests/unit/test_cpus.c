// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * How many CPUs the agent may use (user/lib/cpus.c): a container's CPU
 * limit as cgroup v2 and v1 write it, and where the process's cgroup is,
 * from the texts of /proc/self/mountinfo and /proc/self/cgroup.
 */
#include <errno.h>
#include <string.h>

#include "lib/cpus.h"
#include "harness.h"

static void test_quota_text(const void *arg)
{
	(void)arg;
	CHECK(sw_cpu_max_parse("max 100000\n") == 0);
	CHECK(sw_cpu_max_parse("150000 100000\n") == 1.5);
	CHECK(sw_cpu_max_parse("50000 100000") == 0.5);
	CHECK(sw_cpu_max_parse("") == 0 && sw_cpu_max_parse("100 0") == 0 &&
	      sw_cpu_max_parse("x1 100") == 0);
	CHECK(sw_cfs_quota_parse("-1\n", "100000\n") == 0);
	CHECK(sw_cfs_quota_parse("200000\n", "100000\n") == 2);
	CHECK(sw_cfs_quota_parse("25000", "100000") == 0.25);
	CHECK(sw_cfs_quota_parse("100", "0") == 0);
}

static void test_usable(const void *arg)
{
	struct sw_cpus c = { .affinity = 64 };

	(void)arg;
	CHECK_EQ(sw_cpus_usable(&c), 64);	/* no quota */
	c.quota = 2;
	CHECK_EQ(sw_cpus_usable(&c), 2);
	c.quota = 1.5;
	CHECK_EQ(sw_cpus_usable(&c), 2);	/* rounded up */
	c.quota = 0.1;
	CHECK_EQ(sw_cpus_usable(&c), 1);
	c.quota = 100;
	CHECK_EQ(sw_cpus_usable(&c), 64);	/* more than the mask has */
}

#define V1_MOUNTS \
	"25 1 0:22 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n" \
	"26 25 0:23 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw\n" \
	"30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw shared:14 - cgroup cgroup rw,cpu,cpuacct\n" \
	"31 25 0:28 / /sys/fs/cgroup/cpuset rw shared:15 - cgroup cgroup rw,cpuset\n"
#define V2_MOUNTS \
	"35 24 0:30 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"

static const struct {
	const char *what, *mountinfo, *cgroup, *dir;
	size_t mount_len;
	int v2;
} dirs[] = {
	{ "v2, a pod's container", V2_MOUNTS,
	  "0::/kubepods.slice/kubepods-pod1.slice/cri-abc.scope\n",
	  "/sys/fs/cgroup/kubepods.slice/kubepods-pod1.slice/cri-abc.scope",
	  sizeof("/sys/fs/cgroup") - 1, 1 },
	{ "v2, in a cgroup namespace", V2_MOUNTS, "0::/\n", "/sys/fs/cgroup",
	  sizeof("/sys/fs/cgroup") - 1, 1 },
	{ "hybrid: the cpu controller is v1's", V1_MOUNTS,
	  "12:cpuset:/x\n4:cpu,cpuacct:/kubepods/pod1/abc\n0::/other\n",
	  "/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/abc",
	  sizeof("/sys/fs/cgroup/cpu,cpuacct") - 1, 0 },
	{ "v1, a namespace's root stripped",
	  "30 25 0:27 /kubepods/pod1 /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpuacct,cpu\n",
	  "4:cpu,cpuacct:/kubepods/pod1/abc\n",
	  "/sys/fs/cgroup/cpu/abc", sizeof("/sys/fs/cgroup/cpu") - 1, 0 },
};

static void test_cgroup_dir(const void *arg)
{
	(void)arg;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char dir[512];
		size_t mount_len = 0;
		int v2 = -1;

		CHECK(!sw_cgroup_cpu_dir(dirs[i].mountinfo, dirs[i].cgroup, dir,
					 sizeof(dir), &mount_len, &v2),
		      "%s", dirs[i].what);
		CHECK(!strcmp(dir, dirs[i].dir), "%s: %s", dirs[i].what, dir);
		CHECK(mount_len == dirs[i].mount_len && v2 == dirs[i].v2,
		      "%s: %zu %d", dirs[i].what, mount_len, v2);
	}
}

static void test_no_cgroup(const void *arg)
{
	char dir[64];
	size_t n;
	int v2;

	(void)arg;
	CHECK(sw_cgroup_cpu_dir("", "", dir, sizeof(dir), &n, &v2) == -ENOENT);
	CHECK(sw_cgroup_cpu_dir("31 25 0:28 / /sys/fs/cgroup/cpuset rw - cgroup "
				"cgroup rw,cpuset\n", "3:cpuset:/\n", dir,
				sizeof(dir), &n, &v2) == -ENOENT);
}

static const struct test_case cases[] = {
	{ "quota-text", test_quota_text, NULL },
	{ "usable", test_usable, NULL },
	{ "cgroup-dir", test_cgroup_dir, NULL },
	{ "no-cgroup", test_no_cgroup, NULL },
	{ 0 },
};

int main(int argc, char **argv)
{
	static const struct test_suite suite = { .name = "cpus", .cases = cases };

	return test_main(&suite, argc, argv);
}
