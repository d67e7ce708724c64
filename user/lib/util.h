/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Helpers for C itself, for every layer.
 */
#ifndef SW_LIB_UTIL_H
#define SW_LIB_UTIL_H

/*
 * 0, and a compile error when a is a pointer rather than an array (the
 * kernel's __must_be_array): sizeof(p) / sizeof(p[0]) would quietly be wrong.
 */
#define SW_MUST_BE_ARRAY(a)                                                  \
	(sizeof(char[1 - 2 * __builtin_types_compatible_p(__typeof__(a),     \
							  __typeof__(&(a)[0]))]) - 1)

/* The number of elements of array a. */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]) + SW_MUST_BE_ARRAY(a))

#endif /* SW_LIB_UTIL_H */
