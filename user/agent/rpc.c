// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
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
	char req[SW_RPC_MAX_REQUEST], *reply, *nl;
	size_t len = 0;
	ssize_t n;
	int fd, err;

	if (argc > SW_RPC_MAX_ARGS)
		return sw_fail(e, -E2BIG, "too many arguments");
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]) + 1;

		if (len + l > sizeof(req))
			return sw_fail(e, -E2BIG, "arguments too long");
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

int sw_rpc_listen(const char *path, struct sw_error *e)
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

int sw_rpc_accept(int listen_fd, struct sw_rpc_request *req,
		  struct sw_error *e)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char *data;
	ssize_t n;

	req->fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (req->fd < 0)
		return sw_fail(e, -errno, "accept: %s", strerror(errno));
	if (getsockopt(req->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    cred.uid != 0) {
		sw_rpc_reply(req, SW_RPC_FAILED, "only root may control the agent\n",
			     32);
		return sw_fail(e, -EPERM, "refused a request from uid %u (pid %d): "
			       "only root may control the agent", cred.uid,
			       cred.pid);
	}
	n = read_all(req->fd, &data, sizeof(req->buf) - 1);
	if (n < 0) {
		sw_rpc_reply(req, SW_RPC_USAGE, "request too long or too slow\n", 29);
		return sw_fail(e, n, "a request could not be read: %s",
			       strerror(-n));
	}
	memcpy(req->buf, data, n + 1);
	free(data);
	req->argc = 0;
	for (char *p = req->buf; p < req->buf + n; p += strlen(p) + 1) {
		if (req->argc == SW_RPC_MAX_ARGS)
			break;
		req->argv[req->argc++] = p;
	}
	req->argv[req->argc] = NULL;
	return 0;
}

void sw_rpc_reply(struct sw_rpc_request *req, enum sw_rpc_status status,
		  const char *body, size_t len)
{
	char head[3] = { '0' + status, '\n', 0 };

	if (!write_all(req->fd, head, 2))
		write_all(req->fd, body, len);
	close(req->fd);
	req->fd = -1;
}
