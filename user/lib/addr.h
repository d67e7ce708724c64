/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Addresses as users write and read them, and as the maps hold them. */
#ifndef SW_LIB_ADDR_H
#define SW_LIB_ADDR_H

#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/types.h>

#include "spillway/abi.h"

#define SW_ADDR_STRLEN INET6_ADDRSTRLEN

/* "10.96.0.10" or "fd00::10" -> 16 bytes + SW_INET/SW_INET6; -EINVAL if neither. */
int sw_addr_parse(const char *s, __u8 addr[16], __u8 *family);
const char *sw_addr_format(const __u8 addr[16], __u8 family,
			   char buf[SW_ADDR_STRLEN]);
/* addr (IPv4 or IPv6 text) and port as a socket address; 0 or -EINVAL. */
int sw_sockaddr_make(const char *addr, __u16 port, struct sockaddr_storage *ss,
		     socklen_t *len);

/* "10.0.0.2:80" or "[fd00::2]:80". */
const char *sw_sockaddr_format(const struct sockaddr_storage *ss, char *buf,
			       size_t len);

/* A TCP service key for VIP:port. */
int sw_service_key_make(struct sw_service_key *key, const char *vip,
			__u16 port);

#endif /* SW_LIB_ADDR_H */
