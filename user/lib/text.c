// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spillway/defaults.h"
#include "lib/util.h"
#include "lib/text.h"

/* The digits at s as *v; where they end, or NULL if *v would overflow. */
static const char *read_digits(const char *s, __u64 *v)
{
	for (*v = 0; *s >= '0' && *s <= '9'; s++) {
		if (__builtin_mul_overflow(*v, 10, v) ||
		    __builtin_add_overflow(*v, (__u64)(*s - '0'), v))
			return NULL;
	}
	return s;
}

int sw_decimal_parse(const char *s, __u64 max, __u64 *out)
{
	__u64 v;

	if (!*s || s[strspn(s, "0123456789")] || (s[0] == '0' && s[1]))
		return -EINVAL;
	if (!read_digits(s, &v) || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static bool is_dns_label(const char *s, size_t len)
{
	if (len < 1 || len > SW_SHORT_NAME_MAX || s[0] == '-' ||
	    s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return false;
	}
	return true;
}

static bool is_dns_name(const char *s)
{
	size_t len = strlen(s);
	const char *dot;

	if (len < 1 || len > SW_NAME_MAX)
		return false;
	for (; (dot = strchr(s, '.')); s = dot + 1) {
		if (!is_dns_label(s, dot - s))
			return false;
	}
	return is_dns_label(s, strlen(s));
}

bool sw_is_dns_label(const char *s)
{
	return is_dns_label(s, strlen(s));
}

bool sw_is_dns_name(const char *s)
{
	return is_dns_name(s);
}

int sw_parse_u32(const char *s, __u32 min, __u32 max, __u32 *out)
{
	unsigned long long v;
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Digits and dots only: a mistyped IPv4 address, not a host name. */
static bool looks_numeric(const char *s)
{
	return s[strspn(s, "0123456789.")] == '\0';
}

static const struct duration_unit {
	const char *name;
	__u64 ns;
} duration_units[] = {	/* largest first: "1h30m", never "30m1h" */
	{ "h", 3600 * NS_PER_S },
	{ "m", 60 * NS_PER_S },
	{ "s", NS_PER_S },
	{ "ms", 1000000 },
	{ "us", 1000 },
	{ "ns", 1 },
};

/* Go spells microseconds "µs" too: the micro sign in UTF-8, then 's'. */
#define MICRO_SIGN "\xc2\xb5"
#define MICROSECONDS_GO MICRO_SIGN "s"

/* The unit of len characters at s, as an index of duration_units; -1 if none. */
static int duration_unit(const char *s, size_t len,
			 enum sw_duration_syntax syntax)
{
	if (syntax == SW_DURATION_GO && len == strlen(MICROSECONDS_GO) &&
	    !strncmp(s, MICROSECONDS_GO, len)) {
		s = "us";
		len = strlen(s);
	}
	for (size_t i = 0; i < ARRAY_SIZE(duration_units); i++) {
		if (strlen(duration_units[i].name) == len &&
		    !strncmp(s, duration_units[i].name, len))
			return i;
	}
	return -1;
}

/*
 * Digits after a decimal point as frac / scale; those past a nanosecond's
 * worth (nine) are dropped, as Go drops them. Where they end.
 */
static const char *read_fraction(const char *s, __u64 *frac, __u64 *scale)
{
	for (*frac = 0, *scale = 1; *s >= '0' && *s <= '9'; s++) {
		if (*scale < NS_PER_S) {
			*frac = *frac * 10 + (*s - '0');
			*scale *= 10;
		}
	}
	return s;
}

int sw_duration_parse(const char *s, enum sw_duration_syntax syntax, __u64 *ns)
{
	bool go = syntax == SW_DURATION_GO;
	__u64 total = 0;
	int prev = -1;

	if (!*s)
		return -EINVAL;
	while (*s) {
		const char *number = s, *unit;
		__u64 whole, frac = 0, scale = 1, part;
		bool digits;
		int i;

		s = read_digits(s, &whole);
		if (!s)
			return -EINVAL;
		digits = s > number;
		if (go && *s == '.') {
			unit = s + 1;
			s = read_fraction(unit, &frac, &scale);
			digits |= s > unit;
		}
		if (!digits)
			return -EINVAL;
		unit = s;
		s += strspn(s, go ? "abcdefghijklmnopqrstuvwxyz" MICRO_SIGN :
				    "abcdefghijklmnopqrstuvwxyz");
		i = duration_unit(unit, s - unit, syntax);
		/* frac < scale: frac * ns / scale is below ns, so it fits. */
		if (i < 0 || (!go && i <= prev) ||
		    __builtin_mul_overflow(whole, duration_units[i].ns, &part) ||
		    __builtin_add_overflow(part, (__u64)((unsigned __int128)frac *
							 duration_units[i].ns / scale),
					   &part) ||
		    __builtin_add_overflow(total, part, &total))
			return -EINVAL;
		prev = i;
	}
	*ns = total;
	return 0;
}

const char *sw_duration_format(__u64 ns, char *buf, size_t size)
{
	size_t len = 0;

	if (!ns)
		return strcpy(buf, "0s");
	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(duration_units) && len < size; i++) {
		__u64 n = ns / duration_units[i].ns;

		ns %= duration_units[i].ns;
		if (n)
			len += snprintf(buf + len, size - len, "%llu%s",
					(unsigned long long)n,
					duration_units[i].name);
	}
	return buf;
}

static bool is_host(const char *host, bool bracketed)
{
	__u8 addr[16];

	if (bracketed)
		return inet_pton(AF_INET6, host, addr) == 1;
	if (inet_pton(AF_INET, host, addr) == 1)
		return true;
	return sw_is_dns_name(host) && !looks_numeric(host);
}

int sw_hostport_parse(const char *s, struct sw_hostport *hp)
{
	bool bracketed = s[0] == '[';
	const char *host = s + bracketed, *end;
	char buf[SW_NAME_MAX + 1];
	__u64 port;

	end = bracketed ? strchr(s, ']') : strrchr(s, ':');
	if (!end || end == host || end - host > SW_NAME_MAX)
		return -EINVAL;
	memcpy(buf, host, end - host);
	buf[end - host] = '\0';
	if (bracketed && *++end != ':')
		return -EINVAL;
	if (!is_host(buf, bracketed) || sw_decimal_parse(end + 1, 65535, &port) ||
	    !port)
		return -EINVAL;
	memset(hp, 0, sizeof(*hp));
	strcpy(hp->host, buf);
	hp->port = port;
	return 0;
}

const char *sw_hostport_format(const struct sw_hostport *hp, char *buf,
			       size_t size)
{
	bool v6 = strchr(hp->host, ':');

	snprintf(buf, size, "%s%s%s:%u", v6 ? "[" : "", hp->host, v6 ? "]" : "",
		 hp->port);
	return buf;
}
