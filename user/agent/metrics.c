// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>

#include "lib/addr.h"
#include "agent/metrics.h"

/*
 * Limits that keep /healthz answering however many idle connections arrive:
 * one address (a scraper, or anything on a hostNetwork port) holds at most
 * PER_IP_LIMIT connections, so the kubelet's probe from the node's address
 * still finds room; an idle connection is closed after IDLE_TIMEOUT_S.
 * Past a limit, libmicrohttpd accepts and closes the connection at once.
 */
#define CONNECTION_LIMIT 256u
#define PER_IP_LIMIT 16u
#define IDLE_TIMEOUT_S 5u

struct sw_http {
	struct MHD_Daemon *daemon;
	sw_http_handler handler;
	void *arg;
};

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	struct sw_http *h = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = 0;
	char *body = NULL;
	int status;
	FILE *out;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)state;
	out = open_memstream(&body, &len);
	if (!out)
		return MHD_NO;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		fputs("only GET\n", out);
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else {
		status = h->handler(h->arg, url, out);
	}
	fclose(out);
	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
				"text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

struct sw_http *sw_http_start(const struct sw_hostport *listen,
			      sw_http_handler handler, void *arg,
			      struct sw_error *e)
{
	struct sockaddr_storage sa;
	struct sw_http *h;
	socklen_t len;

	if (sw_sockaddr_make(listen->host, listen->port, &sa, &len)) {
		sw_fail(e, -EINVAL, "metrics.listen: %s is not an IP address",
			listen->host);
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		sw_fail(e, -ENOMEM, "out of memory");
		return NULL;
	}
	h->handler = handler;
	h->arg = arg;
	h->daemon = MHD_start_daemon(MHD_USE_EPOLL |
				     (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
				     listen->port, NULL, NULL, answer, h,
				     MHD_OPTION_SOCK_ADDR, &sa,
				     MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S,
				     MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
				     MHD_OPTION_PER_IP_CONNECTION_LIMIT, PER_IP_LIMIT,
				     MHD_OPTION_END);
	if (!h->daemon) {
		free(h);
		sw_fail(e, -EADDRINUSE, "cannot serve metrics on %s:%u (address "
			"in use, or not an address of this host?)", listen->host,
			listen->port);
		return NULL;
	}
	return h;
}

int sw_http_fd(struct sw_http *h)
{
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);

	return info ? info->epoll_fd : -1;
}

void sw_http_run(struct sw_http *h)
{
	MHD_run(h->daemon);
}

void sw_http_stop(struct sw_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	free(h);
}
