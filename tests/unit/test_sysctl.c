// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Tests of /proc/sys access (user/datapath/sysctl.c) and of error prefixes
 * (user/lib/error.c). The whole run is in a network namespace of its own, so
 * writing net.* settings never touches the host's.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "datapath/sysctl.h"

static const char demux[] = "net.ipv4.tcp_early_demux";

static void test_ensure(const void *arg)
{
	struct sw_error e = {};
	bool changed;
	long v, old;

	(void)arg;
	CHECK_EQ(sw_sysctl_get(demux, &v, &e), 0);
	CHECK_EQ(v, 1);	/* the kernel default in a new namespace */
	CHECK_EQ(sw_sysctl_ensure(demux, 0, &old, &changed, &e), 0);
	CHECK(changed);
	CHECK_EQ(old, 1);
	CHECK_EQ(sw_sysctl_get(demux, &v, &e), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(sw_sysctl_ensure(demux, 0, &old, &changed, &e), 0);
	CHECK(!changed);
	CHECK_EQ(old, 0);
	CHECK_EQ(sw_sysctl_set(demux, 1, &e), 0);
	CHECK_EQ(sw_sysctl_get(demux, &v, &e), 0);
	CHECK_EQ(v, 1);
}

static void test_bad_names(const void *arg)
{
	struct sw_error e = {};
	long v;

	(void)arg;
	CHECK_EQ(sw_sysctl_get("net/ipv4/tcp_early_demux", &v, &e), -EINVAL);
	CHECK(strstr(e.msg, "use dots"), "%s", e.msg);
	CHECK_EQ(sw_sysctl_get("", &v, &e), -EINVAL);
	CHECK_EQ(sw_sysctl_get("net.ipv4.no_such_setting", &v, &e), -ENOENT);
	CHECK(strstr(e.msg, "/proc/sys/net/ipv4/no_such_setting"), "%s",
	      e.msg);
	CHECK_EQ(sw_sysctl_get("kernel.ostype", &v, &e), -EINVAL);
	CHECK(strstr(e.msg, "'Linux' is not an integer"), "%s", e.msg);
}

/* Mode 0444 refuses writes even to root: the hint must say what to do. */
static void test_read_only(const void *arg)
{
	struct sw_error e = {};

	(void)arg;
	CHECK_EQ(sw_sysctl_set("kernel.ngroups_max", 1, &e), -EACCES);
	CHECK(strstr(e.msg, "cannot write /proc/sys/kernel/ngroups_max"), "%s",
	      e.msg);
	CHECK(strstr(e.msg, "privileged init container"), "%s", e.msg);
}

static void test_prefix(const void *arg)
{
	struct sw_error e = {};
	char big[2000];

	(void)arg;
	sw_fail(&e, -ENOENT, "no such %s", "thing");
	CHECK_EQ(sw_prefix(&e, -ENOENT, "services[%d] (%s): ", 2, "echo"),
		 -ENOENT);
	CHECK(!strcmp(e.msg, "services[2] (echo): no such thing"), "%s", e.msg);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sw_prefix(&e, -EIO, "%s", big);	/* truncated, still terminated */
	CHECK_EQ(strlen(e.msg), sizeof(e.msg) - 1);
	CHECK_EQ(sw_prefix(NULL, -EIO, "x"), -EIO);
}

static const struct test_case cases[] = {
	{ "ensure", test_ensure, NULL },
	{ "bad-names", test_bad_names, NULL },
	{ "read-only", test_read_only, NULL },
	{ "error-prefix", test_prefix, NULL },
	{ 0 },
};

int main(int argc, char **argv)
{
	struct test_suite s = { .name = "sysctl", .cases = cases };

	/* Before anything: never touch the host's settings. */
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return 1;
	}
	return test_main(&s, argc, argv);
}
