// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * make bench's statistics (tests/lib/samples.c): the spread of a cell's
 * samples, and the check that stops a run before it prints a ratio to a
 * floor that measured nothing.
 */
#include <string.h>

#include "lib/util.h"
#include "harness.h"
#include "samples.h"

#define CHECK_SPREAD(v, med, lo, hi)                                         \
	do {                                                                 \
		struct spread _s = samples_spread((v), ARRAY_SIZE(v));       \
		CHECK(_s.median == (med) && _s.min == (lo) && _s.max == (hi), \
		      "%g [%g-%g]", _s.median, _s.min, _s.max);              \
	} while (0)

static void test_spread(const void *arg)
{
	double one[] = { 7 };
	double odd[] = { 30, 10, 20, 50, 40 };
	double even[] = { 4, 1, 3, 2 };
	double same[] = { 5, 5, 5 };

	(void)arg;
	CHECK_SPREAD(one, 7, 7, 7);
	CHECK_SPREAD(odd, 30, 10, 50);
	CHECK_SPREAD(even, 2.5, 1, 4);
	CHECK_SPREAD(same, 5, 5, 5);
	/* The caller's samples stay in the order they were taken. */
	CHECK(odd[0] == 30 && odd[4] == 40);
}

static const struct {
	const char *what;
	double ns[3], floor_ns[3];
	const char *says;	/* NULL: passes; else a part of the message */
} checks[] = {
	{ "sane", { 80, 90, 85 }, { 22, 23, 22 }, NULL },
	{ "floor at the limit", { 3, 3, 3 }, { 2, 2, 2 }, NULL },
	{ "floor of zero", { 80, 90, 85 }, { 22, 0, 22 },
	  "floor of zero: the floor measured 0 ns per packet in sample 2 of 3 (all: 22 0 22)" },
	{ "floor under 2 ns", { 80, 90, 85 }, { 1.5, 1, 1 }, "floor measured 1.5 ns per packet in sample 1 of 3 (all: 1.5 1 1)" },
	{ "negative floor", { 80, 90, 85 }, { 22, 22, -782 }, "sample 3 of 3" },
	{ "row of zero", { 80, 0, 85 }, { 22, 22, 22 },
	  "row of zero: measured 0 ns per packet in sample 2 of 3 (all: 80 0 85)" },
	{ "negative row", { -4, 90, 85 }, { 22, 22, 22 }, "measured -4 ns" },
};

static void test_check(const void *arg)
{
	(void)arg;
	for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
		char msg[1024] = "";
		int err = samples_check(checks[i].what, checks[i].ns,
					checks[i].floor_ns, 3, msg, sizeof(msg));

		if (!checks[i].says) {
			CHECK(!err, "'%s': %s", checks[i].what, msg);
			continue;
		}
		CHECK(err == -1, "'%s' passed", checks[i].what);
		CHECK(strstr(msg, checks[i].says), "'%s': %s", checks[i].what, msg);
		/* What to do, always. */
		CHECK(strstr(msg, "Rerun"), "'%s': %s", checks[i].what, msg);
	}
}

static const struct test_case cases[] = {
	{ "spread", test_spread, NULL },
	{ "check", test_check, NULL },
	{ 0 },
};

int main(int argc, char **argv)
{
	static const struct test_suite suite = { .name = "samples", .cases = cases };

	return test_main(&suite, argc, argv);
}
