// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <inttypes.h>

#include "lib/json.h"

void json_init(struct json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->first[0] = true;
	j->after_key = false;
}

void json_quote(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* Before any value: a comma unless it is the first at this depth. */
static void value_start(struct json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		fputc(',', j->out);
	j->first[j->depth] = false;
}

static void open_nested(struct json *j, char opener, char closer)
{
	value_start(j);
	fputc(opener, j->out);
	if (j->depth + 1 < JSON_MAX_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
	j->closer[j->depth] = closer;
}

void json_object(struct json *j)
{
	open_nested(j, '{', '}');
}

void json_array(struct json *j)
{
	open_nested(j, '[', ']');
}

void json_end(struct json *j)
{
	if (j->depth == 0)
		return;
	fputc(j->closer[j->depth], j->out);
	j->depth--;
}

void json_key(struct json *j, const char *key)
{
	value_start(j);
	json_quote(j->out, key);
	fputc(':', j->out);
	j->after_key = true;
}

void json_string(struct json *j, const char *s)
{
	value_start(j);
	json_quote(j->out, s);
}

void json_uint(struct json *j, __u64 v)
{
	value_start(j);
	fprintf(j->out, "%" PRIu64, (uint64_t)v);
}

void json_bool(struct json *j, bool v)
{
	value_start(j);
	fputs(v ? "true" : "false", j->out);
}

void json_field_str(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	json_string(j, s);
}

void json_field_uint(struct json *j, const char *key, __u64 v)
{
	json_key(j, key);
	json_uint(j, v);
}

void json_field_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	json_bool(j, v);
}

void json_field_object(struct json *j, const char *key)
{
	json_key(j, key);
	json_object(j);
}

void json_field_array(struct json *j, const char *key)
{
	json_key(j, key);
	json_array(j);
}
