/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A small JSON writer: objects and arrays nest, commas and escaping are
 * taken care of. Output is compact, one document per call sequence. Inside
 * an object, json_field_*() write a member (name and value) in one call.
 */
#ifndef SW_LIB_JSON_H
#define SW_LIB_JSON_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *out;
	int depth;
	bool first[JSON_MAX_DEPTH];	/* no member written yet at this depth */
	char closer[JSON_MAX_DEPTH];	/* '}' or ']' for what opened the depth */
	bool after_key;
};

void json_init(struct json *j, FILE *out);
void json_object(struct json *j);
void json_array(struct json *j);
void json_end(struct json *j);		/* closes the innermost object or array */
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s);
void json_uint(struct json *j, __u64 v);
void json_bool(struct json *j, bool v);

/* A member of the innermost object: its name, then its value. */
void json_field_str(struct json *j, const char *key, const char *s);
void json_field_uint(struct json *j, const char *key, __u64 v);
void json_field_bool(struct json *j, const char *key, bool v);
/* A member whose value is an object or array: json_end() closes it. */
void json_field_object(struct json *j, const char *key);
void json_field_array(struct json *j, const char *key);

/* Write a string with JSON escaping (quotes included). */
void json_quote(FILE *out, const char *s);

#endif /* SW_LIB_JSON_H */
