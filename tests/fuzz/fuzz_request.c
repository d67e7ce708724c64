// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What the agent does with a control socket request's bytes: split them
 * into arguments, then parse the verb and its options.
 */
#include "fuzz.h"
#include "agent/request.h"
#include "agent/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[SW_RPC_MAX_ARGS + 1], *text;
	struct sw_request r;
	struct sw_error e = {};
	int argc;

	if (size > SW_RPC_MAX_REQUEST)
		return 0;		/* the agent refuses it unread */
	text = fuzz_text(data, size);
	argc = sw_rpc_split(text, size, argv, &e);
	if (argc >= 0)
		sw_request_parse(argc, argv, &r, &e);
	free(text);
	return 0;
}
