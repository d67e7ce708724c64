// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Text as users write it (user/lib/text.c): each parser against a table of
 * what it must take, to what value, and what it must refuse.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "spillway/defaults.h"
#include "lib/text.h"
#include "lib/util.h"
#include "harness.h"

#define NS_PER_MS 1000000ull

#define CHECK_STR(a, b)                                                      \
	CHECK(!strcmp((a), (b)), "'%s' != '%s'", (a), (b))

/* ------------------------------------------------------------------------ */
/* sw_duration_parse: the configuration's syntax and Go's (Istio's) */

struct duration_result {
	bool ok;
	__u64 ns;
};

#define NS(v) { true, (v) }
#define REFUSED { false, 0 }

static const struct {
	const char *text;
	struct duration_result spillway, go;
} durations[] = {
	{ "10s", NS(10 * NS_PER_S), NS(10 * NS_PER_S) },
	{ "500ms", NS(500 * NS_PER_MS), NS(500 * NS_PER_MS) },
	{ "2m", NS(120 * NS_PER_S), NS(120 * NS_PER_S) },
	{ "1h", NS(3600 * NS_PER_S), NS(3600 * NS_PER_S) },
	{ "1h30m", NS(5400 * NS_PER_S), NS(5400 * NS_PER_S) },
	{ "1h05m", NS(3900 * NS_PER_S), NS(3900 * NS_PER_S) },
	{ "1m30s250ms", NS(90250 * NS_PER_MS), NS(90250 * NS_PER_MS) },
	{ "7us", NS(7000), NS(7000) },
	{ "3ns", NS(3), NS(3) },
	{ "0s", NS(0), NS(0) },		/* a duration; callers refuse 0 */
	{ "18446744073709551615ns", NS(18446744073709551615ull),
	  NS(18446744073709551615ull) },
	{ "5124095h34m33s709ms551us615ns", NS(18446744073709551615ull),
	  NS(18446744073709551615ull) },
	/* Go's alone: fractions, the micro sign, any order, repeats */
	{ "1.5s", REFUSED, NS(1500 * NS_PER_MS) },
	{ "0.100s", REFUSED, NS(100 * NS_PER_MS) },
	{ ".5s", REFUSED, NS(500 * NS_PER_MS) },
	{ "1.s", REFUSED, NS(NS_PER_S) },
	{ "1h0.5m", REFUSED, NS(3630 * NS_PER_S) },
	{ "1.0000000009s", REFUSED, NS(NS_PER_S) },	/* below 1ns: dropped */
	{ "1.999999999h", REFUSED, NS(7199999996400ull) },
	{ "5124095h34m33.709551615s", REFUSED, NS(18446744073709551615ull) },
	{ "2\xc2\xb5s", REFUSED, NS(2000) },
	{ "30m1h", REFUSED, NS(5400 * NS_PER_S) },
	{ "1s1s", REFUSED, NS(2 * NS_PER_S) },
	/* neither */
	{ "", REFUSED, REFUSED },
	{ "10", REFUSED, REFUSED },
	{ "0", REFUSED, REFUSED },
	{ "s", REFUSED, REFUSED },
	{ "ms", REFUSED, REFUSED },
	{ ".s", REFUSED, REFUSED },
	{ "1.s5", REFUSED, REFUSED },
	{ "1.5.5s", REFUSED, REFUSED },
	{ "\xc2\xb5s", REFUSED, REFUSED },
	{ "1\xc2\xb5", REFUSED, REFUSED },
	{ "-1s", REFUSED, REFUSED },
	{ "+1s", REFUSED, REFUSED },
	{ "10x", REFUSED, REFUSED },
	{ "10d", REFUSED, REFUSED },
	{ "1S", REFUSED, REFUSED },
	{ "1 s", REFUSED, REFUSED },
	{ " 1s", REFUSED, REFUSED },
	{ "1s ", REFUSED, REFUSED },
	{ "1h30", REFUSED, REFUSED },
	{ "18446744073709551616ns", REFUSED, REFUSED },
	{ "99999999999999999999s", REFUSED, REFUSED },
	{ "5124096h", REFUSED, REFUSED },
	{ "5124095h34m33s709ms551us616ns", REFUSED, REFUSED },
	{ "5124095h34m33.709551616s", REFUSED, REFUSED },
};

static void check_duration(const char *text, enum sw_duration_syntax syntax,
			   const struct duration_result *want)
{
	__u64 ns = 12345;
	int err = sw_duration_parse(text, syntax, &ns);

	if (!want->ok) {
		CHECK(err == -EINVAL && ns == 12345, "'%s' (%s): %d, %llu", text,
		      syntax == SW_DURATION_GO ? "go" : "spillway", err,
		      (unsigned long long)ns);
		return;
	}
	CHECK(!err, "'%s' (%s): %d", text,
	      syntax == SW_DURATION_GO ? "go" : "spillway", err);
	CHECK(ns == want->ns, "'%s' (%s): %llu != %llu", text,
	      syntax == SW_DURATION_GO ? "go" : "spillway",
	      (unsigned long long)ns, (unsigned long long)want->ns);
}

static void test_duration_parse(const void *arg)
{
	(void)arg;
	for (size_t i = 0; i < ARRAY_SIZE(durations); i++) {
		check_duration(durations[i].text, SW_DURATION_SPILLWAY,
			       &durations[i].spillway);
		check_duration(durations[i].text, SW_DURATION_GO,
			       &durations[i].go);
	}
}

/* What sw_duration_format writes, either syntax reads back. */
static void test_duration_format(const void *arg)
{
	static const __u64 values[] = { 0, 1, 999, NS_PER_S, 5400 * NS_PER_S,
					90250 * NS_PER_MS, 18446744073709551615ull };
	char buf[64];

	(void)arg;
	for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
		struct duration_result want = NS(values[i]);

		sw_duration_format(values[i], buf, sizeof(buf));
		check_duration(buf, SW_DURATION_SPILLWAY, &want);
		check_duration(buf, SW_DURATION_GO, &want);
	}
}

/* ------------------------------------------------------------------------ */
/* sw_hostport_parse */

static const char long_host[] =	/* 254 characters: one too many */
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:80";

static const struct {
	const char *text;
	const char *host;	/* NULL: -EINVAL */
	__u16 port;
} hostports[] = {
	{ "203.0.113.7:15008", "203.0.113.7", 15008 },
	{ "0.0.0.0:1", "0.0.0.0", 1 },
	{ "[2001:db8::1]:443", "2001:db8::1", 443 },
	{ "[::]:15008", "::", 15008 },
	{ "[::ffff:10.0.0.1]:80", "::ffff:10.0.0.1", 80 },
	{ "gw.example.com:65535", "gw.example.com", 65535 },
	{ "localhost:80", "localhost", 80 },
	{ "1gw.example-2.com:80", "1gw.example-2.com", 80 },
	{ "", NULL, 0 },
	{ ":80", NULL, 0 },
	{ "gw.example.com", NULL, 0 },
	{ "gw.example.com:", NULL, 0 },
	{ "gw.example.com:0", NULL, 0 },
	{ "gw.example.com:65536", NULL, 0 },
	{ "gw.example.com:080", NULL, 0 },
	{ "gw.example.com:-1", NULL, 0 },
	{ "gw.example.com:http", NULL, 0 },
	{ "gw.example.com:80 ", NULL, 0 },
	{ "2001:db8::1:443", NULL, 0 },
	{ "[2001:db8::1]", NULL, 0 },
	{ "[2001:db8::1]443", NULL, 0 },
	{ "[2001:db8::1:443", NULL, 0 },
	{ "[]:80", NULL, 0 },
	{ "[10.0.0.1]:80", NULL, 0 },
	{ "[gw.example.com]:80", NULL, 0 },
	{ "300.0.113.7:80", NULL, 0 },
	{ "10.0.1:80", NULL, 0 },
	{ "GW.example.com:80", NULL, 0 },
	{ "gw_1.example.com:80", NULL, 0 },
	{ "-gw.example.com:80", NULL, 0 },
	{ "gw..example.com:80", NULL, 0 },
	{ "gw.example.com.:80", NULL, 0 },
	{ "gw example:80", NULL, 0 },
	{ long_host, NULL, 0 },
};

static void test_hostport_parse(const void *arg)
{
	(void)arg;
	for (size_t i = 0; i < ARRAY_SIZE(hostports); i++) {
		struct sw_hostport hp = { "untouched", 7 };
		int err = sw_hostport_parse(hostports[i].text, &hp);

		if (!hostports[i].host) {
			CHECK(err == -EINVAL, "'%s': %d", hostports[i].text, err);
			continue;
		}
		CHECK(!err, "'%s': %d", hostports[i].text, err);
		CHECK_STR(hp.host, hostports[i].host);
		CHECK_EQ(hp.port, hostports[i].port);
	}
}

/* ------------------------------------------------------------------------ */

static const struct test_case cases[] = {
	{ "duration-parse", test_duration_parse, NULL },
	{ "duration-format", test_duration_format, NULL },
	{ "hostport-parse", test_hostport_parse, NULL },
	{ 0 },
};

int main(int argc, char **argv)
{
	static const struct test_suite suite = { .name = "text", .cases = cases };

	return test_main(&suite, argc, argv);
}
