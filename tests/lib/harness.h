/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A small test runner: a suite is a table of named cases with an argument,
 * run in order, each between the suite's setup and teardown. A failed CHECK
 * ends the case (teardown still runs) and the suite's exit status.
 * Run one case or a group with a name prefix: ./test_x threshold/
 */
#ifndef SW_TEST_HARNESS_H
#define SW_TEST_HARNESS_H

struct test_case {
	const char *name;
	void (*fn)(const void *arg);
	const void *arg;
};

struct test_suite {
	const char *name;
	void (*setup)(void);		/* may be NULL */
	void (*teardown)(void);		/* may be NULL; runs after failures too */
	const struct test_case *cases;	/* ends with { 0 } */
};

int test_main(const struct test_suite *s, int argc, char **argv);

void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond))                                                 \
			test_fail(__FILE__, __LINE__, "CHECK(" #cond ") " __VA_ARGS__); \
	} while (0)

#define CHECK_EQ(a, b)                                                       \
	do {                                                                 \
		long long _a = (long long)(a), _b = (long long)(b);          \
		if (_a != _b)                                                \
			test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", \
				  #a, #b, _a, _b);                           \
	} while (0)

/* A unique name for things a test creates (pin dirs, namespaces). */
const char *test_unique(const char *what);

#endif /* SW_TEST_HARNESS_H */
