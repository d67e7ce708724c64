// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The verb grammar the CLI checks and the agent executes: a table of
 * command lines, each with the request it must give or the error it must
 * name.
 */
#include <errno.h>
#include <string.h>

#include "spillway/defaults.h"
#include "lib/util.h"
#include "harness.h"
#include "agent/request.h"
#include "agent/rpc.h"

#define MAX_ARGS 8

static const struct parse_case {
	const char *args[MAX_ARGS];	/* ends with NULL */
	const char *error;		/* NULL: must parse */
	struct sw_request want;		/* the fields checked when it parses */
} cases[] = {
	{ .args = { "status" }, .want = { .verb = SW_VERB_STATUS } },
	{ .args = { "status", "--json" }, .want = { .verb = SW_VERB_STATUS, .json = true } },
	{ .args = { "status", "--socket", "/x.sock" }, .want = { .verb = SW_VERB_STATUS, .socket = "/x.sock" } },
	{ .args = { "status", "--socket=/y.sock", "--json" }, .want =
	  { .verb = SW_VERB_STATUS, .socket = "/y.sock", .json = true } },
	{ .args = { "status", "--help" }, .want = { .verb = SW_VERB_STATUS, .help = true } },
	{ .args = { "flows" }, .want = { .verb = SW_VERB_FLOWS, .limit = SW_FLOWS_DEFAULT_LIMIT } },
	{ .args = { "flows", "--service", "echo.default", "--limit", "0", "--json" }, .want =
	  { .verb = SW_VERB_FLOWS, .service = "echo.default", .json = true } },
	{ .args = { "flows", "--limit=25" }, .want = { .verb = SW_VERB_FLOWS, .limit = 25 } },
	{ .args = { "service", "set", "echo", "--max-connections", "10" }, .want =
	  { .verb = SW_VERB_SERVICE_SET, .service = "echo", .max_connections = 10,
	    .resume_below = 10 } },
	{ .args = { "service", "set", "echo", "--max-connections=10", "--resume-below", "7" }, .want =
	  { .verb = SW_VERB_SERVICE_SET, .service = "echo", .max_connections = 10,
	    .resume_below = 7 } },
	{ .args = { "service", "set", "echo", "--max-connections", "4294967295" }, .want =
	  { .verb = SW_VERB_SERVICE_SET, .service = "echo", .max_connections = 4294967295u,
	    .resume_below = 4294967295u } },
	/* errors: each names what is wrong */
	{ .args = { "status", "--bogus" }, .error = "unknown option '--bogus'" },
	{ .args = { "status", "extra" }, .error = "unexpected argument 'extra'" },
	{ .args = { "status", "--json=yes" }, .error = "--json takes no value" },
	{ .args = { "status", "--socket" }, .error = "--socket needs a value" },
	{ .args = { "status", "--max-connections", "3" }, .error = "unknown option '--max-connections'" },
	{ .args = { "flows", "--limit", "-1" }, .error = "--limit '-1' is not a whole number" },
	{ .args = { "flows", "--limit", "1e3" }, .error = "--limit '1e3' is not a whole number" },
	{ .args = { "flows", "--service" }, .error = "--service needs a value" },
	{ .args = { "service" }, .error = "expected 'service set NAME ...'" },
	{ .args = { "service", "get", "echo" }, .error = "expected 'service set NAME ...'" },
	{ .args = { "service", "set" }, .error = "needs the service's name" },
	{ .args = { "service", "set", "echo" }, .error = "needs --max-connections N" },
	{ .args = { "service", "set", "echo", "--max-connections", "0" }, .error = "--max-connections '0' is not a whole number from 1" },
	{ .args = { "service", "set", "echo", "--max-connections", "x" }, .error = "--max-connections 'x'" },
	{ .args = { "service", "set", "echo", "--max-connections", "4294967296" }, .error = "--max-connections '4294967296'" },
	{ .args = { "service", "set", "echo", "--max-connections", " 5" }, .error = "--max-connections ' 5'" },
	{ .args = { "service", "set", "echo", "--max-connections", "5", "--resume-below", "6" },
	  .error = "--resume-below 6 is more than --max-connections (5); expected a "
		   "whole number from 1 to 5" },
	{ .args = { "service", "set", "a", "b", "--max-connections", "5" }, .error = "unexpected argument 'b'" },
	{ .args = { "service", "set", "echo", "--max-connections", "5", "--json" }, .error = "unknown option '--json'" },
	{ .args = { "bogus" }, .error = "'bogus' is not a verb the agent serves" },
};

static void test_parse(const void *arg)
{
	const struct parse_case *c = arg;
	struct sw_request r;
	struct sw_error e = {};
	int argc = 0, err;

	while (argc < MAX_ARGS && c->args[argc])
		argc++;
	err = sw_request_parse(argc, (char *const *)c->args, &r, &e);
	if (c->error) {
		CHECK(err == -EINVAL, "parsed, expected an error");
		CHECK(strstr(e.msg, c->error), "message '%s' lacks '%s'", e.msg,
		      c->error);
		/* The CLI prefixes "spillway VERB: ", once: not here too. */
		CHECK(strncmp(e.msg, c->args[0], strlen(c->args[0])),
		      "message starts with the verb: %s", e.msg);
		return;
	}
	CHECK(!err, "%s", e.msg);
	CHECK_EQ(r.verb, c->want.verb);
	CHECK_EQ(r.json, c->want.json);
	CHECK_EQ(r.help, c->want.help);
	CHECK(!strcmp(r.socket, c->want.socket ? c->want.socket : SW_DEFAULT_SOCKET),
	      "socket %s", r.socket);
	CHECK(!strcmp(r.service, c->want.service), "service %s", r.service);
	CHECK_EQ(r.max_connections, c->want.max_connections);
	CHECK_EQ(r.resume_below, c->want.resume_below);
	if (r.verb == SW_VERB_FLOWS)
		CHECK_EQ(r.limit, c->want.limit);
}

/*
 * The agent's side of the socket: as many arguments as it takes, each
 * whole; one more is refused, never dropped.
 */
static void test_split(const void *arg)
{
	char buf[SW_RPC_MAX_REQUEST + 1], *argv[SW_RPC_MAX_ARGS + 1];
	struct sw_error e = {};
	int n = *(const int *)arg, len = 0, argc;

	for (int i = 0; i < n; i++)
		len += snprintf(buf + len, sizeof(buf) - len, "a%d", i) + 1;
	buf[len] = '\0';
	argc = sw_rpc_split(buf, len, argv, &e);
	if (n > SW_RPC_MAX_ARGS) {
		CHECK_EQ(argc, -E2BIG);
		CHECK(strstr(e.msg, "more than 32 arguments"), "%s", e.msg);
		return;
	}
	CHECK(argc == n, "%d arguments, expected %d: %s", argc, n, e.msg);
	CHECK(!argv[n], "argv is not NULL-ended");
	snprintf(buf, sizeof(buf), "a%d", n - 1);
	CHECK(!n || !strcmp(argv[n - 1], buf), "last: %s", n ? argv[n - 1] : "");
}

static const int split_sizes[] = { 0, 1, SW_RPC_MAX_ARGS, SW_RPC_MAX_ARGS + 1 };

#define N ARRAY_SIZE(cases)
#define N_SPLIT ARRAY_SIZE(split_sizes)
static struct test_case suite_cases[N + N_SPLIT + 1];
static char names[N + N_SPLIT][96];

int main(int argc, char **argv)
{
	struct test_suite s = { .name = "request", .cases = suite_cases };

	for (size_t i = 0; i < N; i++) {
		int n = 0;

		for (int k = 0; k < MAX_ARGS && cases[i].args[k]; k++)
			n += snprintf(names[i] + n, sizeof(names[i]) - n, "%s%s",
				      k ? " " : "", cases[i].args[k]);
		suite_cases[i] = (struct test_case){ names[i], test_parse, &cases[i] };
	}
	for (size_t i = 0; i < N_SPLIT; i++) {
		snprintf(names[N + i], sizeof(names[N + i]), "split/%d-arguments",
			 split_sizes[i]);
		suite_cases[N + i] = (struct test_case){ names[N + i], test_split,
							 &split_sizes[i] };
	}
	return test_main(&s, argc, argv);
}
