// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"

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

int sw_service_key_make(struct sw_service_key *key, const char *vip,
			__u16 port)
{
	memset(key, 0, sizeof(*key));
	key->port = port;
	key->proto = IPPROTO_TCP;
	return sw_addr_parse(vip, key->vip, &key->family);
}
