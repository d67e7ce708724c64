// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "lib/addr.h"

int sw_addr_parse(const char *s, __u8 addr[16], __u8 *family)
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = SW_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = SW_INET6;
		return 0;
	}
	return -EINVAL;
}

const char *sw_addr_format(const __u8 addr[16], __u8 family,
			   char buf[SW_ADDR_STRLEN])
{
	if (!inet_ntop(family == SW_INET ? AF_INET : AF_INET6, addr, buf,
		       SW_ADDR_STRLEN))
		strcpy(buf, "?");
	return buf;
}

int sw_sockaddr_make(const char *addr, __u16 port, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

const char *sw_sockaddr_format(const struct sockaddr_storage *ss, char *buf,
			       size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s->sin_port));
	} else {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s->sin6_port));
	}
	return buf;
}

int sw_service_key_make(struct sw_service_key *key, const char *vip,
			__u16 port)
{
	memset(key, 0, sizeof(*key));
	key->port = port;
	key->proto = IPPROTO_TCP;
	return sw_addr_parse(vip, key->vip, &key->family);
}
