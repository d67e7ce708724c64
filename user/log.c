// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "json.h"
#include "log.h"

static bool log_json, log_debug_on;

static const char *const level_names[] = {
	[SW_DEBUG] = "debug", [SW_INFO] = "info",
	[SW_WARN] = "warn", [SW_ERROR] = "error",
};

void sw_log_init(bool json, bool debug)
{
	log_json = json;
	log_debug_on = debug;
}

void sw_log(enum sw_log_level level, const char *fmt, ...)
{
	char ts[32], msg[2048];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (level == SW_DEBUG && !log_debug_on)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (log_json) {
		fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":",
			ts, now.tv_nsec / 1000000, level_names[level]);
		json_quote(stderr, msg);
		fputs("}\n", stderr);
	} else {
		fprintf(stderr, "%s.%03ldZ %-5s %s\n", ts, now.tv_nsec / 1000000,
			level_names[level], msg);
	}
}
