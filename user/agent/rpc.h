/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The CLI <-> agent protocol on a UNIX stream socket. A request is the
 * verb's arguments, each ending in a NUL byte, then the client's end of
 * stream. The reply is a status line ("0\n" ok, "1\n" failed, "2\n" bad
 * usage) and a body the CLI prints as it is (a table, JSON, or an error
 * message). One request per connection; only root may connect.
 */
#ifndef SW_AGENT_RPC_H
#define SW_AGENT_RPC_H

#include <stddef.h>

#include "lib/error.h"

#define SW_RPC_MAX_ARGS 32
#define SW_RPC_MAX_REQUEST 4096

enum sw_rpc_status {
	SW_RPC_OK = 0,
	SW_RPC_FAILED = 1,
	SW_RPC_USAGE = 2,
};

/* Client: send argv, return the reply's status and body (malloc'ed). */
int sw_rpc_call(const char *path, int argc, char *const argv[],
		enum sw_rpc_status *status, char **body, struct sw_error *e);

/*
 * Server: listen at path (mode 0600, its directory created 0755). A socket
 * file left by a dead agent is replaced; a live agent there is an error.
 */
int sw_rpc_listen(const char *path, struct sw_error *e);

struct sw_rpc_request {
	int fd;
	int argc;
	char *argv[SW_RPC_MAX_ARGS + 1];
	char buf[SW_RPC_MAX_REQUEST];
};

/* Accept and read one request from a root peer; < 0 if refused or broken. */
int sw_rpc_accept(int listen_fd, struct sw_rpc_request *req, struct sw_error *e);
void sw_rpc_reply(struct sw_rpc_request *req, enum sw_rpc_status status,
		  const char *body, size_t len);

#endif /* SW_AGENT_RPC_H */
