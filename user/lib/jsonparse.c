// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jsonparse.h"

struct parser {
	char *start;		/* for offsets in errors */
	char *p;
	struct sw_error *e;
	int depth;
};

static struct jv *parse_value(struct parser *ps);

static const char *found(const char *p)
{
	static __thread char what[16];

	if (!*p)
		return "the end of the text";
	if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
		return "a control or non-ASCII byte";
	snprintf(what, sizeof(what), "'%c'", *p);
	return what;
}

static void *syntax(struct parser *ps, const char *expected)
{
	sw_fail(ps->e, -EINVAL, "JSON offset %td: expected %s, found %s",
		ps->p - ps->start, expected, found(ps->p));
	return NULL;
}

static void skip_space(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
	       *ps->p == '\r')
		ps->p++;
}

static struct jv *new_value(struct parser *ps, enum jv_type type)
{
	struct jv *v = calloc(1, sizeof(*v));

	if (!v)
		sw_fail(ps->e, -ENOMEM, "out of memory reading JSON");
	else
		v->type = type;
	return v;
}

static bool literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(ps->p, word, n))
		return false;
	ps->p += n;
	return true;
}

static int hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* One \uXXXX escape (two for a surrogate pair) at ps->p, as UTF-8 at *w. */
static bool unicode_escape(struct parser *ps, char **w)
{
	int cp = hex4(ps->p + 2), lo;

	if (cp < 0)
		return syntax(ps, "four hex digits after \\u");
	ps->p += 6;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return syntax(ps, "a high surrogate before a low one");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->p[0] != '\\' || ps->p[1] != 'u' ||
		    (lo = hex4(ps->p + 2)) < 0xdc00 || lo > 0xdfff)
			return syntax(ps, "a low surrogate (\\uDC00-\\uDFFF)");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		ps->p += 6;
	}
	/* UTF-8 is never longer than the escape it came from. */
	if (cp < 0x80) {
		*(*w)++ = cp;
	} else if (cp < 0x800) {
		*(*w)++ = 0xc0 | cp >> 6;
		*(*w)++ = 0x80 | (cp & 0x3f);
	} else if (cp < 0x10000) {
		*(*w)++ = 0xe0 | cp >> 12;
		*(*w)++ = 0x80 | (cp >> 6 & 0x3f);
		*(*w)++ = 0x80 | (cp & 0x3f);
	} else {
		*(*w)++ = 0xf0 | cp >> 18;
		*(*w)++ = 0x80 | (cp >> 12 & 0x3f);
		*(*w)++ = 0x80 | (cp >> 6 & 0x3f);
		*(*w)++ = 0x80 | (cp & 0x3f);
	}
	return true;
}

/* A string at ps->p (its opening quote), decoded in place. */
static const char *parse_string(struct parser *ps)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	char *s, *w;

	ps->p++;
	s = w = ps->p;
	for (;;) {
		const char *esc;

		if (*ps->p == '"')
			break;
		if ((unsigned char)*ps->p < 0x20)
			return syntax(ps, "a closing '\"' (control bytes must "
				      "be escaped)");
		if (*ps->p != '\\') {
			*w++ = *ps->p++;
			continue;
		}
		if (ps->p[1] == 'u') {
			if (!unicode_escape(ps, &w))
				return NULL;
			continue;
		}
		esc = ps->p[1] ? strchr(from, ps->p[1]) : NULL;
		if (!esc) {
			ps->p++;
			return syntax(ps, "an escape: one of \\\" \\\\ \\/ \\b "
				      "\\f \\n \\r \\t \\uXXXX");
		}
		*w++ = to[esc - from];
		ps->p += 2;
	}
	ps->p++;
	*w = '\0';	/* w < ps->p: the closing quote or before */
	return s;
}

static struct jv *parse_number(struct parser *ps)
{
	char buf[64], *q = ps->p, *end;
	bool whole = true;
	struct jv *v;
	size_t n;

	if (*q == '-')
		q++, whole = false;
	if (*q == '0')
		q++;
	else if (*q >= '1' && *q <= '9')
		while (*q >= '0' && *q <= '9')
			q++;
	else
		return ps->p = q, syntax(ps, "a digit");
	if (*q == '.') {
		whole = false;
		if (*++q < '0' || *q > '9')
			return ps->p = q, syntax(ps, "a digit after '.'");
		while (*q >= '0' && *q <= '9')
			q++;
	}
	if (*q == 'e' || *q == 'E') {
		whole = false;
		if (*++q == '+' || *q == '-')
			q++;
		if (*q < '0' || *q > '9')
			return ps->p = q, syntax(ps, "a digit in the exponent");
		while (*q >= '0' && *q <= '9')
			q++;
	}
	n = q - ps->p;
	if (n >= sizeof(buf))
		return syntax(ps, "a number of at most 63 characters");
	memcpy(buf, ps->p, n);
	buf[n] = '\0';
	v = new_value(ps, JV_NUMBER);
	if (!v)
		return NULL;
	ps->p = q;
	v->num = strtod(buf, NULL);
	if (whole) {
		errno = 0;
		v->u = strtoull(buf, &end, 10);
		v->is_uint = !errno;
	}
	return v;
}

/* The members of an object or elements of an array, after its opener. */
static struct jv *parse_container(struct parser *ps, enum jv_type type)
{
	const char closer = type == JV_OBJECT ? '}' : ']';
	struct jv *c = new_value(ps, type), **tail;

	if (!c)
		return NULL;
	if (++ps->depth > JV_MAX_DEPTH) {
		jv_free(c);
		return syntax(ps, "at most 64 levels of nesting");
	}
	tail = &c->child;
	ps->p++;
	skip_space(ps);
	if (*ps->p == closer) {
		ps->p++;
		ps->depth--;
		return c;
	}
	for (;;) {
		const char *key = NULL;
		struct jv *v;

		skip_space(ps);
		if (type == JV_OBJECT) {
			if (*ps->p != '"')
				goto bad_key;
			if (!(key = parse_string(ps)))
				goto fail;
			skip_space(ps);
			if (*ps->p != ':')
				goto bad_colon;
			ps->p++;
		}
		if (!(v = parse_value(ps)))
			goto fail;
		v->key = key;
		*tail = v;
		tail = &v->next;
		skip_space(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == closer) {
			ps->p++;
			ps->depth--;
			return c;
		}
		syntax(ps, type == JV_OBJECT ? "',' or '}' after a member" :
			   "',' or ']' after an element");
		goto fail;
	}
bad_key:
	syntax(ps, "a member name in quotes");
	goto fail;
bad_colon:
	syntax(ps, "':' after a member name");
fail:
	jv_free(c);
	return NULL;
}

static struct jv *parse_value(struct parser *ps)
{
	struct jv *v;

	skip_space(ps);
	switch (*ps->p) {
	case '{':
		return parse_container(ps, JV_OBJECT);
	case '[':
		return parse_container(ps, JV_ARRAY);
	case '"': {
		const char *s = parse_string(ps);

		if (!s || !(v = new_value(ps, JV_STRING)))
			return NULL;
		v->s = s;
		return v;
	}
	case 't':
	case 'f': {
		bool t = literal(ps, "true");

		if (!t && !literal(ps, "false"))
			break;
		if ((v = new_value(ps, JV_BOOL)))
			v->b = t;
		return v;
	}
	case 'n':
		if (!literal(ps, "null"))
			break;
		return new_value(ps, JV_NULL);
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps);
	}
	return syntax(ps, "a value (object, array, string, number, true, "
		      "false or null)");
}

struct jv *jv_parse(char *text, struct sw_error *e)
{
	struct parser ps = { .start = text, .p = text, .e = e };
	struct jv *root = parse_value(&ps);

	if (!root)
		return NULL;
	skip_space(&ps);
	if (*ps.p) {
		jv_free(root);
		return syntax(&ps, "the end of the text after the value");
	}
	return root;
}

void jv_free(struct jv *v)
{
	while (v) {
		struct jv *next = v->next;

		jv_free(v->child);
		free(v);
		v = next;
	}
}

const struct jv *jv_get(const struct jv *v, const char *key)
{
	if (!v || v->type != JV_OBJECT)
		return NULL;
	for (const struct jv *m = v->child; m; m = m->next)
		if (!strcmp(m->key, key))
			return m;
	return NULL;
}

__u64 jv_get_uint(const struct jv *v, const char *key, __u64 dflt)
{
	const struct jv *m = jv_get(v, key);

	return m && m->type == JV_NUMBER && m->is_uint ? m->u : dflt;
}

const char *jv_get_string(const struct jv *v, const char *key,
			  const char *dflt)
{
	const struct jv *m = jv_get(v, key);

	return m && m->type == JV_STRING ? m->s : dflt;
}

bool jv_get_bool(const struct jv *v, const char *key, bool dflt)
{
	const struct jv *m = jv_get(v, key);

	return m && m->type == JV_BOOL ? m->b : dflt;
}
