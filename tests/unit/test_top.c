// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * spillway top's frames from given samples: rates between two samples, a
 * service added or re-created (its counters went back) shows "-", a frame
 * fits the terminal's width (columns dropped, least useful first, then
 * names cut, then lines), a reply that is not status (or not
 * JSON) is refused with where and why, and what the agent's JSON writer
 * writes, top reads back the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "lib/json.h"
#include "lib/util.h"
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

/* The columns a width leaves (after SERVICE), least useful dropped first. */
static const struct width_case {
	int width;
	const char *columns;	/* the header after SERVICE */
	const char *name;	/* the long name as shown */
} widths[] = {
	{ 0, "MAX LOCAL/MAX LOCAL REMOTE LOCAL/s SPILL/s KEPT/s STATE",
	  "a-very-long-service-name.with-a-namespace.svc..." },
	{ 120, "MAX LOCAL/MAX LOCAL REMOTE LOCAL/s SPILL/s KEPT/s STATE",
	  "a-very-long-service-name.wi..." },
	{ 80, "MAX LOCAL REMOTE SPILL/s STATE", "a-very-long-service-name.with..." },
	{ 60, "LOCAL SPILL/s STATE", "a-very-long-service-name.w..." },
	{ 40, "LOCAL STATE", "a-very-long-ser..." },
	{ 20, NULL, "a-ve..." },	/* not even those fit: lines are cut */
};

static void test_fits_width(const void *arg)
{
	const struct width_case *c = arg;
	char *text, *head, *nl, cols[256] = "";
	struct sw_top_sample s;
	int n = 0;

	sample(&s, 1.0, SVC(LONG_NAME, 40, 0, 0, 0, 0) "," SVC("echo", 3, 0, 0, 0, 0));
	text = render(NULL, &s, c->width);
	for (const char *l = text; (nl = strchr(l, '\n')); l = nl + 1)
		CHECK(!c->width || nl - l <= c->width, "a %td-column line: %.*s",
		      nl - l, (int)(nl - l), l);
	CHECK(strstr(text, c->name), "%s", text);
	head = (char *)line_of(text, "SERVICE");
	*strchr(head, '\n') = '\0';
	for (char *tok = strtok(head + strlen("SERVICE"), " "); tok;
	     tok = strtok(NULL, " "))
		n += snprintf(cols + n, sizeof(cols) - n, "%s%s", n ? " " : "", tok);
	CHECK(!c->columns || !strcmp(cols, c->columns), "width %d: columns '%s', "
	      "expected '%s'", c->width, cols, c->columns);
	free(text);
	sw_top_sample_free(&s);
}

static void test_not_status(const void *arg)
{
	struct sw_top_sample s;
	struct sw_error e = {};

	(void)arg;
	CHECK(sw_top_sample_parse("{\"flows\":[]}", 0, &s, &e) < 0);
	CHECK(strstr(e.msg, "no services or remotes array"), "%s", e.msg);
}

/* Not JSON (RFC 8259): refused with the offset and what was wrong there. */
static const struct bad_case {
	const char *text, *error;
} bad[] = {
	{ "{\"services\":[", "JSON offset 13 (the end): unexpected end of data" },
	/* The tokener takes the NUL inside a string: the offset stays in it. */
	{ "{\"services\":[],\"o", "JSON offset 17 (the end): unexpected end of data" },
	{ "{\"services\":[],\"remotes\":[]} x",
	  "JSON offset 29 (at 'x'): unexpected character" },
	{ "{\"services\":[1,]}", "JSON offset 15 (at ']}'): unexpected character" },
	{ "{\"services\" []}", "offset 12 (at '[]}'): object property name "
	  "separator ':' expected" },
	{ "{\"cluster\":\"\xff\"}", "offset 12 (at '\xff\"}'): invalid utf-8" },
	{ "", "JSON offset 0 (the end): unexpected end of data" },
};

static void test_not_json(const void *arg)
{
	const struct bad_case *c = arg;
	struct sw_top_sample s;
	struct sw_error e = {};

	CHECK(sw_top_sample_parse(c->text, 0, &s, &e) < 0, "accepted '%s'",
	      c->text);
	CHECK(strstr(e.msg, c->error), "'%s': error '%s' lacks '%s'", c->text,
	      e.msg, c->error);
}

/* What the agent's writer writes (escapes, the largest counter), top reads. */
static void test_round_trip(const void *arg)
{
	const char *name = "svc \"quoted\" \\ back\x01\x1f tab\t \xc3\xa9";
	struct sw_top_sample s;
	struct sw_error e = {};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct json j;

	(void)arg;
	CHECK(f);
	json_init(&j, f);
	json_object(&j);
	json_field_str(&j, "cluster", name);
	json_field_array(&j, "services");
	json_object(&j);
	json_field_str(&j, "name", name);
	json_field_uint(&j, "local_total", 18446744073709551615ull);
	json_end(&j);
	json_end(&j);
	json_field_array(&j, "remotes");
	json_object(&j);
	json_field_bool(&j, "healthy", true);
	json_end(&j);
	json_end(&j);
	json_end(&j);
	fclose(f);
	CHECK(!sw_top_sample_parse(text, 0, &s, &e), "%s: %s", text, e.msg);
	CHECK(!strcmp(s.cluster, name), "%s", s.cluster);
	CHECK_EQ(s.n_services, 1);
	CHECK(!strcmp(s.services[0].name, name), "%s", s.services[0].name);
	CHECK(s.services[0].local_total == 18446744073709551615ull);
	CHECK(s.remotes[0].healthy);
	sw_top_sample_free(&s);
	free(text);
}

#define N_BAD ARRAY_SIZE(bad)
#define N_WIDTHS ARRAY_SIZE(widths)
static struct test_case cases[3 + N_BAD + N_WIDTHS + 1] = {
	{ "render/rates", test_rates, NULL },
	{ "parse/not-status", test_not_status, NULL },
	{ "parse/round-trip-with-writer", test_round_trip, NULL },
};
static char names[N_BAD + N_WIDTHS][32];

int main(int argc, char **argv)
{
	struct test_suite s = { .name = "top", .cases = cases };
	size_t n = 3;

	for (size_t i = 0; i < N_BAD; i++, n++) {
		snprintf(names[n - 3], sizeof(names[0]), "parse/not-json/%zu", i);
		cases[n] = (struct test_case){ names[n - 3], test_not_json, &bad[i] };
	}
	for (size_t i = 0; i < N_WIDTHS; i++, n++) {
		snprintf(names[n - 3], sizeof(names[0]), "render/fits-width/%d",
			 widths[i].width);
		cases[n] = (struct test_case){ names[n - 3], test_fits_width,
					       &widths[i] };
	}
	return test_main(&s, argc, argv);
}
