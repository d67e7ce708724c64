// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Nothing here trusts the input: wrong node kinds, huge lists, embedded NULs,
 * aliases and anchors are all reported or handled, never asserted on.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/util.h"
#include "config/yaml.h"

/* ------------------------------------------------------------------------ */
/* Field paths */

/* A field path that did not fit ends in "...". */
static const char *field_fit(char buf[SW_FIELD_MAX], int len)
{
	if (len >= SW_FIELD_MAX)
		strcpy(buf + SW_FIELD_MAX - 4, "...");
	return buf;
}

const char *sw_field_key(char buf[SW_FIELD_MAX], const char *parent,
			 const char *key)
{
	return field_fit(buf, snprintf(buf, SW_FIELD_MAX, "%s%s%s", parent,
				       *parent ? "." : "", key));
}

const char *sw_field_item(char buf[SW_FIELD_MAX], const char *parent, int i)
{
	return field_fit(buf, snprintf(buf, SW_FIELD_MAX, "%s[%d]", parent, i));
}

/* ------------------------------------------------------------------------ */
/* Loading */

/* Line and column of a byte offset, for errors libyaml gives no mark for. */
static yaml_mark_t mark_at(const char *text, size_t len, size_t offset)
{
	yaml_mark_t m = { .index = offset };

	for (size_t i = 0; i < offset && i < len; i++) {
		if (text[i] == '\n') {
			m.line++;
			m.column = 0;
		} else {
			m.column++;
		}
	}
	return m;
}

/*
 * libyaml's complaint about text as "FILE:LINE:COLUMN: invalid YAML: ...;
 * expected ..." (with "document N: " before "invalid" when document > 0).
 */
static int syntax_error(const char *path, int document, const yaml_parser_t *y,
			const char *text, size_t len, struct sw_error *e)
{
	yaml_mark_t m = y->problem_mark;
	char context[128] = "", doc[32] = "";

	if (y->error == YAML_MEMORY_ERROR)
		return sw_fail(e, -ENOMEM, "%s: out of memory reading the YAML",
			       path);
	if (y->error == YAML_READER_ERROR)
		m = mark_at(text, len, y->problem_offset);
	if (y->context)
		snprintf(context, sizeof(context), " (%s on line %zu)",
			 y->context, y->context_mark.line + 1);
	if (document)
		snprintf(doc, sizeof(doc), "document %d: ", document);
	return sw_fail(e, -EINVAL, "%s:%zu:%zu: %sinvalid YAML: %s%s; expected "
		       "valid YAML (check indentation, quotes and brackets)",
		       path, m.line + 1, m.column + 1, doc,
		       y->problem ? y->problem : "unknown error", context);
}

int sw_yaml_load(const char *path, const char *text, size_t len,
		 bool numbered, struct sw_yaml_docs *docs, struct sw_error *e)
{
	yaml_parser_t y;
	int err = 0;

	if (!yaml_parser_initialize(&y))
		return sw_fail(e, -ENOMEM, "%s: out of memory reading the YAML",
			       path);
	yaml_parser_set_input_string(&y, (const unsigned char *)text, len);
	for (int number = 1; !err; number++) {
		yaml_document_t **grown = realloc(docs->doc, (docs->n + 1) *
						  sizeof(*docs->doc));
		yaml_document_t *d = malloc(sizeof(*d));

		if (grown)
			docs->doc = grown;
		if (!grown || !d) {
			err = sw_fail(e, -ENOMEM, "%s: out of memory reading "
				      "the YAML", path);
		} else if (!yaml_parser_load(&y, d)) {
			err = syntax_error(path, numbered ? number : 0, &y,
					   text, len, e);
		} else if (yaml_document_get_root_node(d)) {
			docs->doc[docs->n++] = d;
			continue;
		} else {	/* the stream's end */
			yaml_document_delete(d);
			free(d);
			break;
		}
		free(d);
	}
	yaml_parser_delete(&y);
	return err;
}

void sw_yaml_docs_free(struct sw_yaml_docs *docs)
{
	for (int i = 0; i < docs->n; i++) {
		yaml_document_delete(docs->doc[i]);
		free(docs->doc[i]);
	}
	free(docs->doc);
	docs->doc = NULL;
	docs->n = 0;
}

/* ------------------------------------------------------------------------ */
/* Problems */

/* "FILE:LINE:COLUMN: LEVELCONTEXTFIELD: " */
#define PREFIX_MAX (PATH_MAX + sizeof(((struct sw_yaml *)0)->context) + \
		    SW_FIELD_MAX + 64)

static const char *prefix(char buf[PREFIX_MAX], const struct sw_yaml *y,
			  const char *level, const yaml_node_t *n,
			  const char *field)
{
	snprintf(buf, PREFIX_MAX, "%s:%zu:%zu: %s%s%s%s", y->path,
		 n->start_mark.line + 1, n->start_mark.column + 1, level,
		 y->context, field, *field ? ": " : "");
	return buf;
}

/* Keep the error that comes first in its file; count the others. */
int sw_yaml_error(const struct sw_yaml *y, const yaml_node_t *n,
		  const char *field, const char *fmt, ...)
{
	struct sw_yaml_report *r = y->report;
	char pre[PREFIX_MAX];
	size_t len;
	va_list ap;

	if (r->errors++ && (strcmp(y->path, r->first_path) ||
			    n->start_mark.index >= r->first_index))
		return -EINVAL;
	r->first_path = y->path;
	r->first_index = n->start_mark.index;
	len = snprintf(r->first, sizeof(r->first), "%s",
		       prefix(pre, y, "", n, field));
	r->first_context_at = strlen(pre) - strlen(y->context) - strlen(field) -
			      (*field ? 2 : 0);
	r->first_field_at = r->first_context_at + strlen(y->context);
	if (len < sizeof(r->first)) {
		va_start(ap, fmt);
		vsnprintf(r->first + len, sizeof(r->first) - len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void say(const struct sw_yaml *y, const char *level,
		const yaml_node_t *n, const char *field, const char *fmt,
		va_list ap)
{
	FILE *notes = y->report->notes;
	char pre[PREFIX_MAX];

	if (!notes)
		return;
	fputs(prefix(pre, y, level, n, field), notes);
	vfprintf(notes, fmt, ap);
	fputc('\n', notes);
}

void sw_yaml_warn(const struct sw_yaml *y, const yaml_node_t *n,
		  const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(y, "warning: ", n, field, fmt, ap);
	va_end(ap);
}

void sw_yaml_note(const struct sw_yaml *y, const yaml_node_t *n,
		  const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(y, "note: ", n, field, fmt, ap);
	va_end(ap);
}

/* " (and N more problems)" after the first error, or "". */
static const char *more_problems(const struct sw_yaml_report *r, char buf[48])
{
	int more = r->errors - 1;

	buf[0] = '\0';
	if (more > 0)
		snprintf(buf, 48, " (and %d more problem%s)", more,
			 more == 1 ? "" : "s");
	return buf;
}

int sw_yaml_verdict(const struct sw_yaml_report *r, struct sw_error *e)
{
	char more[48];

	if (!r->errors)
		return 0;
	return sw_fail(e, -EINVAL, "%s%s", r->first, more_problems(r, more));
}

void sw_yaml_skipped(const struct sw_yaml_report *r, FILE *notes)
{
	size_t len = strlen(r->first);	/* a long message is cut short */
	size_t context = r->first_context_at < len ? r->first_context_at : len;
	size_t field = r->first_field_at < len ? r->first_field_at : len;
	char more[48];

	if (notes)
		fprintf(notes, "%.*swarning: %.*sskipped: %s%s\n", (int)context,
			r->first, (int)(field - context), r->first + context,
			r->first + field, more_problems(r, more));
}

const char *sw_yaml_show(const struct sw_yaml *y, const char *s)
{
	struct sw_yaml_report *r = y->report;
	char *buf = r->shown[r->n_shown++ % ARRAY_SIZE(r->shown)];
	size_t i;

	for (i = 0; s[i] && i < SW_YAML_SHOWN_MAX; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	strcpy(buf + i, s[i] ? "..." : "");
	return buf;
}

/* ------------------------------------------------------------------------ */
/* Nodes and their kinds */

yaml_node_t *sw_yaml_node(const struct sw_yaml *y, int id)
{
	return yaml_document_get_node(y->doc, id);
}

const yaml_node_t *sw_yaml_get(const struct sw_yaml *y, const yaml_node_t *n,
			       const char *key)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = sw_yaml_node(y, p->key);

		if (k->type == YAML_SCALAR_NODE &&
		    !strcmp((const char *)k->data.scalar.value, key))
			return sw_yaml_node(y, p->value);
	}
	return NULL;
}

bool sw_yaml_is_null_text(const char *s)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
		if (!strcmp(s, nulls[i]))
			return true;
	return false;
}

static bool is_null(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE &&
	       n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       sw_yaml_is_null_text((const char *)n->data.scalar.value);
}

const char *sw_yaml_kind_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return is_null(n) ? "an empty value" : "a string";
	}
}

/* what: how to name the expected kind; NULL for the usual name. */
static int expect_kind(const struct sw_yaml *y, const yaml_node_t *n,
		       const char *field, yaml_node_type_t type,
		       const char *what)
{
	static const char *const expected[] = {
		[YAML_SCALAR_NODE] = "a string",
		[YAML_SEQUENCE_NODE] = "a list",
		[YAML_MAPPING_NODE] = "a mapping",
	};

	if (n->type == type && !is_null(n))
		return 0;
	return sw_yaml_error(y, n, field, "found %s; expected %s",
			     sw_yaml_kind_name(n),
			     what ? what : expected[type]);
}

const char *sw_yaml_scalar(const struct sw_yaml *y, const yaml_node_t *n,
			   const char *field, const char *what)
{
	const char *s;

	if (expect_kind(y, n, field, YAML_SCALAR_NODE, what))
		return NULL;
	s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length) {
		sw_yaml_error(y, n, field, "contains a NUL character; expected "
			      "text");
		return NULL;
	}
	return s;
}

const char *sw_yaml_text(const struct sw_yaml *y, const yaml_node_t *n,
			 const char *field)
{
	return sw_yaml_scalar(y, n, field, NULL);
}

int sw_yaml_list(const struct sw_yaml *y, const yaml_node_t *n,
		 const char *field, const yaml_node_item_t **items)
{
	*items = NULL;
	if (expect_kind(y, n, field, YAML_SEQUENCE_NODE, NULL))
		return -EINVAL;
	*items = n->data.sequence.items.start;
	return n->data.sequence.items.top - n->data.sequence.items.start;
}

/* ------------------------------------------------------------------------ */
/* Mappings: each has a table of the keys it takes */

const char *sw_yaml_key_list(char buf[SW_YAML_KEY_LIST_MAX],
			     const struct sw_yaml_key *keys, int n_keys,
			     bool required_only, const char *last_sep)
{
	int total = 0, k = 0;
	size_t len = 0;

	for (int i = 0; i < n_keys; i++)
		total += !required_only || keys[i].required;
	buf[0] = '\0';
	for (int i = 0; i < n_keys && len < SW_YAML_KEY_LIST_MAX; i++) {
		if (required_only && !keys[i].required)
			continue;
		len += snprintf(buf + len, SW_YAML_KEY_LIST_MAX - len, "%s%s",
				!k ? "" : k == total - 1 ? last_sep : ", ",
				keys[i].name);
		k++;
	}
	return buf;
}

/* A key of the mapping that is not in its table: an error, or a warning. */
static void unknown_key(const struct sw_yaml *y, const yaml_node_t *key,
		       const char *field, const char *name,
		       const struct sw_yaml_key *keys, int n_keys,
		       const char *unknown)
{
	char list[SW_YAML_KEY_LIST_MAX], f[SW_FIELD_MAX];

	if (unknown) {
		sw_yaml_warn(y, key, sw_field_key(f, field, name),
			     "not imported: %s", unknown);
		return;
	}
	sw_yaml_error(y, key, field, "unknown key '%s'; expected %s%s",
		      sw_yaml_show(y, name), n_keys > 1 ? "one of " : "",
		      sw_yaml_key_list(list, keys, n_keys, false, " or "));
}

static int missing_keys(const struct sw_yaml *y, const yaml_node_t *n,
			const char *field, const struct sw_yaml_key *keys,
			int n_keys, const yaml_node_t **values)
{
	char required[SW_YAML_KEY_LIST_MAX];
	int errors = 0;

	sw_yaml_key_list(required, keys, n_keys, true, " and ");
	for (int i = 0; i < n_keys; i++) {
		if (!keys[i].required || values[i])
			continue;
		errors++;
		if (!strcmp(required, keys[i].name))
			sw_yaml_error(y, n, field, "missing required key '%s'; "
				      "expected it to be set", keys[i].name);
		else
			sw_yaml_error(y, n, field, "missing required key '%s'; "
				      "expected all of %s", keys[i].name,
				      required);
	}
	return errors;
}

int sw_yaml_mapping(const struct sw_yaml *y, const yaml_node_t *n,
		    const char *field, const struct sw_yaml_key *keys,
		    int n_keys, const char *unknown, const yaml_node_t **values)
{
	char list[SW_YAML_KEY_LIST_MAX], f[SW_FIELD_MAX];
	int errors = 0;

	for (int i = 0; i < n_keys; i++)
		values[i] = NULL;
	if (expect_kind(y, n, field, YAML_MAPPING_NODE, NULL))
		return -EINVAL;
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start;
	     pair < n->data.mapping.pairs.top; pair++) {
		const yaml_node_t *key = sw_yaml_node(y, pair->key);
		const char *name;
		int i = 0;

		if (key->type != YAML_SCALAR_NODE ||
		    strlen((const char *)key->data.scalar.value) !=
			    key->data.scalar.length) {
			errors++;
			sw_yaml_error(y, key, field, "found %s as a key; "
				      "expected %s%s",
				      key->type == YAML_SCALAR_NODE ?
				      "a NUL character" : sw_yaml_kind_name(key),
				      n_keys > 1 ? "one of " : "",
				      sw_yaml_key_list(list, keys, n_keys,
						       false, " or "));
			continue;
		}
		name = (const char *)key->data.scalar.value;
		while (i < n_keys && strcmp(name, keys[i].name))
			i++;
		if (i == n_keys) {
			errors += !unknown;
			unknown_key(y, key, field, name, keys, n_keys, unknown);
		} else if (values[i]) {
			errors++;
			sw_yaml_error(y, key, field, "key '%s' is written "
				      "twice (first on line %zu); expected "
				      "each key once", name,
				      values[i]->start_mark.line + 1);
		} else {
			values[i] = sw_yaml_node(y, pair->value);
			if (keys[i].ignored && *keys[i].ignored)
				sw_yaml_warn(y, key,
					     sw_field_key(f, field, name),
					     "not imported: %s",
					     keys[i].ignored);
		}
	}
	return errors + missing_keys(y, n, field, keys, n_keys, values);
}

/* ------------------------------------------------------------------------ */
/* Typed values */

int sw_yaml_number(const struct sw_yaml *y, const yaml_node_t *n,
		   const char *field, __u64 min, __u64 max, __u64 *out)
{
	const char *s = sw_yaml_scalar(y, n, field, "a whole number");
	int err;

	if (!s)
		return -EINVAL;
	err = sw_decimal_parse(s, max, out);
	if (err == -EINVAL)
		return sw_yaml_error(y, n, field, "'%s' is not a whole number; "
				     "expected a whole number from %llu to "
				     "%llu, in decimal without sign or leading "
				     "zeros", sw_yaml_show(y, s),
				     (unsigned long long)min,
				     (unsigned long long)max);
	if (err || *out < min)
		return sw_yaml_error(y, n, field, "%s is not allowed; expected "
				     "a whole number from %llu to %llu",
				     sw_yaml_show(y, s),
				     (unsigned long long)min,
				     (unsigned long long)max);
	return 0;
}

int sw_yaml_u32(const struct sw_yaml *y, const yaml_node_t *n,
		const char *field, __u32 min, __u32 max, __u32 *out)
{
	__u64 v;

	if (sw_yaml_number(y, n, field, min, max, &v))
		return -EINVAL;
	*out = v;
	return 0;
}

int sw_yaml_port(const struct sw_yaml *y, const yaml_node_t *n,
		 const char *field, __u16 *port)
{
	__u64 v;

	if (sw_yaml_number(y, n, field, 1, 65535, &v))
		return -EINVAL;
	*port = v;
	return 0;
}

int sw_yaml_label(const struct sw_yaml *y, const yaml_node_t *n,
		  const char *field, char out[SW_SHORT_NAME_MAX + 1])
{
	const char *s = sw_yaml_text(y, n, field);

	if (!s)
		return -EINVAL;
	if (!sw_is_dns_label(s))
		return sw_yaml_error(y, n, field, "'%s' is not a DNS label; "
				     "expected 1 to %d lowercase letters, "
				     "digits or '-', not starting or ending "
				     "with '-'", sw_yaml_show(y, s),
				     SW_SHORT_NAME_MAX);
	strcpy(out, s);
	return 0;
}

int sw_yaml_dns_name(const struct sw_yaml *y, const yaml_node_t *n,
		     const char *field, char out[SW_NAME_MAX + 1])
{
	const char *s = sw_yaml_text(y, n, field);

	if (!s)
		return -EINVAL;
	if (!sw_is_dns_name(s))
		return sw_yaml_error(y, n, field, "'%s' is not a DNS name; "
				     "expected labels of 1 to %d lowercase "
				     "letters, digits or '-' (not starting or "
				     "ending with '-') joined by '.', %d "
				     "characters at most", sw_yaml_show(y, s),
				     SW_SHORT_NAME_MAX, SW_NAME_MAX);
	strcpy(out, s);
	return 0;
}

int sw_yaml_hostport(const struct sw_yaml *y, const yaml_node_t *n,
		     const char *field, bool listen, struct sw_hostport *hp)
{
	const char *s = sw_yaml_text(y, n, field);
	__u8 addr[16], family;

	if (!s)
		return -EINVAL;
	if (!sw_hostport_parse(s, hp) &&
	    (!listen || !sw_addr_parse(hp->host, addr, &family)))
		return 0;
	memset(hp, 0, sizeof(*hp));
	return sw_yaml_error(y, n, field, listen ?
			     "'%s' is not an address and port to listen on; "
			     "expected an IPv4 or [IPv6] address, ':' and a "
			     "port from 1 to 65535, such as 0.0.0.0:15008 or "
			     "[::]:15008" :
			     "'%s' is not a host and port; expected an IPv4 "
			     "address, [IPv6] address or DNS name, ':' and a "
			     "port from 1 to 65535, such as 203.0.113.7:15008",
			     sw_yaml_show(y, s));
}

/* What each syntax takes, for messages. */
static const char *const duration_syntax[] = {
	[SW_DURATION_SPILLWAY] = "whole numbers with units h, m, s, ms, us "
				 "or ns, largest first, such as 500ms, 10s "
				 "or 1h30m",
	[SW_DURATION_GO] = "a number and a unit (h, m, s, ms, us or ns), such "
			   "as 10s, 1.5s, 100ms or 1h",
};

/* "from 1ms to 1h": the range as messages say it. */
static const char *duration_range(char *buf, size_t size, __u64 min,
				  __u64 max)
{
	char lo[48], hi[48];

	if (max == UINT64_MAX && min <= 1)
		return "greater than 0, such as 10s";
	if (max == UINT64_MAX)
		snprintf(buf, size, "of at least %s",
			 sw_duration_format(min, lo, sizeof(lo)));
	else
		snprintf(buf, size, "from %s to %s",
			 sw_duration_format(min, lo, sizeof(lo)),
			 sw_duration_format(max, hi, sizeof(hi)));
	return buf;
}

int sw_yaml_duration(const struct sw_yaml *y, const yaml_node_t *n,
		     const char *field, __u64 min, __u64 max,
		     const char *setting, __u64 *ns)
{
	const char *s = sw_yaml_scalar(y, n, field, "a duration");
	char range[112];

	if (!s)
		return -EINVAL;
	if (sw_duration_parse(s, y->durations, ns))
		return sw_yaml_error(y, n, field, "'%s' is not a duration; "
				     "expected %s", sw_yaml_show(y, s),
				     duration_syntax[y->durations]);
	if (*ns >= min && *ns <= max)
		return 0;
	return sw_yaml_error(y, n, field, "%s is not allowed%s%s; expected a "
			     "duration %s", sw_yaml_show(y, s),
			     setting ? ": it becomes " : "",
			     setting ? setting : "",
			     duration_range(range, sizeof(range), min, max));
}
