/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reading YAML files users write, for the configuration and the Istio
 * import alike: loading documents (libyaml's document API, which keeps
 * every node's position), finding nodes, typed values, and one reporter for
 * what is wrong with them. Every message reads
 *
 *   FILE:LINE:COLUMN: [warning: |note: ]CONTEXTFIELD: what; expected ...
 *
 * CONTEXT saying which object of the file it is about where a file holds
 * several ("document 2, ServiceEntry default/echo: "), FIELD the path to
 * the value ("services[1].max_connections").
 *
 * A reader may go on after an error, so that the user hears of the first
 * problem in the file and how many more there are: errors are counted and
 * the one that comes first in the file is kept (sw_yaml_verdict).
 */
#ifndef SW_CONFIG_YAML_H
#define SW_CONFIG_YAML_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>
#include <yaml.h>

#include "lib/error.h"
#include "lib/text.h"

/*
 * Field paths as messages show them: "services[1]" and "services[1].vip";
 * one that does not fit ends in "...".
 */
#define SW_FIELD_MAX 96
const char *sw_field_key(char buf[SW_FIELD_MAX], const char *parent,
			 const char *key);
const char *sw_field_item(char buf[SW_FIELD_MAX], const char *parent, int i);

/* User text quoted in a message: enough to recognise it. */
#define SW_YAML_SHOWN_MAX 64

/* Where the problems of one or more documents go; start it zeroed. */
struct sw_yaml_report {
	FILE *notes;			/* warnings and notes, a line each;
					 * NULL: not wanted */
	int errors;			/* reported so far */
	const char *first_path;		/* the first error in the file: */
	size_t first_index;		/* its byte offset, */
	char first[sizeof(((struct sw_error *)0)->msg)];	/* message */
	size_t first_context_at;	/* in first: after "FILE:LINE:COLUMN: " */
	size_t first_field_at;		/* in first: after CONTEXT */
	char shown[4][SW_YAML_SHOWN_MAX + 4];	/* see sw_yaml_show */
	unsigned int n_shown;
};

/* A loaded document, and how messages name it. */
struct sw_yaml {
	yaml_document_t *doc;
	const char *path;		/* FILE */
	char context[192];		/* CONTEXT: "" or "...: " */
	enum sw_duration_syntax durations;	/* how the file writes them */
	struct sw_yaml_report *report;
};

/* The documents of one or more files, in order. */
struct sw_yaml_docs {
	yaml_document_t **doc;
	int n;
};

/*
 * Add every document of text to docs. On invalid YAML -EINVAL, and e gives
 * FILE:LINE:COLUMN and libyaml's complaint ("document N: " before it if
 * numbered, N counting this text's documents from 1); the documents before
 * stay in docs.
 */
int sw_yaml_load(const char *path, const char *text, size_t len,
		 bool numbered, struct sw_yaml_docs *docs, struct sw_error *e);
void sw_yaml_docs_free(struct sw_yaml_docs *docs);

/*
 * A problem with node n (its position is the message's) and field; fmt
 * says what is wrong and what was expected. An error returns -EINVAL.
 */
int sw_yaml_error(const struct sw_yaml *y, const yaml_node_t *n,
		  const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void sw_yaml_warn(const struct sw_yaml *y, const yaml_node_t *n,
		  const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void sw_yaml_note(const struct sw_yaml *y, const yaml_node_t *n,
		  const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * 0 if no error was reported; else -EINVAL, and e holds the first in the
 * file, followed by how many more there are.
 */
int sw_yaml_verdict(const struct sw_yaml_report *r, struct sw_error *e);

/*
 * For a reader that leaves out what it cannot read: the first error of r
 * (there must be one) written to notes as one warning that the object the
 * context names is skipped:
 *   FILE:LINE:COLUMN: warning: CONTEXTskipped: FIELD: what; expected ...
 */
void sw_yaml_skipped(const struct sw_yaml_report *r, FILE *notes);

/*
 * User text as it may appear in a message: printable ASCII, cut short.
 * Values can hold newlines or escapes that would break a log line. Valid
 * until four more calls.
 */
const char *sw_yaml_show(const struct sw_yaml *y, const char *s);

/* The node of an id (from a list item or a mapping pair). */
yaml_node_t *sw_yaml_node(const struct sw_yaml *y, int id);
/* The value of key in mapping n; NULL if n is no mapping or has no such key. */
const yaml_node_t *sw_yaml_get(const struct sw_yaml *y, const yaml_node_t *n,
			       const char *key);

/* What YAML reads as null, not as a string, when written unquoted. */
bool sw_yaml_is_null_text(const char *s);
/* "a list", "a mapping", "an empty value", "a string". */
const char *sw_yaml_kind_name(const yaml_node_t *n);

/*
 * The text of a scalar, quoted or not (YAML writers quote freely); NULL
 * (reported) for anything else, null included. what: how to name what is
 * expected ("a whole number"); sw_yaml_text expects "a string".
 */
const char *sw_yaml_scalar(const struct sw_yaml *y, const yaml_node_t *n,
			   const char *field, const char *what);
const char *sw_yaml_text(const struct sw_yaml *y, const yaml_node_t *n,
			 const char *field);
/* The items of a list and their number; -EINVAL (reported) if not a list. */
int sw_yaml_list(const struct sw_yaml *y, const yaml_node_t *n,
		 const char *field, const yaml_node_item_t **items);

/* A key a mapping may have. */
struct sw_yaml_key {
	const char *name;
	bool required;		/* missing: an error */
	const char *ignored;	/* NULL: read; else not read, and a warning
				 * "not imported: IGNORED" (none if "") */
};

/* "a, b or c": the names of keys (only the required ones if asked). */
#define SW_YAML_KEY_LIST_MAX 256
const char *sw_yaml_key_list(char buf[SW_YAML_KEY_LIST_MAX],
			     const struct sw_yaml_key *keys, int n_keys,
			     bool required_only, const char *last_sep);

/*
 * Read mapping n by its table of keys: values[i] is the node of keys[i]'s
 * value (NULL if not written). Keys written twice, missing required keys
 * and keys that are not text are errors; so are keys not in the table,
 * unless unknown says why they are left out (then each is a warning "not
 * imported: UNKNOWN"). Returns -EINVAL if n is not a mapping (values all
 * NULL), else the number of errors found (values hold the rest).
 */
int sw_yaml_mapping(const struct sw_yaml *y, const yaml_node_t *n,
		    const char *field, const struct sw_yaml_key *keys,
		    int n_keys, const char *unknown, const yaml_node_t **values);

/*
 * Typed values: 0, or -EINVAL with the problem reported. Numbers are
 * decimal, without sign or leading zeros.
 */
int sw_yaml_number(const struct sw_yaml *y, const yaml_node_t *n,
		   const char *field, __u64 min, __u64 max, __u64 *out);
int sw_yaml_u32(const struct sw_yaml *y, const yaml_node_t *n,
		const char *field, __u32 min, __u32 max, __u32 *out);
int sw_yaml_port(const struct sw_yaml *y, const yaml_node_t *n,
		 const char *field, __u16 *port);
/* A DNS label: cluster and remote names (metrics labels, the remotes map). */
int sw_yaml_label(const struct sw_yaml *y, const yaml_node_t *n,
		  const char *field, char out[SW_SHORT_NAME_MAX + 1]);
int sw_yaml_dns_name(const struct sw_yaml *y, const yaml_node_t *n,
		     const char *field, char out[SW_NAME_MAX + 1]);
/* listen: the address must be this node's, so a literal; else any host. */
int sw_yaml_hostport(const struct sw_yaml *y, const yaml_node_t *n,
		     const char *field, bool listen, struct sw_hostport *hp);
/*
 * A duration in the document's syntax, from min to max (UINT64_MAX: no
 * upper limit). setting: the spillway setting it becomes, named in the
 * message when it is out of range, if field is another's ("remotes[].
 * health.interval" for Istio's outlierDetection.interval); else NULL.
 */
int sw_yaml_duration(const struct sw_yaml *y, const yaml_node_t *n,
		     const char *field, __u64 min, __u64 max,
		     const char *setting, __u64 *ns);

#endif /* SW_CONFIG_YAML_H */
