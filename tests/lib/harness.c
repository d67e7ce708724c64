// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static jmp_buf case_env;

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "    %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	longjmp(case_env, 1);
}

const char *test_unique(const char *what)
{
	static char buf[8][96];
	static unsigned int n;
	const char *prefix = getenv("SW_TEST_PREFIX");
	char *b = buf[n % 8];

	snprintf(b, sizeof(buf[0]), "%s-%s-%d-%u", prefix ? prefix : "swt",
		 what, (int)getpid(), n);
	n++;
	return b;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run one case between setup and teardown; false if a CHECK failed. */
static bool run_case(const struct test_suite *s, const struct test_case *c)
{
	if (setjmp(case_env)) {
		if (s->teardown)
			s->teardown();
		return false;
	}
	if (s->setup)
		s->setup();
	c->fn(c->arg);
	if (s->teardown)
		s->teardown();
	return true;
}

int test_main(const struct test_suite *s, int argc, char **argv)
{
	int run = 0, failed = 0;

	for (const struct test_case *c = s->cases; c->name; c++) {
		double start = now_s();

		if (argc > 1 && strncmp(c->name, argv[1], strlen(argv[1])))
			continue;
		run++;
		if (run_case(s, c)) {
			printf("ok   %s/%s (%.2fs)\n", s->name, c->name,
			       now_s() - start);
		} else {
			printf("FAIL %s/%s\n", s->name, c->name);
			failed++;
		}
		fflush(stdout);
	}
	printf("%s: %d run, %d failed\n", s->name, run, failed);
	if (!run) {
		fprintf(stderr, "%s: no test matches '%s'\n", s->name, argv[1]);
		return 1;
	}
	return failed ? 1 : 0;
}
