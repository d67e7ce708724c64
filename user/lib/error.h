/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Errors that reach a user: what went wrong, where, and what to do about it,
 * written into one buffer by whichever layer knows the most.
 */
#ifndef SW_LIB_ERROR_H
#define SW_LIB_ERROR_H

#include <stddef.h>

struct sw_error {
	char msg[1024];
};

/* Fill e (if not NULL) and return err, a negative errno. */
int sw_fail(struct sw_error *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Put context in front of the message a lower layer wrote: e->msg becomes
 * the formatted prefix followed by the old message. Returns err.
 */
int sw_prefix(struct sw_error *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* SW_LIB_ERROR_H */
