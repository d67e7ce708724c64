/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A small JSON reader for what the agent writes (`status --json`): the text
 * becomes a tree of values, strings decoded in place. RFC 8259 grammar,
 * nesting bounded, errors name the byte offset and what was expected.
 */
#ifndef SW_LIB_JSONPARSE_H
#define SW_LIB_JSONPARSE_H

#include <stdbool.h>
#include <linux/types.h>

#include "lib/error.h"

#define JV_MAX_DEPTH 64

enum jv_type { JV_NULL, JV_BOOL, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT };

struct jv {
	enum jv_type type;
	const char *key;	/* the member's name, inside an object */
	struct jv *next;	/* the next member or element */
	struct jv *child;	/* an object's or array's first */
	bool b;
	bool is_uint;		/* a number written as a whole, unsigned u64 */
	__u64 u;
	double num;
	const char *s;		/* a string, decoded, NUL-terminated */
};

/*
 * Parse text (modified: strings are decoded where they are; it must outlive
 * the tree). Returns the root, or NULL with e saying where and why.
 */
struct jv *jv_parse(char *text, struct sw_error *e);
void jv_free(struct jv *v);

/* An object's member by name, or NULL (also when v is not an object). */
const struct jv *jv_get(const struct jv *v, const char *key);

/* A member's value, or dflt when it is missing or of another type. */
__u64 jv_get_uint(const struct jv *v, const char *key, __u64 dflt);
const char *jv_get_string(const struct jv *v, const char *key,
			  const char *dflt);
bool jv_get_bool(const struct jv *v, const char *key, bool dflt);

#endif /* SW_LIB_JSONPARSE_H */
