// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spillway/defaults.h"
#include "lib/text.h"
#include "lib/util.h"
#include "datapath/control.h"
#include "agent/request.h"

/* The options a verb takes. */
enum opt {
	OPT_JSON = 1 << 0,
	OPT_SOCKET = 1 << 1,
	OPT_MAX = 1 << 2,
	OPT_RESUME = 1 << 3,
	OPT_SERVICE = 1 << 4,
	OPT_LIMIT = 1 << 5,
};

static const struct option_def {
	const char *name;
	enum opt opt;
	bool takes_value;
} options[] = {
	{ "--json", OPT_JSON, false },
	{ "--socket", OPT_SOCKET, true },
	{ "--max-connections", OPT_MAX, true },
	{ "--resume-below", OPT_RESUME, true },
	{ "--service", OPT_SERVICE, true },
	{ "--limit", OPT_LIMIT, true },
};

static int bad(struct sw_error *e, const char *verb, const char *fmt,
	       const char *arg)
{
	char what[512];

	snprintf(what, sizeof(what), fmt, arg);
	/* No "VERB: " prefix: the CLI puts "spillway VERB: " before it. */
	return sw_fail(e, -EINVAL, "%s (see 'spillway %s --help')", what, verb);
}

static int set_option(struct sw_request *r, enum opt opt, const char *value,
		      const char *verb, struct sw_error *e)
{
	switch (opt) {
	case OPT_JSON:
		r->json = true;
		return 0;
	case OPT_SOCKET:
		r->socket = value;
		return 0;
	case OPT_MAX:
		if (sw_parse_u32(value, 1, UINT32_MAX, &r->max_connections))
			return bad(e, verb, "--max-connections '%s' is not a "
				   "whole number from 1 to 4294967295", value);
		return 0;
	case OPT_RESUME:
		if (sw_parse_u32(value, 1, UINT32_MAX, &r->resume_below))
			return bad(e, verb, "--resume-below '%s' is not a whole "
				   "number from 1 to 4294967295", value);
		return 0;
	case OPT_SERVICE:
		if (snprintf(r->service, sizeof(r->service), "%s", value) >=
		    (int)sizeof(r->service))
			return bad(e, verb, "service name too long: %s", value);
		return 0;
	case OPT_LIMIT:
		if (sw_parse_u32(value, 0, UINT32_MAX, &r->limit))
			return bad(e, verb, "--limit '%s' is not a whole number "
				   "(0: no limit)", value);
		return 0;
	}
	return -EINVAL;
}

/* Options of argv[first..]; positional arguments go to *pos (at most n). */
static int parse_options(int argc, char *const argv[], int first,
			 unsigned int allowed, const char *verb,
			 struct sw_request *r, const char **pos, int *npos,
			 struct sw_error *e)
{
	int max_pos = *npos;

	*npos = 0;
	for (int i = first; i < argc; i++) {
		const char *arg = argv[i], *value = NULL, *eq;
		const struct option_def *o = NULL;
		size_t len;
		int err;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			r->help = true;
			continue;
		}
		if (strncmp(arg, "--", 2)) {
			if (*npos == max_pos)
				return bad(e, verb, "unexpected argument '%s'", arg);
			pos[(*npos)++] = arg;
			continue;
		}
		eq = strchr(arg, '=');
		len = eq ? (size_t)(eq - arg) : strlen(arg);
		for (size_t k = 0; k < ARRAY_SIZE(options); k++)
			if (strlen(options[k].name) == len &&
			    !strncmp(options[k].name, arg, len) &&
			    (allowed & options[k].opt))
				o = &options[k];
		if (!o)
			return bad(e, verb, "unknown option '%s'", arg);
		if (o->takes_value) {
			value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (!value)
				return bad(e, verb, "%s needs a value", o->name);
		} else if (eq) {
			return bad(e, verb, "%s takes no value", o->name);
		}
		err = set_option(r, o->opt, value, verb, e);
		if (err)
			return err;
	}
	return 0;
}

int sw_request_parse(int argc, char *const argv[], struct sw_request *r,
		     struct sw_error *e)
{
	const char *pos[2];
	int npos = 2, err;

	memset(r, 0, sizeof(*r));
	r->socket = SW_DEFAULT_SOCKET;
	r->limit = SW_FLOWS_DEFAULT_LIMIT;
	if (argc < 1)
		return sw_fail(e, -EINVAL, "no verb");
	if (!strcmp(argv[0], "status")) {
		r->verb = SW_VERB_STATUS;
		npos = 0;
		return parse_options(argc, argv, 1, OPT_JSON | OPT_SOCKET,
				     "status", r, pos, &npos, e);
	}
	if (!strcmp(argv[0], "flows")) {
		r->verb = SW_VERB_FLOWS;
		npos = 0;
		return parse_options(argc, argv, 1,
				     OPT_JSON | OPT_SOCKET | OPT_SERVICE | OPT_LIMIT,
				     "flows", r, pos, &npos, e);
	}
	if (strcmp(argv[0], "service"))
		return sw_fail(e, -EINVAL, "'%s' is not a verb the agent serves",
			       argv[0]);
	r->verb = SW_VERB_SERVICE_SET;
	err = parse_options(argc, argv, 1, OPT_SOCKET | OPT_MAX | OPT_RESUME,
			    "service", r, pos, &npos, e);
	if (err || r->help)
		return err;
	if (npos < 1 || strcmp(pos[0], "set"))
		return bad(e, "service", "expected 'service set NAME ...'%s", "");
	if (npos < 2)
		return bad(e, "service", "'service set' needs the service's "
			   "name%s", "");
	if (snprintf(r->service, sizeof(r->service), "%s", pos[1]) >=
	    (int)sizeof(r->service))
		return bad(e, "service", "service name too long: %s", pos[1]);
	if (!r->max_connections)
		return bad(e, "service", "'service set' needs "
			   "--max-connections N%s", "");
	err = sw_service_resume_below(r->max_connections, &r->resume_below,
				      "--max-connections", e);
	return err ? sw_prefix(e, err, "--resume-below ") : 0;
}
