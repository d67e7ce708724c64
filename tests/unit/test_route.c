// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Tests of the steering policy route (user/datapath/route.c) against the real
 * kernel. Every case runs in a network namespace of its own, made fresh by
 * setup, so cases never see each other's rules and the host is never
 * touched. What the module did is checked independently, through the output
 * of ip(8); foreign rules and routes are made with ip(8) as well.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spillway/defaults.h"
#include "lib/util.h"
#include "harness.h"
#include "datapath/route.h"

static const struct sw_steer_route dflt = {
	.mark = SW_DEFAULT_STEER_MARK,
	.table = SW_DEFAULT_ROUTE_TABLE,
	.pref = SW_DEFAULT_RULE_PREF,
};

/* Table above 255: only fits the netlink attribute, not the header. */
static const struct sw_steer_route custom = {
	.mark = 0x1234,
	.table = 1000,
	.pref = 900,
};

/* Leave whatever namespace we are in for a new one with only lo, up. */
static int fresh_netns(void)
{
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	if (system("ip link set lo up")) {
		fprintf(stderr, "cannot bring lo up in the test namespace\n");
		return -1;
	}
	return 0;
}

static void setup(void)
{
	CHECK(fresh_netns() == 0);
}

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a command that must succeed (making foreign rules and routes). */
static void run(const char *fmt, ...)
{
	char cmd[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	CHECK(system(cmd) == 0, "%s", cmd);
}

/* The output (stdout and stderr) of a command; valid until the next call. */
static const char *output(const char *cmd)
{
	static char out[16384];
	char full[256];
	size_t n;
	FILE *f;

	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	f = popen(full, "r");
	CHECK(f != NULL, "%s", full);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	pclose(f);
	return out;
}

/*
 * Lines of cmd's output that start with the words in start: "lookup 153"
 * counts "lookup 153 proto 83" but not "lookup 1530".
 */
static int count_lines(const char *cmd, const char *start)
{
	size_t n = strlen(start);
	const char *p = output(cmd);
	int count = 0;

	for (; *p; p += strcspn(p, "\n"), p += *p == '\n') {
		if (!strncmp(p, start, n) &&
		    (p[n] == ' ' || p[n] == '\n' || !p[n]))
			count++;
	}
	return count;
}

/*
 * Rules "fwmark MARK lookup TABLE pref PREF" as ip(8) shows them (with their
 * protocol, if any, after them).
 */
static int rules(int family, __u32 mark, __u32 table, __u32 pref)
{
	char cmd[64], line[96];

	snprintf(cmd, sizeof(cmd), "ip -%d rule show", family);
	snprintf(line, sizeof(line), "%u:\tfrom all fwmark 0x%x lookup %u",
		 pref, mark, table);
	return count_lines(cmd, line);
}

static int our_rules(int family, const struct sw_steer_route *r)
{
	return rules(family, r->mark, r->table, r->pref);
}

/* "local default dev lo" routes in r's table. */
static int our_routes(int family, const struct sw_steer_route *r)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "ip -%d route show table %u", family,
		 r->table);
	return count_lines(cmd, "local default dev lo");
}

/* n of each (0 or 1): both rules, both routes. */
static void check_installed(const struct sw_steer_route *r, int n)
{
	for (int family = 4; family <= 6; family += 2) {
		CHECK_EQ(our_rules(family, r), n);
		CHECK_EQ(our_routes(family, r), n);
	}
}

static void ensure(const struct sw_steer_route *r)
{
	struct sw_error e = {};
	int err = sw_steer_route_ensure(r, &e);

	CHECK(err == 0, "ensure: %d: %s", err, e.msg);
}

static void remove_ours(const struct sw_steer_route *r)
{
	struct sw_error e = {};
	int err = sw_steer_route_remove(r, &e);

	CHECK(err == 0, "remove: %d: %s", err, e.msg);
}

static bool present(const struct sw_steer_route *r)
{
	struct sw_error e = {};
	bool yes = true;
	int err = sw_steer_route_present(r, &yes, &e);

	CHECK(err == 0, "present: %d: %s", err, e.msg);
	return yes;
}

/* Does `ip route get DST [mark MARK]` pick a local route? */
static bool routed_locally(int family, const char *dst, __u32 mark)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "ip -%d route get %s", family, dst);
	if (mark)
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd),
			 " mark 0x%x", mark);
	return !strncmp(output(cmd), "local ", 6);
}

static void test_ensure_creates(const void *arg)
{
	(void)arg;
	check_installed(&dflt, 0);
	ensure(&dflt);
	check_installed(&dflt, 1);
	/* Tagged, so that an operator can tell whose they are. */
	CHECK_EQ(count_lines("ip -4 rule show", "1530:\tfrom all fwmark 0x53 "
			     "lookup 153 proto 83"), 1);
	CHECK_EQ(count_lines("ip -6 route show table 153",
			     "local default dev lo proto 83"), 1);
}

static void test_ensure_idempotent(const void *arg)
{
	(void)arg;
	for (int i = 0; i < 3; i++)
		ensure(&dflt);
	check_installed(&dflt, 1);
}

/* What an operator set up by hand (doc/datapath.md's commands) is taken as ours. */
static void test_ensure_keeps_manual(const void *arg)
{
	(void)arg;
	run("ip -4 rule add fwmark 0x53 lookup 153 pref 1530");
	run("ip -6 rule add fwmark 0x53 lookup 153 pref 1530");
	run("ip -4 route add local 0.0.0.0/0 dev lo table 153");
	run("ip -6 route add local ::/0 dev lo table 153");
	CHECK(present(&dflt));
	ensure(&dflt);
	check_installed(&dflt, 1);
}

/* Rules that match fewer packets than ours are not ours. */
static void test_ensure_lookalikes(const void *arg)
{
	(void)arg;
	for (int family = 4; family <= 6; family += 2) {
		run("ip -%d rule add not fwmark 0x53 lookup 153 pref 1530",
		    family);
		run("ip -%d rule add fwmark 0x53 iif lo lookup 153 pref 1530",
		    family);
		run("ip -%d rule add fwmark 0x53/0xff lookup 153 pref 1530",
		    family);
	}
	CHECK(!present(&dflt));
	ensure(&dflt);
	check_installed(&dflt, 1);
}

/* A table that already routes "default" elsewhere is someone else's. */
static void test_ensure_table_taken(const void *arg)
{
	struct sw_error e = {};
	int err;

	(void)arg;
	run("ip -4 route add unreachable default table 153");
	err = sw_steer_route_ensure(&dflt, &e);
	CHECK_EQ(err, -EEXIST);
	CHECK(strstr(e.msg, "table 153"), "message: %s", e.msg);
	/* Routes go in first: no rule was left pointing at the table. */
	CHECK_EQ(our_rules(4, &dflt), 0);
	CHECK_EQ(our_rules(6, &dflt), 0);
}

static void test_present(const void *arg)
{
	(void)arg;
	CHECK(!present(&dflt));
	ensure(&dflt);
	CHECK(present(&dflt));
	CHECK(!present(&custom));

	run("ip -6 route del local ::/0 dev lo table 153");
	CHECK(!present(&dflt));
	ensure(&dflt);
	CHECK(present(&dflt));

	run("ip -4 rule del fwmark 0x53 lookup 153 pref 1530");
	CHECK(!present(&dflt));
	ensure(&dflt);
	CHECK(present(&dflt));
	check_installed(&dflt, 1);
}

static void test_remove(const void *arg)
{
	(void)arg;
	ensure(&dflt);
	remove_ours(&dflt);
	check_installed(&dflt, 0);
	CHECK(!present(&dflt));
	remove_ours(&dflt);
	check_installed(&dflt, 0);
}

static void test_remove_absent(const void *arg)
{
	(void)arg;
	remove_ours(&dflt);
	remove_ours(&custom);
	check_installed(&dflt, 0);
}

static void test_remove_foreign_table(const void *arg)
{
	(void)arg;
	ensure(&dflt);
	run("ip -4 rule add fwmark 0x53 lookup 200 pref 1530");
	run("ip -6 rule add fwmark 0x53 lookup 200 pref 1530");
	remove_ours(&dflt);
	check_installed(&dflt, 0);
	CHECK_EQ(rules(4, 0x53, 200, 1530), 1);
	CHECK_EQ(rules(6, 0x53, 200, 1530), 1);
}

static void test_remove_foreign_pref(const void *arg)
{
	(void)arg;
	ensure(&dflt);
	run("ip -4 rule add fwmark 0x53 lookup 153 pref 1540");
	run("ip -6 rule add fwmark 0x53 lookup 153 pref 1540");
	remove_ours(&dflt);
	check_installed(&dflt, 0);
	CHECK_EQ(rules(4, 0x53, 153, 1540), 1);
	CHECK_EQ(rules(6, 0x53, 153, 1540), 1);
}

#define LOOKALIKE "1530:\tfrom all fwmark 0x53 iif lo lookup 153"

/*
 * Look-alikes added before ours come first in the kernel's list, where a
 * plain RTM_DELRULE would find them first: only ours may go.
 */
static void test_remove_lookalikes(const void *arg)
{
	(void)arg;
	for (int family = 4; family <= 6; family += 2)
		run("ip -%d rule add fwmark 0x53 iif lo lookup 153 pref 1530",
		    family);
	ensure(&dflt);
	CHECK_EQ(our_rules(4, &dflt), 1);
	remove_ours(&dflt);
	check_installed(&dflt, 0);
	CHECK_EQ(count_lines("ip -4 rule show", LOOKALIKE), 1);
	CHECK_EQ(count_lines("ip -6 rule show", LOOKALIKE), 1);
}

/* Ours twice (old ip(8) made duplicates; here one is tagged): both go. */
static void test_remove_duplicates(const void *arg)
{
	(void)arg;
	for (int family = 4; family <= 6; family += 2) {
		run("ip -%d rule add fwmark 0x53 lookup 153 pref 1530", family);
		run("ip -%d rule add fwmark 0x53 lookup 153 pref 1530 "
		    "protocol 83", family);
		CHECK_EQ(our_rules(family, &dflt), 2);
	}
	ensure(&dflt);
	remove_ours(&dflt);
	check_installed(&dflt, 0);
}

/*
 * Ours untagged (added by hand) after a look-alike: no delete can name ours
 * alone, so nothing is deleted and the caller is told why.
 */
static void test_remove_shadowed(const void *arg)
{
	struct sw_error e = {};

	(void)arg;
	run("ip -4 rule add fwmark 0x53 iif lo lookup 153 pref 1530");
	run("ip -4 rule add fwmark 0x53 lookup 153 pref 1530");
	CHECK_EQ(sw_steer_route_remove(&dflt, &e), -EBUSY);
	CHECK(strstr(e.msg, "ip -4 rule show pref 1530"), "message: %s",
	      e.msg);
	CHECK_EQ(count_lines("ip -4 rule show", LOOKALIKE), 1);
	CHECK_EQ(our_rules(4, &dflt), 1);
}

/* Other routes in our table are not ours to remove. */
static void test_remove_keeps_other_routes(const void *arg)
{
	(void)arg;
	ensure(&dflt);
	run("ip -4 route add local 10.0.0.0/8 dev lo table 153");
	run("ip -6 route add local fd00::/8 dev lo table 153");
	remove_ours(&dflt);
	check_installed(&dflt, 0);
	CHECK_EQ(count_lines("ip -4 route show table 153",
			     "local 10.0.0.0/8 dev lo"), 1);
	CHECK_EQ(count_lines("ip -6 route show table 153",
			     "local fd00::/8 dev lo"), 1);
}

static void test_custom(const void *arg)
{
	(void)arg;
	ensure(&custom);
	ensure(&custom);
	check_installed(&custom, 1);
	check_installed(&dflt, 0);
	CHECK(present(&custom));
	CHECK(routed_locally(4, "10.96.0.10", custom.mark));
	CHECK(routed_locally(6, "fd00::1", custom.mark));
	CHECK(!routed_locally(4, "10.96.0.10", dflt.mark));
	remove_ours(&custom);
	check_installed(&custom, 0);
}

static void test_invalid(const void *arg)
{
	static const struct sw_steer_route bad[] = {
		{ .mark = 0, .table = 153, .pref = 1530 },
		{ .mark = 0x53, .table = 0, .pref = 1530 },
		{ .mark = 0x53, .table = 254, .pref = 1530 },
		{ .mark = 0x53, .table = 255, .pref = 1530 },
		{ .mark = 0x53, .table = 153, .pref = 0 },
		{ .mark = 0x53, .table = 153, .pref = 32766 },
	};
	struct sw_error e;
	bool yes;

	(void)arg;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		e.msg[0] = '\0';
		CHECK_EQ(sw_steer_route_ensure(&bad[i], &e), -EINVAL);
		CHECK(e.msg[0], "bad[%zu]: no message", i);
		CHECK_EQ(sw_steer_route_remove(&bad[i], &e), -EINVAL);
		yes = true;
		CHECK_EQ(sw_steer_route_present(&bad[i], &yes, &e), -EINVAL);
		CHECK(!yes);
	}
	CHECK(strstr(output("ip -4 rule show"), "fwmark") == NULL);
}

/* The point of it all: marked packets are delivered locally, others not. */
static void test_marked_routed_locally(const void *arg)
{
	static const struct {
		int family;
		const char *dst;
	} dsts[] = { { 4, "10.96.0.10" }, { 6, "fd00::1" } };

	(void)arg;
	ensure(&dflt);
	for (size_t i = 0; i < 2; i++) {
		CHECK(routed_locally(dsts[i].family, dsts[i].dst, dflt.mark),
		      "IPv%d: %s", dsts[i].family, output("ip rule show"));
		CHECK(!routed_locally(dsts[i].family, dsts[i].dst, 0));
		CHECK(!routed_locally(dsts[i].family, dsts[i].dst, 0x54));
	}
	remove_ours(&dflt);
	for (size_t i = 0; i < 2; i++)
		CHECK(!routed_locally(dsts[i].family, dsts[i].dst, dflt.mark));
}

static const struct test_case cases[] = {
	{ "ensure/creates", test_ensure_creates, NULL },
	{ "ensure/idempotent", test_ensure_idempotent, NULL },
	{ "ensure/keeps-manual", test_ensure_keeps_manual, NULL },
	{ "ensure/lookalikes", test_ensure_lookalikes, NULL },
	{ "ensure/table-taken", test_ensure_table_taken, NULL },
	{ "present", test_present, NULL },
	{ "remove/removes", test_remove, NULL },
	{ "remove/absent", test_remove_absent, NULL },
	{ "remove/foreign-table", test_remove_foreign_table, NULL },
	{ "remove/foreign-pref", test_remove_foreign_pref, NULL },
	{ "remove/lookalikes", test_remove_lookalikes, NULL },
	{ "remove/duplicates", test_remove_duplicates, NULL },
	{ "remove/shadowed", test_remove_shadowed, NULL },
	{ "remove/keeps-other-routes", test_remove_keeps_other_routes, NULL },
	{ "custom", test_custom, NULL },
	{ "invalid", test_invalid, NULL },
	{ "marked-routed-locally", test_marked_routed_locally, NULL },
	{ 0 }
};

static const struct test_suite suite = {
	.name = "route",
	.setup = setup,
	.cases = cases,
};

int main(int argc, char **argv)
{
	/* Before anything: never touch the host's rules. */
	if (fresh_netns())
		return 1;
	return test_main(&suite, argc, argv);
}
