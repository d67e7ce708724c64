/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's HTTP endpoint (/metrics, /healthz, /readyz), served by
 * libmicrohttpd from the agent's own event loop: MHD's epoll fd joins the
 * loop, so no request ever runs beside another piece of agent work.
 */
#ifndef SW_AGENT_METRICS_H
#define SW_AGENT_METRICS_H

#include <stdio.h>

#include "lib/text.h"
#include "lib/error.h"

/* Write the body for url into out and return the HTTP status. */
typedef int (*sw_http_handler)(void *arg, const char *url, FILE *out);

struct sw_http;

struct sw_http *sw_http_start(const struct sw_hostport *listen,
			      sw_http_handler handler, void *arg,
			      struct sw_error *e);
int sw_http_fd(struct sw_http *h);	/* readable: call sw_http_run */
void sw_http_run(struct sw_http *h);
void sw_http_stop(struct sw_http *h);

#endif /* SW_AGENT_METRICS_H */
