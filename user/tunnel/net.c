// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "spillway/defaults.h"
#include "lib/addr.h"
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
