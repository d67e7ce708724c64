// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The load tool of the tunnel benchmark, and the HTTP service of the spill
 * benchmark.
 *
 *   tcpload serve ECHO_ADDR:PORT SINK_ADDR:PORT [BANNER]
 *       echo: greets with BANNER and a newline if given, then answers what
 *       it reads; sink: reads an 8-byte length, then
 *       that many bytes, then answers one byte (no reliance on half-close)
 *   tcpload rate ADDR:PORT SECONDS INFLIGHT
 *       new connections, each: connect, send 16 bytes, read them back, close;
 *       INFLIGHT at a time, for SECONDS; prints "connections N failed F rate R"
 *   tcpload bulk ADDR:PORT BYTES
 *       one connection, BYTES one way to a sink, then waits for its answer;
 *       prints "bytes N seconds S gbit G"
 *   tcpload http ADDR:PORT BODY
 *       for wrk: answers each connection's first request (once its header
 *       has arrived) with 200, BODY and a newline, "Connection: close", and
 *       closes it; so every request is a new connection
 *
 * Bounded in count and time: every client mode ends by itself; the servers
 * run until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/addr.h"

#define MSG "0123456789abcdef"
#define MSG_LEN 16
#define MAX_INFLIGHT 4096

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int parse(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon = strrchr(spec, ':');

	if (!colon || colon - spec >= (int)sizeof(host))
		return -1;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	return sw_sockaddr_make(host, atoi(colon + 1), ss, len);
}

static int listener(const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd;

	if (parse(spec, &ss, &len))
		die(spec);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 4096))
		die(spec);
	return fd;
}

/* ---- the servers: one epoll loop, until killed ---- */

#define LISTENER 0xffffffffu	/* the kind in a listening socket's tag */

enum { ECHO = 1, SINK, HTTP };	/* kinds of connections */

struct listening {
	int fd;
	unsigned kind;		/* of its connections */
	const char *greeting;	/* written to each new connection, or NULL */
};

/* Called when connection fd is readable: 0 keeps it, -1 closes it. */
typedef int (*handler)(int fd, unsigned kind);

static char rbuf[1 << 18];	/* what the servers read */

/* Watch fd for reading on ep, tagged (fd | kind << 32). */
static void watch(int ep, int fd, unsigned kind)
{
	struct epoll_event ev = { .events = EPOLLIN,
				  .data.u64 = (unsigned)fd | (uint64_t)kind << 32 };

	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void accept_all(int ep, const struct listening *l)
{
	int c;

	while ((c = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		watch(ep, c, l->kind);
		if (l->greeting && write(c, l->greeting, strlen(l->greeting)) < 0)
			close(c);
	}
}

/* Say "ready", then accept on the n listeners and hand every readable
 * connection to handle, until killed. */
static __attribute__((noreturn)) void serve_forever(const struct listening *ls,
						    int n, handler handle)
{
	int ep = epoll_create1(0);

	for (int i = 0; i < n; i++)
		watch(ep, ls[i].fd, LISTENER);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct epoll_event evs[256];
		int nev = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < nev; i++) {
			int fd = evs[i].data.u64 & 0xffffffff;
			unsigned kind = evs[i].data.u64 >> 32;

			if (kind == LISTENER) {
				for (int j = 0; j < n; j++)
					if (ls[j].fd == fd)
						accept_all(ep, &ls[j]);
			} else if (handle(fd, kind)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
			}
		}
	}
}

/* ---- serve: echo and sink ---- */

static int echo_or_sink(int fd, unsigned kind)
{
	static long long expect[65536];	/* sink: bytes still to come, by fd */
	ssize_t r = read(fd, rbuf, sizeof(rbuf));

	if (r > 0 && kind == SINK && fd < 65536) {
		if (!expect[fd] && r >= 8) {
			memcpy(&expect[fd], rbuf, 8);
			expect[fd] += 8;
		}
		expect[fd] -= r;
		if (expect[fd] <= 0 && write(fd, "k", 1) == 1) {
			expect[fd] = 0;
			r = 0;		/* done: close */
		}
	}
	if (r > 0 && kind == ECHO) {
		/* Small echoes: a blocking write is fine here. */
		fcntl(fd, F_SETFL, 0);
		if (write(fd, rbuf, r) != r)
			r = 0;
		fcntl(fd, F_SETFL, O_NONBLOCK);
	}
	return r == 0 || (r < 0 && errno != EAGAIN) ? -1 : 0;
}

static __attribute__((noreturn)) void serve(const char *echo_spec,
					    const char *sink_spec,
					    const char *banner)
{
	struct listening ls[] = {
		{ listener(echo_spec), ECHO, banner },
		{ listener(sink_spec), SINK, NULL },
	};

	serve_forever(ls, 2, echo_or_sink);
}

/* ---- http: one response per connection ---- */

static char response[512];
static int response_len;

static int http_conn(int fd, unsigned kind)
{
	static const char end[] = "\r\n\r\n";
	static unsigned char matched[65536];	/* of end[], by fd */
	ssize_t r = read(fd, rbuf, sizeof(rbuf));

	(void)kind;
	if (r < 0 && errno == EAGAIN)
		return 0;
	if (fd >= (int)sizeof(matched))
		return -1;
	/* Find the blank line that ends the header, across reads; the body
	 * of a request, if any, is not read. */
	for (ssize_t i = 0; i < r && matched[fd] < 4; i++)
		matched[fd] = rbuf[i] == end[matched[fd]] ? matched[fd] + 1 :
			      rbuf[i] == '\r';
	if (r > 0 && matched[fd] < 4)
		return 0;
	/* A few hundred bytes fit an empty socket buffer: one write. */
	if (r > 0 && write(fd, response, response_len) != response_len)
		perror("http: write");
	matched[fd] = 0;
	return -1;
}

static __attribute__((noreturn)) void http(const char *spec, const char *body)
{
	struct listening l = { listener(spec), HTTP, NULL };

	response_len = snprintf(response, sizeof(response),
				"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				"Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
				strlen(body) + 1, body);
	if (response_len < 0 || response_len >= (int)sizeof(response))
		die("http: body too long");
	serve_forever(&l, 1, http_conn);
}

/* ---- rate: many short connections ---- */

struct conn {
	int fd;
	int got;
};

static int start_conn(const struct sockaddr_storage *ss, socklen_t len, int ep,
		      struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

	c->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	c->got = -1;	/* connecting */
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if (connect(c->fd, (const struct sockaddr *)ss, len) && errno != EINPROGRESS) {
		close(c->fd);
		return -1;
	}
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static int rate(const char *spec, double seconds, int inflight)
{
	struct sockaddr_storage ss;
	static struct conn conns[MAX_INFLIGHT];
	long done = 0, failed = 0;
	double start = now(), end = start + seconds;
	int ep = epoll_create1(0);
	socklen_t len;

	if (parse(spec, &ss, &len) || inflight < 1 || inflight > MAX_INFLIGHT)
		die("rate: bad arguments");
	for (int i = 0; i < inflight; i++)
		if (start_conn(&ss, len, ep, &conns[i]))
			die("connect");
	while (now() < end) {
		struct epoll_event evs[256];
		int n = epoll_wait(ep, evs, 256, 100);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			char buf[64];
			int err = 0;

			if (c->got < 0) {
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err,
					   &(socklen_t){ sizeof(err) });
				if (!err && send(c->fd, MSG, MSG_LEN, MSG_NOSIGNAL) == MSG_LEN) {
					struct epoll_event ev = { .events = EPOLLIN,
								  .data.ptr = c };

					c->got = 0;
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
					continue;
				}
				failed++;
			} else {
				ssize_t r = read(c->fd, buf, sizeof(buf));

				if (r < 0 && errno == EAGAIN)
					continue;
				if (r > 0 && (c->got += r) < MSG_LEN)
					continue;
				if (r > 0)
					done++;
				else
					failed++;
			}
			close(c->fd);
			if (start_conn(&ss, len, ep, c))
				failed++;
		}
	}
	printf("connections %ld failed %ld rate %.0f\n", done, failed,
	       done / (now() - start));
	return 0;
}

/* ---- bulk: one stream ---- */

static int bulk(const char *spec, long long bytes)
{
	struct sockaddr_storage ss;
	static char buf[1 << 20];
	long long sent = 0;
	double start;
	socklen_t len;
	int fd;

	if (parse(spec, &ss, &len))
		die("bulk: bad address");
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len))
		die("connect");
	memset(buf, 'x', sizeof(buf));
	start = now();
	if (write(fd, &bytes, 8) != 8)
		die("write");
	while (sent < bytes) {
		ssize_t n = write(fd, buf, bytes - sent < (long long)sizeof(buf) ?
				  (size_t)(bytes - sent) : sizeof(buf));

		if (n <= 0)
			die("write");
		sent += n;
	}
	/* The sink answers once it has read everything: then it all arrived. */
	if (read(fd, buf, 1) != 1)
		die("read the sink's answer");
	double secs = now() - start;
	printf("bytes %lld seconds %.3f gbit %.2f\n", sent, secs,
	       sent * 8 / secs / 1e9);
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "serve")) {
		char banner[128];

		if (argc == 5)
			snprintf(banner, sizeof(banner), "%s\n", argv[4]);
		serve(argv[2], argv[3], argc == 5 ? banner : NULL);
	}
	if (argc == 5 && !strcmp(argv[1], "rate"))
		return rate(argv[2], atof(argv[3]), atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "bulk"))
		return bulk(argv[2], atoll(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "http"))
		http(argv[2], argv[3]);
	fprintf(stderr, "usage: tcpload serve ECHO SINK [BANNER] | rate ADDR SECONDS "
		"INFLIGHT | bulk ADDR BYTES | http ADDR BODY\n");
	return 2;
}
