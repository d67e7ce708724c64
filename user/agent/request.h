/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The verbs the agent serves, parsed from argv. The CLI parses a command
 * line with it before sending it (so bad input fails without an agent), and
 * the agent parses what it receives with the same function.
 */
#ifndef SW_AGENT_REQUEST_H
#define SW_AGENT_REQUEST_H

#include <stdbool.h>
#include <linux/types.h>

#include "config/config.h"
#include "lib/error.h"

enum sw_verb {
	SW_VERB_STATUS,
	SW_VERB_SERVICE_SET,
	SW_VERB_FLOWS,
};

#define SW_FLOWS_DEFAULT_LIMIT 1000

struct sw_request {
	enum sw_verb verb;
	bool json;
	bool help;				/* --help: print the verb's help */
	const char *socket;			/* --socket, else the default */
	char service[SW_NAME_MAX + 1];		/* service set NAME / flows --service */
	__u32 max_connections;
	__u32 resume_below;			/* = max_connections if not given */
	__u32 limit;				/* flows --limit; 0: no limit */
};

/*
 * argv[0] is the verb ("status", "service", "flows"). Returns 0, or -EINVAL
 * with e saying which argument is wrong and what is expected.
 */
int sw_request_parse(int argc, char *const argv[], struct sw_request *r,
		     struct sw_error *e);

#endif /* SW_AGENT_REQUEST_H */
