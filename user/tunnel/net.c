// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "spillway/defaults.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "tunnel/net.h"

int sw_no_delay(int fd)
{
	int one = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int set_tcp(int fd, int option, __u64 value)
{
	int v = value;

	return value && setsockopt(fd, IPPROTO_TCP, option, &v, sizeof(v)) ?
	       -errno : 0;
}

int sw_keepalive(int fd, const struct sw_keepalive_config *k)
{
	int one = 1, err;

	if (!k->enabled)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)))
		return -errno;
	err = set_tcp(fd, TCP_KEEPIDLE, k->time_ns / NS_PER_S);
	if (!err)
		err = set_tcp(fd, TCP_KEEPINTVL, k->interval_ns / NS_PER_S);
	if (!err)
		err = set_tcp(fd, TCP_KEEPCNT, k->probes);
	return err;
}

void sw_reset_on_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

void sw_close_reset(int fd)
{
	sw_reset_on_close(fd);
	close(fd);
}

int sw_agent_socket(int family, __u32 bypass_mark)
{
	int fd, err;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if ((bypass_mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &bypass_mark,
				       sizeof(bypass_mark))) || sw_no_delay(fd)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void resume_accepting(struct sw_io *io, uint32_t events)
{
	struct sw_listener *l = (struct sw_listener *)((char *)io -
					offsetof(struct sw_listener, resume));
	__u64 expirations;
	/* Clears the timer; accepting resumes whatever read says. */
	ssize_t n = read(io->fd, &expirations, sizeof(expirations));

	(void)n;
	(void)events;
	sw_loop_watch(l->loop, &l->io, EPOLLIN);
}

int sw_listener_open(struct sw_listener *l, struct sw_loop *loop, int fd,
		     const char *what,
		     void (*on_accept)(struct sw_io *io, uint32_t events))
{
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	int err;

	l->loop = loop;
	l->what = what;
	l->io.fd = l->resume.fd = -1;
	if (tfd >= 0 &&
	    !sw_loop_add(loop, &l->resume, tfd, EPOLLIN, resume_accepting) &&
	    !sw_loop_add(loop, &l->io, fd, EPOLLIN, on_accept))
		return 0;
	err = -errno;
	sw_loop_close(loop, &l->resume);
	sw_loop_forget(loop, &l->io);
	close(fd);
	return err;
}

static void pause_accepting(struct sw_listener *l, int err)
{
	struct itimerspec in = {
		.it_value.tv_nsec = SW_ACCEPT_PAUSE_MS * 1000000L,
	};

	log_warn_limited("%s: cannot accept a connection: %s; not accepting "
			 "for %d ms (raise the open files limit: LimitNOFILE, "
			 "ulimit -n)", l->what, strerror(err),
			 SW_ACCEPT_PAUSE_MS);
	if (!timerfd_settime(l->resume.fd, 0, &in, NULL))
		sw_loop_watch(l->loop, &l->io, 0);
}

int sw_listener_accept(struct sw_listener *l, struct sockaddr_storage *ss)
{
	socklen_t len = sizeof(*ss);
	int fd = accept4(l->io.fd, (struct sockaddr *)ss, ss ? &len : NULL,
			 SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0 && (errno == EMFILE || errno == ENFILE ||
		       errno == ENOBUFS || errno == ENOMEM))
		pause_accepting(l, errno);
	return fd;
}

void sw_listener_close(struct sw_listener *l)
{
	sw_loop_close(l->loop, &l->io);
	sw_loop_close(l->loop, &l->resume);
}
