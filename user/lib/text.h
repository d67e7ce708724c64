/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Text as users write it, read and written the same way everywhere: whole
 * numbers, durations, host:port, DNS names. Each parser takes the whole
 * string or nothing; each formatter writes what its parser reads back.
 */
#ifndef SW_LIB_TEXT_H
#define SW_LIB_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define SW_NAME_MAX 253		/* a DNS name: service and export names */
#define SW_SHORT_NAME_MAX 63	/* a DNS label: cluster and remote names */

/* "host:port" as written: host an IPv4/IPv6 literal ([v6]:port) or a DNS name. */
struct sw_hostport {
	char host[SW_NAME_MAX + 1];
	__u16 port;
};

/*
 * Plain decimal, up to max: no sign, no leading zero, no "0x". -EINVAL if
 * not a number like that, -ERANGE above max.
 */
int sw_decimal_parse(const char *s, __u64 max, __u64 *out);
/* A number from min to max, as the CLI takes it; -EINVAL otherwise. */
int sw_parse_u32(const char *s, __u32 min, __u32 max, __u32 *out);

/*
 * Durations, as ns, in one of two spellings:
 *  - SW_DURATION_SPILLWAY, the configuration's: whole numbers with units h,
 *    m, s, ms, us or ns, largest first, each once: "10s", "500ms", "1h30m";
 *  - SW_DURATION_GO, Go's time.ParseDuration (Istio's YAML): that, and
 *    fractions ("1.5s", ".5s"), "µs", units in any order or repeated
 *    ("1h0.5m"); digits finer than a nanosecond are dropped.
 * Neither takes a sign, spaces or a number without a unit. -EINVAL if s
 * is not a duration (or is more than 2^64-1 ns).
 */
enum sw_duration_syntax {
	SW_DURATION_SPILLWAY,
	SW_DURATION_GO,
};
int sw_duration_parse(const char *s, enum sw_duration_syntax syntax, __u64 *ns);
/* The shortest text either syntax reads back as ns: "1h30m"; returns buf. */
const char *sw_duration_format(__u64 ns, char *buf, size_t size);

/* "host:port" / "[v6]:port"; -EINVAL if malformed or port not 1..65535. */
int sw_hostport_parse(const char *s, struct sw_hostport *hp);
/* The other way round; returns buf. */
const char *sw_hostport_format(const struct sw_hostport *hp, char *buf,
			       size_t size);

/* A DNS label (lower case, digits, '-'; 1..63), a DNS name of them. */
bool sw_is_dns_label(const char *s);
bool sw_is_dns_name(const char *s);

#endif /* SW_LIB_TEXT_H */
