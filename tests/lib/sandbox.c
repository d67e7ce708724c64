// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spillway/defaults.h"
#include "tunnel/endpoint.h"
#include "sandbox.h"

int enter_sandbox(int endpoint[2])
{
	struct ifreq ifr = { .ifr_name = "lo" };
	struct sw_error e = {};
	int fd;

	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr))) {
		perror("bringing lo up");
		return -1;
	}
	close(fd);
	for (int i = 0; i < 2; i++) {
		fd = sw_endpoint_listen(i ? 6 : 4, SW_DEFAULT_TUNNEL_PORT, &e);
		if (fd < 0) {
			fprintf(stderr, "%s\n", e.msg);
			return -1;
		}
		if (endpoint)
			endpoint[i] = fd;
	}
	return 0;
}
