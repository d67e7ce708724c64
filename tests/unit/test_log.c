// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Tests of the agent's log (user/lib/log.c): lines from one rate-limited place
 * stop at SW_LOG_LIMIT_PER_S a second, the next line a second later says
 * how many were left out, and other places are not held back. stderr goes
 * to a file the test reads back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "lib/log.h"

/* Run fn with stderr in a file; return what it wrote (malloc'd). */
static char *captured(void (*fn)(void))
{
	char path[] = "/tmp/swlog-XXXXXX", *text;
	int fd = mkstemp(path), saved = dup(2);
	long len;
	FILE *f;

	CHECK(fd >= 0 && saved >= 0);
	fflush(stderr);
	CHECK(dup2(fd, 2) == 2);
	fn();
	fflush(stderr);
	CHECK(dup2(saved, 2) == 2);
	close(saved);
	f = fdopen(fd, "r");
	CHECK(f != NULL);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, len + 1);
	CHECK(text && fread(text, 1, len, f) == (size_t)len);
	fclose(f);
	unlink(path);
	return text;
}

static int count(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* One place in the code: the limit is per place. */
static void refused(int i)
{
	log_warn_limited("refused connection %d", i);
}

static void burst(void)
{
	for (int i = 0; i < 3 * SW_LOG_LIMIT_PER_S; i++) {
		refused(i);
		log_info("unlimited %d", i);
	}
	sleep(1);
	refused(999);
	for (int i = 0; i < 2; i++)
		log_warn_limited("another place %d", i);
}

static void test_limited(const void *arg)
{
	char *text = captured(burst), want[128];

	(void)arg;
	/* The first second's allowance, then the line a second later. */
	CHECK_EQ(count(text, "refused connection"), SW_LOG_LIMIT_PER_S + 1);
	CHECK(strstr(text, "refused connection 19\n") != NULL, "%s", text);
	CHECK(strstr(text, "refused connection 20") == NULL, "%s", text);
	snprintf(want, sizeof(want), "refused connection 999 (and %d more like it "
		 "not logged: at most %d a second)\n", 2 * SW_LOG_LIMIT_PER_S,
		 SW_LOG_LIMIT_PER_S);
	CHECK(strstr(text, want) != NULL, "%s", text);
	CHECK_EQ(count(text, "unlimited"), 3 * SW_LOG_LIMIT_PER_S);
	CHECK_EQ(count(text, "another place"), 2);
	CHECK(strstr(text, " warn  refused connection 0\n") != NULL, "%s", text);
	free(text);
}

static const struct test_case cases[] = {
	{ "limited-per-place", test_limited, NULL },
	{ 0 },
};

int main(int argc, char **argv)
{
	struct test_suite s = { .name = "log", .cases = cases };

	sw_log_init(false, false);
	return test_main(&s, argc, argv);
}
