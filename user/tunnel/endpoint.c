// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/addr.h"
#include "tunnel/endpoint.h"
#include "tunnel/net.h"

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v));
}

int sw_endpoint_listen(int family, __u16 port, struct sw_error *e)
{
	struct sockaddr_storage any;
	socklen_t len;
	int af = family == 4 ? AF_INET : AF_INET6;
	int fd, err;

	sw_sockaddr_make(family == 4 ? "0.0.0.0" : "::", port, &any, &len);
	fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return sw_fail(e, -errno, "cannot create the endpoint socket: %s",
			       strerror(errno));
	if (set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) ||
	    (af == AF_INET && set_int(fd, SOL_IP, IP_TRANSPARENT, 1)) ||
	    (af == AF_INET6 && (set_int(fd, SOL_IPV6, IPV6_V6ONLY, 1) ||
				set_int(fd, SOL_IPV6, IPV6_TRANSPARENT, 1)))) {
		err = sw_fail(e, -errno,
			      "cannot make the endpoint socket transparent: %s "
			      "(needs CAP_NET_ADMIN)", strerror(errno));
		goto fail;
	}
	if (sw_no_delay(fd)) {
		err = sw_fail(e, -errno, "cannot set TCP_NODELAY on the endpoint "
			      "socket: %s", strerror(errno));
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&any, len)) {
		err = sw_fail(e, -errno,
			      "cannot bind the tunnel endpoint to port %u "
			      "(IPv%d): %s", port, family, strerror(errno));
		goto fail;
	}
	if (listen(fd, SOMAXCONN)) {
		err = sw_fail(e, -errno, "cannot listen on port %u: %s", port,
			      strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}

int sw_endpoint_flow(int fd, const struct sockaddr_storage *accepted,
		     struct sw_flow_key *key, struct sockaddr_storage *vip_out,
		     char *client, size_t len)
{
	struct sockaddr_storage vip, peer;
	socklen_t l1 = sizeof(vip), l2 = sizeof(peer);
	char text[SW_ADDR_STRLEN];

	if (accepted)
		peer = *accepted;
	if (getsockname(fd, (struct sockaddr *)&vip, &l1) ||
	    (!accepted && getpeername(fd, (struct sockaddr *)&peer, &l2)))
		return -errno;
	memset(key, 0, sizeof(*key));
	if (vip.ss_family == AF_INET) {
		struct sockaddr_in *v = (void *)&vip, *p = (void *)&peer;

		inet_ntop(AF_INET, &v->sin_addr, text, sizeof(text));
		sw_service_key_make(&key->svc, text, ntohs(v->sin_port));
		memcpy(key->client, &p->sin_addr, 4);
		key->client_port = ntohs(p->sin_port);
	} else {
		struct sockaddr_in6 *v = (void *)&vip, *p = (void *)&peer;

		inet_ntop(AF_INET6, &v->sin6_addr, text, sizeof(text));
		sw_service_key_make(&key->svc, text, ntohs(v->sin6_port));
		memcpy(key->client, &p->sin6_addr, 16);
		key->client_port = ntohs(p->sin6_port);
	}
	if (vip_out)
		*vip_out = vip;
	sw_sockaddr_format(&peer, client, len);
	return 0;
}
