// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The JSON reader `spillway top` uses on the agent's `status --json`: a
 * table of documents it must read (with what it must find) or refuse (with
 * the offset and what it expected), and a round trip through the writer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "lib/json.h"
#include "lib/jsonparse.h"
#include "lib/util.h"

static char *copy(const char *s)
{
	char *d = strdup(s);

	CHECK(d);
	return d;
}

static struct jv *parse_ok(char *text)
{
	struct sw_error e = {};
	struct jv *v = jv_parse(text, &e);

	CHECK(v, "refused: %s", e.msg);
	return v;
}

static void test_scalars(const void *arg)
{
	char *t = copy(" {\"a\": 0, \"b\": 18446744073709551615, \"c\": -1.5e2,"
		      " \"d\": 18446744073709551616, \"e\": true, \"f\": false,"
		      " \"g\": null, \"h\": \"x\", \"i\": 7e0}\n");
	struct jv *v = parse_ok(t);

	(void)arg;
	CHECK_EQ(v->type, JV_OBJECT);
	CHECK_EQ(jv_get_uint(v, "a", 9), 0);
	CHECK(jv_get_uint(v, "b", 0) == 18446744073709551615ull);
	CHECK(jv_get(v, "c")->num == -150.0);
	CHECK(!jv_get(v, "c")->is_uint);
	CHECK_EQ(jv_get_uint(v, "d", 3), 3);	/* too big: not a u64 */
	CHECK(jv_get(v, "d")->num > 1.8e19);
	CHECK(jv_get_bool(v, "e", false));
	CHECK(!jv_get_bool(v, "f", true));
	CHECK_EQ(jv_get(v, "g")->type, JV_NULL);
	CHECK(!strcmp(jv_get_string(v, "h", ""), "x"));
	CHECK_EQ(jv_get_uint(v, "i", 4), 4);	/* an exponent is not whole */
	CHECK(!jv_get(v, "missing"));
	CHECK(!strcmp(jv_get_string(v, "a", "dflt"), "dflt"));	/* wrong type */
	jv_free(v);
	free(t);
}

static void test_nesting(const void *arg)
{
	char *t = copy("{\"services\":[{\"name\":\"a\",\"n\":1},{\"name\":\"b\","
		      "\"n\":2},{}],\"empty\":[],\"o\":{}}");
	struct jv *v = parse_ok(t);
	const struct jv *s = jv_get(v, "services"), *m;
	int n = 0;

	(void)arg;
	CHECK_EQ(s->type, JV_ARRAY);
	for (m = s->child; m; m = m->next)
		n++;
	CHECK_EQ(n, 3);
	CHECK(!strcmp(jv_get_string(s->child->next, "name", ""), "b"));
	CHECK_EQ(jv_get_uint(s->child->next, "n", 0), 2);
	CHECK(!jv_get(v, "empty")->child);
	CHECK_EQ(jv_get(v, "o")->type, JV_OBJECT);
	CHECK(!jv_get(s, "name"));	/* an array has no members */
	jv_free(v);
	free(t);
}

static void test_escapes(const void *arg)
{
	char *t = copy("[\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\", \"\\u00e9\\u20ac"
		      "\\ud83d\\ude00\\u0041\"]");
	struct jv *v = parse_ok(t);

	(void)arg;
	CHECK(!strcmp(v->child->s, "q\" b\\ s/ \b\f\n\r\t"), "%s", v->child->s);
	CHECK(!strcmp(v->child->next->s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
		      "A"), "%s", v->child->next->s);
	jv_free(v);
	free(t);
}

/* Whatever the writer writes, the reader reads back the same. */
static void test_round_trip(const void *arg)
{
	const char *name = "svc \"quoted\" \\ back\x01\x1f tab\t é";
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct json j;
	struct jv *v;

	(void)arg;
	json_init(&j, f);
	json_object(&j);
	json_key(&j, name);
	json_string(&j, name);
	json_key(&j, "n");
	json_uint(&j, 18446744073709551615ull);
	json_end(&j);
	fclose(f);
	v = parse_ok(text);
	CHECK(!strcmp(v->child->key, name), "%s", v->child->key);
	CHECK(!strcmp(v->child->s, name), "%s", v->child->s);
	CHECK(jv_get_uint(v, "n", 0) == 18446744073709551615ull);
	jv_free(v);
	free(text);
}

static const struct bad_case {
	const char *text, *error;
} bad[] = {
	{ "", "offset 0: expected a value" },
	{ "{", "offset 1: expected a member name in quotes, found the end" },
	{ "{\"a\" 1}", "offset 5: expected ':' after a member name, found '1'" },
	{ "{\"a\":1,}", "offset 7: expected a member name in quotes, found '}'" },
	{ "{\"a\":1 \"b\":2}", "offset 7: expected ',' or '}' after a member" },
	{ "[1 2]", "offset 3: expected ',' or ']' after an element" },
	{ "[1,]", "offset 3: expected a value" },
	{ "{} x", "offset 3: expected the end of the text after the value" },
	{ "01", "offset 1: expected the end of the text" },
	{ "-", "offset 1: expected a digit" },
	{ "1.", "offset 2: expected a digit after '.'" },
	{ "1e+", "offset 3: expected a digit in the exponent" },
	{ "0x10", "offset 1: expected the end of the text" },
	{ "tru", "offset 0: expected a value" },
	{ "nulll", "offset 4: expected the end of the text" },
	{ "\"abc", "offset 4: expected a closing '\"'" },
	{ "\"a\nb\"", "offset 2: expected a closing '\"' (control bytes" },
	{ "\"\\x\"", "offset 2: expected an escape" },
	{ "\"\\u12G4\"", "offset 1: expected four hex digits after \\u" },
	{ "\"\\udc00\"", "expected a high surrogate before a low one" },
	{ "\"\\ud83d x\"", "expected a low surrogate" },
	{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]",
	  "expected at most 64 levels of nesting" },
	{ "1" "111111111111111111111111111111111111111111111111111111111111111",
	  "expected a number of at most 63 characters" },
};

static void test_bad(const void *arg)
{
	const struct bad_case *c = arg;
	struct sw_error e = {};
	char *t = copy(c->text);
	struct jv *v = jv_parse(t, &e);

	CHECK(!v, "accepted '%s'", c->text);
	CHECK(strstr(e.msg, c->error), "'%s': error '%s' lacks '%s'", c->text,
	      e.msg, c->error);
	free(t);
}

#define N_BAD ARRAY_SIZE(bad)
static struct test_case cases[4 + N_BAD + 1] = {
	{ "read/scalars", test_scalars, NULL },
	{ "read/nesting", test_nesting, NULL },
	{ "read/escapes", test_escapes, NULL },
	{ "read/round-trip-with-writer", test_round_trip, NULL },
};
static char names[N_BAD][48];

int main(int argc, char **argv)
{
	struct test_suite s = { .name = "jsonparse", .cases = cases };

	for (size_t i = 0; i < N_BAD; i++) {
		snprintf(names[i], sizeof(names[i]), "refuse/%zu", i);
		cases[4 + i] = (struct test_case){ names[i], test_bad, &bad[i] };
	}
	return test_main(&s, argc, argv);
}
