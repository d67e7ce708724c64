/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's log: one line per event on stderr, with a level. Text for
 * people, or one JSON object per line (--log-format json) for machines.
 */
#ifndef SW_LOG_H
#define SW_LOG_H

#include <stdbool.h>

enum sw_log_level { SW_DEBUG, SW_INFO, SW_WARN, SW_ERROR };

void sw_log_init(bool json, bool debug);
void sw_log(enum sw_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) sw_log(SW_DEBUG, __VA_ARGS__)
#define log_info(...) sw_log(SW_INFO, __VA_ARGS__)
#define log_warn(...) sw_log(SW_WARN, __VA_ARGS__)
#define log_error(...) sw_log(SW_ERROR, __VA_ARGS__)

#endif /* SW_LOG_H */
