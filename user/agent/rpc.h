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
#include <stdio.h>
#include <linux/types.h>

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
 * Split a request's bytes (buf[len] must be NUL) into argv, NULL-ended.
 * Returns argc, or -E2BIG with e saying so when there are more than
 * SW_RPC_MAX_ARGS arguments (none is dropped silently).
 */
int sw_rpc_split(char *buf, size_t len, char *argv[SW_RPC_MAX_ARGS + 1],
		 struct sw_error *e);

/*
 * Server: every client is a small state machine on the agent's event loop
 * (read the request, build the reply, write it as the socket drains), so
 * no client can block the loop. A client that has not sent its whole
 * request within SW_RPC_DEADLINE_S, or leaves its reply unread that long,
 * is closed; beyond SW_RPC_MAX_CLIENTS at once, a new one is refused.
 */
#define SW_RPC_DEADLINE_S 2
#define SW_RPC_MAX_CLIENTS 16

struct sw_loop;
struct sw_rpc_server;

/* Write the reply to argv into out and return its status. */
typedef enum sw_rpc_status (*sw_rpc_handler)(void *arg, int argc,
					     char *argv[], FILE *out);

/*
 * Listen at path (mode 0600, its directory created 0755; a socket file
 * left by a dead agent is replaced, a live agent there is an error) and
 * serve root's requests with handler.
 */
struct sw_rpc_server *sw_rpc_serve(struct sw_loop *loop, const char *path,
				   sw_rpc_handler handler, void *arg,
				   struct sw_error *e);
/* Close the clients past their deadline (call about once a second). */
void sw_rpc_tick(struct sw_rpc_server *s, __u64 now_ns);
/* Close every client and the socket, and remove its file. */
void sw_rpc_stop(struct sw_rpc_server *s);

#endif /* SW_AGENT_RPC_H */
