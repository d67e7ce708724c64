// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * spillway top's frames from given samples: rates between two samples, a
 * service added or re-created (its counters went back) shows "-", long
 * names are cut to fit the terminal, a reply that is not status is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "cli/top.h"

#define LONG_NAME "a-very-long-service-name.with-a-namespace.svc.cluster.local"

static void sample(struct sw_top_sample *s, double at, const char *services)
{
	char text[2048];
	struct sw_error e = {};

	snprintf(text, sizeof(text), "{\"cluster\":\"c1\",\"services\":[%s],"
		 "\"remotes\":[{\"name\":\"c2\",\"gateway\":\"10.2.0.2:15008\","
		 "\"healthy\":true}]}", services);
	CHECK(!sw_top_sample_parse(text, at, s, &e), "%s", e.msg);
}

#define SVC(name, local, remote, lt, ot, ut)                                  \
	"{\"name\":\"" name "\",\"max_connections\":20,\"resume_below\":20,"  \
	"\"active_local\":" #local ",\"active_remote\":" #remote ","          \
	"\"local_total\":" #lt ",\"overflowed_total\":" #ot ","               \
	"\"overflow_unavailable_total\":" #ut ",\"state\":\"overflowing\"}"

static char *render(const struct sw_top_sample *prev,
		    const struct sw_top_sample *cur, int width)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	CHECK(f);
	sw_top_render(f, "title", prev, cur, width);
	fclose(f);
	return text;
}

static const char *line_of(const char *text, const char *start)
{
	const char *l = strstr(text, start);

	CHECK(l, "no line starting '%s' in:\n%s", start, text);
	return l;
}

static void test_rates(const void *arg)
{
	struct sw_top_sample a, b;
	char *text;

	(void)arg;
	sample(&a, 10.0, SVC("old", 20, 3, 100, 10, 0) "," SVC("reborn", 1, 0, 50, 0, 0));
	sample(&b, 12.0, SVC("old", 20, 9, 104, 22, 2) "," SVC("reborn", 1, 0, 1, 0, 0)
	       "," SVC("new", 5, 0, 5, 0, 0));
	text = render(&a, &b, 0);
	CHECK(strstr(line_of(text, "old"), "[####################]       20        9"
		     "      2.0      6.0      1.0  overflowing\n"), "%s", text);
	CHECK(strstr(line_of(text, "reborn"), "        -      0.0      0.0"), "%s", text);
	CHECK(strstr(line_of(text, "new"), "[#####...............]        5        0"
		     "        -        -        -"), "%s", text);
	CHECK(strstr(line_of(text, "c2 "), "10.2.0.2:15008"), "%s", text);
	free(text);
	sw_top_sample_free(&a);
	sw_top_sample_free(&b);
}

static void test_fits_width(const void *arg)
{
	struct sw_top_sample s;
	char *text;

	(void)arg;
	sample(&s, 1.0, SVC(LONG_NAME, 40, 0, 0, 0, 0));
	text = render(NULL, &s, 110);
	for (const char *l = text, *nl; (nl = strchr(l, '\n')); l = nl + 1)
		CHECK(nl - l <= 110, "a %td-column line: %.*s", nl - l,
		      (int)(nl - l), l);
	CHECK(strstr(text, "a-very-long-servi...      20"), "%s", text);
	CHECK(strstr(text, "[####################]       40"), "%s", text);
	free(text);
	text = render(NULL, &s, 0);	/* no terminal: names up to 48 */
	CHECK(strstr(text, "a-very-long-service-name.with-a-namespace.svc..."),
	      "%s", text);
	free(text);
	sw_top_sample_free(&s);
}

static void test_not_status(const void *arg)
{
	char text[] = "{\"flows\":[]}", bad[] = "{\"services\":[";
	struct sw_top_sample s;
	struct sw_error e = {};

	(void)arg;
	CHECK(sw_top_sample_parse(text, 0, &s, &e) < 0);
	CHECK(strstr(e.msg, "no services or remotes array"), "%s", e.msg);
	CHECK(sw_top_sample_parse(bad, 0, &s, &e) < 0);
	CHECK(strstr(e.msg, "JSON offset 13"), "%s", e.msg);
}

static const struct test_case cases[] = {
	{ "render/rates", test_rates, NULL },
	{ "render/fits-width", test_fits_width, NULL },
	{ "parse/not-status", test_not_status, NULL },
	{ 0 },
};

int main(int argc, char **argv)
{
	struct test_suite s = { .name = "top", .cases = cases };

	return test_main(&s, argc, argv);
}
