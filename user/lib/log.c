// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "lib/json.h"
#include "lib/log.h"

/* Set once, before the agent starts its workers' threads. */
static bool log_json, log_debug_on;
/* The places' limits are shared by every thread that logs there. */
static pthread_mutex_t limits_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {
	[SW_DEBUG] = "debug", [SW_INFO] = "info",
	[SW_WARN] = "warn", [SW_ERROR] = "error",
};

void sw_log_init(bool json, bool debug)
{
	log_json = json;
	log_debug_on = debug;
}

static void emit(enum sw_log_level level, const char *msg)
{
	char ts[32];
	struct timespec now;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	flockfile(stderr);	/* one line whole, whichever threads log */
	if (log_json) {
		fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":",
			ts, now.tv_nsec / 1000000, level_names[level]);
		json_quote(stderr, msg);
		fputs("}\n", stderr);
	} else {
		fprintf(stderr, "%s.%03ldZ %-5s %s\n", ts, now.tv_nsec / 1000000,
			level_names[level], msg);
	}
	funlockfile(stderr);
}

void sw_log(enum sw_log_level level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (level == SW_DEBUG && !log_debug_on)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(level, msg);
}

void sw_log_limited(struct sw_log_limit *l, enum sw_log_level level,
		    const char *fmt, ...)
{
	char msg[2048];
	unsigned int left_out = 0;
	struct timespec ts;
	uint64_t now;
	va_list ap;
	int n;

	if (level == SW_DEBUG && !log_debug_on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	pthread_mutex_lock(&limits_lock);
	if (!l->since_ns || now - l->since_ns >= 1000000000ull) {
		left_out = l->suppressed;
		l->since_ns = now;
		l->lines = l->suppressed = 0;
	}
	if (l->lines == SW_LOG_LIMIT_PER_S) {
		l->suppressed++;
		pthread_mutex_unlock(&limits_lock);
		return;
	}
	l->lines++;
	pthread_mutex_unlock(&limits_lock);
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (left_out && n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, " (and %u more like it not "
			 "logged: at most %d a second)", left_out,
			 SW_LOG_LIMIT_PER_S);
	emit(level, msg);
}
