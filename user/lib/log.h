/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's log: one line per event on stderr, with a level. Text for
 * people, or one JSON object per line (--log-format json) for machines.
 */
#ifndef SW_LIB_LOG_H
#define SW_LIB_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum sw_log_level { SW_DEBUG, SW_INFO, SW_WARN, SW_ERROR };

void sw_log_init(bool json, bool debug);
void sw_log(enum sw_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Lines logged once per connection (a refused CONNECT, a local fallback, a
 * failed handshake) come at the rate connections do: each such place logs
 * at most SW_LOG_LIMIT_PER_S lines a second, and the next line it logs
 * says how many it left out, whichever threads log there.
 */
#define SW_LOG_LIMIT_PER_S 20

struct sw_log_limit {
	uint64_t since_ns;		/* this second's first line */
	unsigned int lines, suppressed;
};

void sw_log_limited(struct sw_log_limit *l, enum sw_log_level level,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One limit per place in the code. */
#define SW_LOG_LIMITED(level, ...) do {					\
		static struct sw_log_limit sw_limit_;			\
		sw_log_limited(&sw_limit_, level, __VA_ARGS__);		\
	} while (0)

#define log_debug(...) sw_log(SW_DEBUG, __VA_ARGS__)
#define log_info(...) sw_log(SW_INFO, __VA_ARGS__)
#define log_warn(...) sw_log(SW_WARN, __VA_ARGS__)
#define log_error(...) sw_log(SW_ERROR, __VA_ARGS__)
#define log_info_limited(...) SW_LOG_LIMITED(SW_INFO, __VA_ARGS__)
#define log_warn_limited(...) SW_LOG_LIMITED(SW_WARN, __VA_ARGS__)

#endif /* SW_LIB_LOG_H */
