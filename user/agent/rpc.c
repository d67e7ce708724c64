// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <libgen.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "spillway/defaults.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "agent/rpc.h"

/* A peer gets this long to send its request or read its reply. */
#define RPC_TIMEOUT_MS 2000

static int unix_address(const char *path, struct sockaddr_un *sa,
			struct sw_error *e)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return sw_fail(e, -ENAMETOOLONG,
			       "socket path %s is longer than %zu characters",
			       path, sizeof(sa->sun_path) - 1);
	strcpy(sa->sun_path, path);
	return 0;
}

static int connect_to(const char *path, struct sw_error *e)
{
	struct sockaddr_un sa;
	int fd, err = unix_address(path, &sa, e);

	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sw_fail(e, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return sw_fail(e, err,
			       "cannot reach the agent at %s: %s; is 'spillway "
			       "agent' running (and is this its --socket)?",
			       path, strerror(-err));
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

/* Read until end of stream (or max bytes), waiting at most the timeout. */
static ssize_t read_all(int fd, char **buf, size_t max)
{
	size_t len = 0, cap = 4096;
	char *b = malloc(cap + 1);
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (!b)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (poll(&p, 1, RPC_TIMEOUT_MS) != 1) {
			free(b);
			return -ETIMEDOUT;
		}
		if (len == cap) {
			char *nb = cap * 2 <= max ? realloc(b, cap * 2 + 1) : NULL;

			if (!nb) {
				free(b);
				return -E2BIG;
			}
			b = nb;
			cap *= 2;
		}
		n = read(fd, b + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(b);
			return -errno;
		}
		if (n == 0)
			break;
		len += n;
	}
	b[len] = '\0';
	*buf = b;
	return len;
}

int sw_rpc_call(const char *path, int argc, char *const argv[],
		enum sw_rpc_status *status, char **body, struct sw_error *e)
{
	char req[SW_RPC_MAX_REQUEST], *reply = NULL, *nl;
	size_t len = 0;
	ssize_t n;
	int fd, err;

	if (argc > SW_RPC_MAX_ARGS)
		return sw_fail(e, -E2BIG, "%d arguments: the agent takes at most "
			       "%d; give fewer", argc, SW_RPC_MAX_ARGS);
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]) + 1;

		if (len + l > sizeof(req))
			return sw_fail(e, -E2BIG, "the arguments are longer than "
				       "the agent takes (%d bytes in all)",
				       SW_RPC_MAX_REQUEST);
		memcpy(req + len, argv[i], l);
		len += l;
	}
	fd = connect_to(path, e);
	if (fd < 0)
		return fd;
	err = write_all(fd, req, len);
	if (!err && shutdown(fd, SHUT_WR))
		err = -errno;
	if (err) {
		close(fd);
		return sw_fail(e, err, "sending to the agent at %s: %s", path,
			       strerror(-err));
	}
	n = read_all(fd, &reply, 1u << 30);
	close(fd);
	if (n < 0)
		return sw_fail(e, n, "reading the agent's reply from %s: %s",
			       path, strerror(-n));
	nl = strchr(reply, '\n');
	if (!nl || nl - reply != 1 || reply[0] < '0' || reply[0] > '2') {
		free(reply);
		return sw_fail(e, -EPROTO, "the agent at %s sent a reply this "
			       "spillway does not understand (another version?)",
			       path);
	}
	*status = reply[0] - '0';
	memmove(reply, nl + 1, n - 2 + 1);
	*body = reply;
	return 0;
}

/* Is an agent answering at path? (A socket file with no listener is not.) */
static bool agent_answers(const char *path)
{
	int fd = connect_to(path, NULL);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int listen_at(const char *path, struct sw_error *e)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un sa;
	struct stat st;
	int fd, err = unix_address(path, &sa, e);

	if (err)
		return err;
	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0755) && errno != EEXIST)
		return sw_fail(e, -errno, "cannot create %s for the socket: %s",
			       dir, strerror(errno));
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return sw_fail(e, -EEXIST, "%s exists and is not a "
				       "socket: remove it or choose another "
				       "--socket", path);
		if (agent_answers(path))
			return sw_fail(e, -EADDRINUSE, "another agent is "
				       "serving %s: stop it, or give this one "
				       "another --socket", path);
		unlink(path);	/* left by an agent that died */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return sw_fail(e, -errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) ||
	    listen(fd, 16)) {
		err = -errno;
		close(fd);
		return sw_fail(e, err, "cannot listen on %s: %s", path,
			       strerror(-err));
	}
	return fd;
}

int sw_rpc_split(char *buf, size_t len, char *argv[SW_RPC_MAX_ARGS + 1],
		 struct sw_error *e)
{
	int argc = 0;

	for (char *p = buf; p < buf + len; p += strlen(p) + 1) {
		if (argc == SW_RPC_MAX_ARGS)
			return sw_fail(e, -E2BIG, "the request has more than %d "
				       "arguments; the agent takes at most %d",
				       SW_RPC_MAX_ARGS, SW_RPC_MAX_ARGS);
		argv[argc++] = p;
	}
	argv[argc] = NULL;
	return argc;
}

struct client {
	struct sw_io io;
	struct sw_deferred dead;
	struct sw_rpc_server *server;
	struct client *prev, *next;
	__u64 deadline_ns;		/* request complete, or reply moving */
	size_t len;			/* request bytes read, or reply sent */
	char *reply;			/* NULL while reading the request */
	size_t reply_len;
	char request[SW_RPC_MAX_REQUEST + 2];	/* a byte past the cap, a NUL */
};

struct sw_rpc_server {
	struct sw_loop *loop;
	struct sw_io listen_io;
	sw_rpc_handler handler;
	void *arg;
	struct client *clients;
	int n_clients;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

#define SERVER_OF(io) \
	((struct sw_rpc_server *)((char *)(io) - offsetof(struct sw_rpc_server, listen_io)))
#define CLIENT_OF(ptr, member) \
	((struct client *)((char *)(ptr) - offsetof(struct client, member)))

static void free_client(struct sw_deferred *d)
{
	struct client *c = CLIENT_OF(d, dead);

	free(c->reply);
	free(c);
}

static void close_client(struct client *c)
{
	struct sw_rpc_server *s = c->server;

	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_clients--;
	sw_loop_close(s->loop, &c->io);
	sw_loop_release(s->loop, &c->dead);
}

/*
 * A last word to a client being turned away, if its socket takes it now
 * (an empty socket buffer takes a line); never waits.
 */
static void say_and_close(int fd, enum sw_rpc_status status, const char *msg)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%c\n%s\n", '0' + status, msg);

	if (send(fd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		(void)0;	/* the client is gone or stuck: nothing to tell */
	close(fd);
}

/* Say msg to c if its socket takes it now, and close it. */
static void turn_away(struct client *c, enum sw_rpc_status status,
		      const char *msg)
{
	say_and_close(sw_loop_forget(c->server->loop, &c->io), status, msg);
	close_client(c);
}

/* Send what the socket takes; done (or broken): close. */
static void write_reply(struct client *c)
{
	while (c->len < c->reply_len) {
		ssize_t n = send(c->io.fd, c->reply + c->len, c->reply_len - c->len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			sw_loop_watch(c->server->loop, &c->io, EPOLLOUT);
			return;
		}
		if (n <= 0)
			break;
		c->len += n;
		c->deadline_ns = sw_now_ns() + SW_RPC_DEADLINE_S * NS_PER_S;
	}
	close_client(c);
}

/* The whole request is in: build the reply ("S\n" then the body), send it. */
static void answer(struct client *c)
{
	struct sw_rpc_server *s = c->server;
	enum sw_rpc_status status;
	struct sw_error e = {};
	char *argv[SW_RPC_MAX_ARGS + 1];
	FILE *out = open_memstream(&c->reply, &c->reply_len);
	int argc;

	if (!out) {
		turn_away(c, SW_RPC_FAILED, "the agent is out of memory");
		return;
	}
	fputs("0\n", out);
	c->request[c->len] = '\0';
	argc = sw_rpc_split(c->request, c->len, argv, &e);
	if (argc < 0) {
		fprintf(out, "%s\n", e.msg);
		status = SW_RPC_USAGE;
	} else {
		status = s->handler(s->arg, argc, argv, out);
	}
	if (fclose(out) || !c->reply) {
		free(c->reply);
		c->reply = NULL;
		turn_away(c, SW_RPC_FAILED, "the agent is out of memory");
		return;
	}
	c->reply[0] = '0' + status;
	c->len = 0;
	c->deadline_ns = sw_now_ns() + SW_RPC_DEADLINE_S * NS_PER_S;
	write_reply(c);
}

static void on_client(struct sw_io *io, uint32_t events)
{
	struct client *c = CLIENT_OF(io, io);
	ssize_t n;

	if (c->reply) {
		write_reply(c);
		return;
	}
	(void)events;
	n = recv(io->fd, c->request + c->len, SW_RPC_MAX_REQUEST + 1 - c->len,
		 MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		close_client(c);
		return;
	}
	if (n == 0) {
		answer(c);
		return;
	}
	c->len += n;
	if (c->len > SW_RPC_MAX_REQUEST) {
		char msg[96];

		snprintf(msg, sizeof(msg), "the request is longer than the "
			 "agent takes (%d bytes)", SW_RPC_MAX_REQUEST);
		turn_away(c, SW_RPC_USAGE, msg);
	}
}

static void on_listen(struct sw_io *io, uint32_t events)
{
	struct sw_rpc_server *s = SERVER_OF(io);
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct client *c;
	int fd;

	(void)events;
	fd = accept4(io->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("control socket %s: accept: %s", s->path,
				 strerror(errno));
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    cred.uid != 0) {
		log_warn("control socket %s: refused a request from uid %u "
			 "(pid %d): only root may control the agent", s->path,
			 cred.uid, cred.pid);
		say_and_close(fd, SW_RPC_FAILED, "only root may control the agent");
		return;
	}
	if (s->n_clients == SW_RPC_MAX_CLIENTS) {
		log_warn("control socket %s: refused a request from pid %d: %d "
			 "clients are being served already", s->path, cred.pid,
			 SW_RPC_MAX_CLIENTS);
		say_and_close(fd, SW_RPC_FAILED, "the agent is serving as many "
			      "control clients as it takes at once; try again");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || sw_loop_add(s->loop, &c->io, fd, EPOLLIN, on_client)) {
		free(c);
		say_and_close(fd, SW_RPC_FAILED, "the agent is out of memory");
		return;
	}
	c->server = s;
	c->dead.free = free_client;
	c->deadline_ns = sw_now_ns() + SW_RPC_DEADLINE_S * NS_PER_S;
	c->next = s->clients;
	if (s->clients)
		s->clients->prev = c;
	s->clients = c;
	s->n_clients++;
}

struct sw_rpc_server *sw_rpc_serve(struct sw_loop *loop, const char *path,
				   sw_rpc_handler handler, void *arg,
				   struct sw_error *e)
{
	struct sw_rpc_server *s = calloc(1, sizeof(*s));
	int fd;

	if (!s) {
		sw_fail(e, -ENOMEM, "out of memory");
		return NULL;
	}
	fd = listen_at(path, e);
	if (fd < 0) {
		free(s);
		return NULL;
	}
	if (sw_loop_add(loop, &s->listen_io, fd, EPOLLIN, on_listen)) {
		sw_fail(e, -errno, "epoll: %s", strerror(errno));
		close(fd);
		unlink(path);
		free(s);
		return NULL;
	}
	s->loop = loop;
	s->handler = handler;
	s->arg = arg;
	snprintf(s->path, sizeof(s->path), "%s", path);
	return s;
}

void sw_rpc_tick(struct sw_rpc_server *s, __u64 now_ns)
{
	struct client *c = s->clients, *next;

	for (; c; c = next) {
		next = c->next;
		if (now_ns < c->deadline_ns)
			continue;
		log_warn("control socket %s: closed a client that %s for %d s",
			 s->path, c->reply ? "left its reply unread" :
			 "did not finish its request", SW_RPC_DEADLINE_S);
		close_client(c);
	}
}

void sw_rpc_stop(struct sw_rpc_server *s)
{
	if (!s)
		return;
	while (s->clients)
		close_client(s->clients);
	sw_loop_close(s->loop, &s->listen_io);
	unlink(s->path);
	free(s);
}
