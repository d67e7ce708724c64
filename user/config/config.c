// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The agent's configuration file. libyaml loads the whole document (its
 * document API keeps every node's position), then the schema below walks it.
 * Every problem is recorded against the node it is about and the walk goes
 * on, so that the one reported is the first in the file, followed by how
 * many more there are: a user fixes the file top-down.
 *
 * Nothing here trusts the input: wrong node kinds, huge lists, embedded NULs,
 * aliases and anchors are all reported or handled, never asserted on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "spillway/defaults.h"
#include "lib/addr.h"
#include "lib/util.h"
#include "config/config.h"

/* Far above any real configuration; a larger file is a mistake. */
#define CONFIG_MAX_BYTES (4u << 20)

/* The flows map is preallocated: 2^27 entries already take gigabytes. */
#define CONFIG_MAX_FLOW_CAPACITY (1u << 27)

/* Remote id 0 means "none" in the datapath's remotes map. */
#define CONFIG_MAX_REMOTES (SW_MAX_REMOTES - 1)

/* "services[65535].overflow_to[3]" and the like. */
#define FIELD_MAX SW_FIELD_MAX

/* User text quoted in a message: enough to recognise it. */
#define SHOWN_MAX 64

static const char *const cert_files[] = {
	"root-cert.pem", "cert-chain.pem", "key.pem",
};

struct parser {
	const char *path;		/* of the file, for messages */
	yaml_document_t doc;
	struct sw_config *cfg;
	int err;			/* -ENOMEM: nothing else is reliable */
	int problems;
	size_t first_index;		/* byte offset of the first problem */
	char first[sizeof(((struct sw_error *)0)->msg)];
	char shown[4][SHOWN_MAX + 4];	/* user text made printable */
	unsigned int n_shown;
};

/* ------------------------------------------------------------------------ */
/* Problems */

static void problem(struct parser *p, const yaml_node_t *n, const char *field,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Keep the problem that comes first in the file; count the others. */
static void problem(struct parser *p, const yaml_node_t *n, const char *field,
		    const char *fmt, ...)
{
	const yaml_mark_t *m = &n->start_mark;
	size_t len;
	va_list ap;

	if (p->problems++ && m->index >= p->first_index)
		return;
	p->first_index = m->index;
	len = snprintf(p->first, sizeof(p->first), "%s:%zu:%zu: %s%s", p->path,
		       m->line + 1, m->column + 1, field, *field ? ": " : "");
	if (len >= sizeof(p->first))
		return;
	va_start(ap, fmt);
	vsnprintf(p->first + len, sizeof(p->first) - len, fmt, ap);
	va_end(ap);
}

static void out_of_memory(struct parser *p)
{
	p->err = -ENOMEM;
}

/*
 * User text as it may appear in a message: printable ASCII, cut short.
 * Values can hold newlines or escapes that would break a log line.
 */
static const char *show(struct parser *p, const char *s)
{
	char *buf = p->shown[p->n_shown++ % 4];
	size_t i;

	for (i = 0; s[i] && i < SHOWN_MAX; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	strcpy(buf + i, s[i] ? "..." : "");
	return buf;
}

/* A field path that did not fit (it cannot, with this schema) ends in "...". */
static const char *field_fit(char buf[FIELD_MAX], int len)
{
	if (len >= FIELD_MAX)
		strcpy(buf + FIELD_MAX - 4, "...");
	return buf;
}

static const char *field_key(char buf[FIELD_MAX], const char *parent,
			     const char *key)
{
	return field_fit(buf, snprintf(buf, FIELD_MAX, "%s%s%s", parent,
				       *parent ? "." : "", key));
}

static const char *field_item(char buf[FIELD_MAX], const char *parent, int i)
{
	return field_fit(buf, snprintf(buf, FIELD_MAX, "%s[%d]", parent, i));
}

const char *sw_field_key(char buf[SW_FIELD_MAX], const char *parent,
			 const char *key)
{
	return field_key(buf, parent, key);
}

const char *sw_field_item(char buf[SW_FIELD_MAX], const char *parent, int i)
{
	return field_item(buf, parent, i);
}

/* ------------------------------------------------------------------------ */
/* Node kinds */

static yaml_node_t *node(struct parser *p, int id)
{
	return yaml_document_get_node(&p->doc, id);
}

/* What YAML reads as null, not as a string, when written unquoted. */
static bool is_null_text(const char *s)
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
	       is_null_text((const char *)n->data.scalar.value);
}

static const char *kind_name(const yaml_node_t *n)
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
static bool expect_kind(struct parser *p, const yaml_node_t *n,
			const char *field, yaml_node_type_t type,
			const char *what)
{
	static const char *const expected[] = {
		[YAML_SCALAR_NODE] = "a string",
		[YAML_SEQUENCE_NODE] = "a list",
		[YAML_MAPPING_NODE] = "a mapping",
	};

	if (n->type == type && !is_null(n))
		return true;
	problem(p, n, field, "found %s; expected %s", kind_name(n),
		what ? what : expected[type]);
	return false;
}

/*
 * The text of a scalar node (what: "a number"...); NULL (reported) for
 * anything else. Quoted or not: YAML writers quote freely.
 */
static const char *scalar_as(struct parser *p, const yaml_node_t *n,
			     const char *field, const char *what)
{
	const char *s;

	if (!expect_kind(p, n, field, YAML_SCALAR_NODE, what))
		return NULL;
	s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length) {
		problem(p, n, field, "contains a NUL character; expected text");
		return NULL;
	}
	return s;
}

static const char *scalar(struct parser *p, const yaml_node_t *n,
			  const char *field)
{
	return scalar_as(p, n, field, NULL);
}

/* The items of a list node; -1 (reported) if it is not a list. */
static int list_items(struct parser *p, const yaml_node_t *n,
		      const char *field, const yaml_node_item_t **items)
{
	if (!expect_kind(p, n, field, YAML_SEQUENCE_NODE, NULL))
		return -1;
	*items = n->data.sequence.items.start;
	return n->data.sequence.items.top - n->data.sequence.items.start;
}

/* calloc for a list of n entries, none for an empty list. */
static void *list_alloc(struct parser *p, int n, size_t size)
{
	void *a;

	if (!n)
		return NULL;
	a = calloc(n, size);
	if (!a)
		out_of_memory(p);
	return a;
}

static bool check_list_size(struct parser *p, const yaml_node_t *n,
			    const char *field, int count, int max,
			    const char *why)
{
	if (count <= max)
		return true;
	problem(p, n, field, "%d entries; expected at most %d (%s)", count, max,
		why);
	return false;
}

/* ------------------------------------------------------------------------ */
/* Mappings: each has a table of the keys it accepts */

struct key_spec {
	const char *name;
	bool required;
};

#define KEY_LIST_MAX 256

/* "a, b or c" from the keys of spec (only the required ones if asked). */
static const char *key_list(char buf[KEY_LIST_MAX], const struct key_spec *spec,
			    int n_spec, bool required_only, const char *last_sep)
{
	int total = 0, k = 0;
	size_t len = 0;

	for (int i = 0; i < n_spec; i++)
		total += !required_only || spec[i].required;
	buf[0] = '\0';
	for (int i = 0; i < n_spec && len < KEY_LIST_MAX; i++) {
		if (required_only && !spec[i].required)
			continue;
		len += snprintf(buf + len, KEY_LIST_MAX - len, "%s%s",
				!k ? "" : k == total - 1 ? last_sep : ", ",
				spec[i].name);
		k++;
	}
	return buf;
}

static const char *keys_accepted(char buf[KEY_LIST_MAX],
				 const struct key_spec *spec, int n_spec)
{
	return key_list(buf, spec, n_spec, false, " or ");
}

/*
 * Check that n is a mapping whose keys are all in spec, each written once,
 * the required ones present; values[i] is the node of spec[i] (NULL if not
 * written). False only when n is not a mapping at all.
 */
static bool mapping_fields(struct parser *p, const yaml_node_t *n,
			   const char *field, const struct key_spec *spec,
			   int n_spec, yaml_node_t **values)
{
	char keys[KEY_LIST_MAX];

	memset(values, 0, n_spec * sizeof(*values));
	if (!expect_kind(p, n, field, YAML_MAPPING_NODE, NULL))
		return false;
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start;
	     pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = node(p, pair->key);
		const char *name;
		int i = 0;

		if (key->type != YAML_SCALAR_NODE ||
		    strlen((const char *)key->data.scalar.value) !=
			    key->data.scalar.length) {
			problem(p, key, field, "found %s as a key; expected "
				"%s%s", key->type == YAML_SCALAR_NODE ?
				"a NUL character" : kind_name(key),
				n_spec > 1 ? "one of " : "",
				keys_accepted(keys, spec, n_spec));
			continue;
		}
		name = (const char *)key->data.scalar.value;
		while (i < n_spec && strcmp(name, spec[i].name))
			i++;
		if (i == n_spec) {
			problem(p, key, field, "unknown key '%s'; expected "
				"%s%s", show(p, name), n_spec > 1 ? "one of " : "",
				keys_accepted(keys, spec, n_spec));
		} else if (values[i]) {
			problem(p, key, field,
				"key '%s' is written twice (first on line %zu); "
				"expected each key once", name,
				values[i]->start_mark.line + 1);
		} else {
			values[i] = node(p, pair->value);
		}
	}
	key_list(keys, spec, n_spec, true, " and ");
	for (int i = 0; i < n_spec; i++) {
		if (!spec[i].required || values[i])
			continue;
		if (!strcmp(keys, spec[i].name))
			problem(p, n, field, "missing required key '%s'; expected "
				"it to be set", spec[i].name);
		else
			problem(p, n, field, "missing required key '%s'; expected "
				"all of %s", spec[i].name, keys);
	}
	return true;
}

/* ------------------------------------------------------------------------ */
/* Uniqueness: names, VIP:port pairs... each list says what must not repeat */

struct unique_entry {
	char text[SW_NAME_MAX + 32];	/* what must be unique, as shown */
	int index;			/* in the list */
	const yaml_node_t *node;	/* reported at */
};

struct unique {
	const char *list;		/* "services" */
	const char *sub;		/* ".name", or "" for the entry itself */
	const char *expected;		/* what to do instead */
	struct unique_entry *entries;
	int n;
};

static void unique_init(struct parser *p, struct unique *u, int capacity)
{
	u->n = 0;
	u->entries = list_alloc(p, capacity, sizeof(*u->entries));
}

static void unique_add(struct unique *u, int index, const yaml_node_t *n,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void unique_add(struct unique *u, int index, const yaml_node_t *n,
		       const char *fmt, ...)
{
	struct unique_entry *entry;
	va_list ap;

	if (!u->entries)
		return;
	entry = &u->entries[u->n++];
	va_start(ap, fmt);
	vsnprintf(entry->text, sizeof(entry->text), fmt, ap);
	va_end(ap);
	entry->index = index;
	entry->node = n;
}

static int unique_cmp(const void *a, const void *b)
{
	const struct unique_entry *x = a, *y = b;
	int c = strcmp(x->text, y->text);

	return c ? c : x->index - y->index;
}

/*
 * Report every entry equal to an earlier one, naming the earliest. Sorting
 * keeps this O(n log n): ten thousand services are a real configuration.
 */
static void unique_check(struct parser *p, struct unique *u)
{
	char field[FIELD_MAX];
	int first = 0;

	if (u->n > 1)
		qsort(u->entries, u->n, sizeof(*u->entries), unique_cmp);
	for (int i = 1; i < u->n; i++) {
		const struct unique_entry *a = &u->entries[first];
		const struct unique_entry *b = &u->entries[i];

		if (strcmp(a->text, b->text)) {
			first = i;
			continue;
		}
		snprintf(field, sizeof(field), "%s[%d]%s", u->list, b->index,
			 u->sub);
		problem(p, b->node, field,
			"%s is already used by %s[%d] (line %zu); expected %s",
			show(p, b->text), u->list, a->index,
			a->node->start_mark.line + 1, u->expected);
	}
	free(u->entries);
	u->entries = NULL;
}

/* ------------------------------------------------------------------------ */
/* What the configuration's own fields accept (text.h has the common ones) */

/* What the kernel accepts as an interface name (dev_valid_name). */
static bool is_ifname(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '/' || s[i] == ':' || strchr(" \t\n\v\f\r", s[i]))
			return false;
	}
	return true;
}

/* A SPIFFE URI or a DNS name: what a peer certificate may be checked for. */
static bool is_identity(const char *s)
{
	static const char spiffe[] = "spiffe://";
	size_t len = strlen(s);

	if (len > SW_IDENTITY_MAX)
		return false;
	if (strncmp(s, spiffe, sizeof(spiffe) - 1))
		return sw_is_dns_name(s);
	if (len == sizeof(spiffe) - 1)
		return false;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------------ */
/* Typed values: each reports its own problem and says if it succeeded */

static bool get_number(struct parser *p, const yaml_node_t *n,
		       const char *field, __u64 min, __u64 max, __u64 *out)
{
	const char *s = scalar_as(p, n, field, "a whole number");
	int err;

	if (!s)
		return false;
	err = sw_decimal_parse(s, max, out);
	if (err == -EINVAL) {
		problem(p, n, field,
			"'%s' is not a whole number; expected a whole number from "
			"%llu to %llu, in decimal without sign or leading zeros",
			show(p, s), (unsigned long long)min,
			(unsigned long long)max);
		return false;
	}
	if (err || *out < min) {
		problem(p, n, field,
			"%s is not allowed; expected a whole number from %llu to %llu",
			show(p, s), (unsigned long long)min,
			(unsigned long long)max);
		return false;
	}
	return true;
}

static bool get_port(struct parser *p, const yaml_node_t *n, const char *field,
		     __u16 *port)
{
	__u64 v;

	if (!get_number(p, n, field, 1, 65535, &v))
		return false;
	*port = v;
	return true;
}

static bool get_u32(struct parser *p, const yaml_node_t *n, const char *field,
		    __u32 *out)
{
	__u64 v;

	if (!get_number(p, n, field, 1, UINT32_MAX, &v))
		return false;
	*out = v;
	return true;
}

/* Cluster and remote names: they end up in metrics labels and the remotes map. */
static bool get_label(struct parser *p, const yaml_node_t *n,
		      const char *field, char out[SW_SHORT_NAME_MAX + 1])
{
	const char *s = scalar(p, n, field);

	if (!s)
		return false;
	if (!sw_is_dns_label(s)) {
		problem(p, n, field,
			"'%s' is not a DNS label; expected 1 to %d lowercase "
			"letters, digits or '-', not starting or ending with '-'",
			show(p, s), SW_SHORT_NAME_MAX);
		return false;
	}
	strcpy(out, s);
	return true;
}

static bool get_dns_name(struct parser *p, const yaml_node_t *n,
			 const char *field, char out[SW_NAME_MAX + 1])
{
	const char *s = scalar(p, n, field);

	if (!s)
		return false;
	if (!sw_is_dns_name(s)) {
		problem(p, n, field,
			"'%s' is not a DNS name; expected labels of 1 to %d "
			"lowercase letters, digits or '-' (not starting or ending "
			"with '-') joined by '.', %d characters at most",
			show(p, s), SW_SHORT_NAME_MAX, SW_NAME_MAX);
		return false;
	}
	strcpy(out, s);
	return true;
}

/* listen: the address must be this node's, so a literal; else any host. */
static bool get_hostport(struct parser *p, const yaml_node_t *n,
			 const char *field, bool listen, struct sw_hostport *hp)
{
	const char *s = scalar(p, n, field);
	__u8 addr[16], family;

	if (!s)
		return false;
	if (sw_hostport_parse(s, hp) ||
	    (listen && sw_addr_parse(hp->host, addr, &family))) {
		memset(hp, 0, sizeof(*hp));
		problem(p, n, field, listen ?
			"'%s' is not an address and port to listen on; expected "
			"an IPv4 or [IPv6] address, ':' and a port from 1 to "
			"65535, such as 0.0.0.0:15008 or [::]:15008" :
			"'%s' is not a host and port; expected an IPv4 address, "
			"[IPv6] address or DNS name, ':' and a port from 1 to "
			"65535, such as 203.0.113.7:15008",
			show(p, s));
		return false;
	}
	return true;
}

/* Any duration, 0 included; its text in *text for messages. */
static bool read_duration(struct parser *p, const yaml_node_t *n,
			  const char *field, __u64 *ns, const char **text)
{
	const char *s = scalar_as(p, n, field, "a duration");

	if (!s)
		return false;
	if (sw_duration_parse(s, SW_DURATION_SPILLWAY, ns)) {
		problem(p, n, field,
			"'%s' is not a duration; expected whole numbers with "
			"units h, m, s, ms, us or ns, largest first, such as "
			"500ms, 10s or 1h30m", show(p, s));
		return false;
	}
	*text = s;
	return true;
}

static bool get_duration(struct parser *p, const yaml_node_t *n,
			 const char *field, __u64 *ns)
{
	const char *s;

	if (!read_duration(p, n, field, ns, &s))
		return false;
	if (!*ns) {
		problem(p, n, field, "%s is not allowed; expected a duration "
			"greater than 0, such as 10s", show(p, s));
		return false;
	}
	return true;
}

static bool get_duration_in(struct parser *p, const yaml_node_t *n,
			    const char *field, __u64 min, __u64 max, __u64 *ns)
{
	char lo[48], hi[48];
	const char *s;

	if (!read_duration(p, n, field, ns, &s))
		return false;
	if (*ns < min || *ns > max) {
		problem(p, n, field, "%s is not allowed; expected a duration "
			"from %s to %s", show(p, s),
			sw_duration_format(min, lo, sizeof(lo)),
			sw_duration_format(max, hi, sizeof(hi)));
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------------ */
/* cluster, interfaces */

static void parse_cluster(struct parser *p, const yaml_node_t *n)
{
	get_label(p, n, "cluster", p->cfg->cluster);
}

enum { IF_NAME, IF_ATTACH, IF_N };
static const struct key_spec iface_keys[IF_N] = {
	[IF_NAME] = { "name", true },
	[IF_ATTACH] = { "attach", false },
};

static void parse_attach(struct parser *p, const yaml_node_t *n,
			 const char *field, enum sw_attach_mode *mode)
{
	const char *s = scalar(p, n, field);

	if (s && sw_attach_mode_parse(s, mode))
		problem(p, n, field, "'%s' is not an attach mode; expected tc "
			"or xdp", show(p, s));
}

/* "eth0", or {name: eth0, attach: xdp}. */
static void parse_interface(struct parser *p, const yaml_node_t *n,
			    const char *field, struct sw_iface_config *iface,
			    struct unique *names, int index)
{
	const yaml_node_t *name_node = n;
	yaml_node_t *v[IF_N] = { NULL };
	char f[FIELD_MAX];
	const char *s;

	iface->attach = SW_ATTACH_TC;
	if (n->type == YAML_MAPPING_NODE) {
		mapping_fields(p, n, field, iface_keys, IF_N, v);
		if (v[IF_ATTACH])
			parse_attach(p, v[IF_ATTACH], field_key(f, field, "attach"),
				     &iface->attach);
		name_node = v[IF_NAME];
		field = field_key(f, field, "name");
	}
	s = name_node ? scalar(p, name_node, field) : NULL;
	if (!s)
		return;
	if (!is_ifname(s)) {
		problem(p, name_node, field, "'%s' is not an interface name; "
			"expected 1 to %d characters, none of them '/', ':' or "
			"whitespace", show(p, s), IFNAMSIZ - 1);
		return;
	}
	strcpy(iface->name, s);
	unique_add(names, index, name_node, "%s", s);
}

static void parse_interfaces(struct parser *p, const yaml_node_t *n)
{
	struct unique names = {
		.list = "interfaces", .sub = "",
		.expected = "each interface once",
	};
	const yaml_node_item_t *items;
	struct sw_config *cfg = p->cfg;
	char f[FIELD_MAX];
	int count = list_items(p, n, "interfaces", &items);

	if (count <= 0)
		return;
	cfg->interfaces = list_alloc(p, count, sizeof(*cfg->interfaces));
	unique_init(p, &names, count);
	if (cfg->interfaces) {
		cfg->n_interfaces = count;
		for (int i = 0; i < count; i++)
			parse_interface(p, node(p, items[i]),
					field_item(f, "interfaces", i),
					&cfg->interfaces[i], &names, i);
	}
	unique_check(p, &names);
}

/* ------------------------------------------------------------------------ */
/* tls */

enum { TLS_DIR, TLS_ALLOW, TLS_N };
static const struct key_spec tls_keys[TLS_N] = {
	[TLS_DIR] = { "dir", true },
	[TLS_ALLOW] = { "allow_identities", false },
};

/*
 * tls.dir as an absolute path. A relative one is taken from the directory of
 * the configuration file, not from the agent's working directory (which the
 * service manager chooses), so the file means the same wherever it is read.
 */
static int resolve_dir(const char *config_path, const char *dir,
		       char out[PATH_MAX])
{
	const char *slash = strrchr(config_path, '/');
	int base_len = slash ? (int)(slash - config_path) : 0;
	char cwd[PATH_MAX] = "";
	int len;

	if (dir[0] != '/' && config_path[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return -errno;
	if (dir[0] == '/')
		len = snprintf(out, PATH_MAX, "%s", dir);
	else	/* "/etc/spillway" "/" "certs", or cwd "/" "etc" "/" "certs" */
		len = snprintf(out, PATH_MAX, "%s%s%.*s/%s", cwd,
			       *cwd && base_len ? "/" : "", base_len,
			       config_path, dir);
	return len < PATH_MAX ? 0 : -ENAMETOOLONG;
}

/* A regular file we can open; O_NONBLOCK so a FIFO cannot hang us. */
static bool readable_file(const char *dir, const char *name)
{
	char path[PATH_MAX + 32];
	struct stat st;
	bool ok;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = !fstat(fd, &st) && S_ISREG(st.st_mode);
	close(fd);
	return ok;
}

static void check_cert_dir(struct parser *p, const yaml_node_t *n,
			   const char *field, const char *dir)
{
	struct stat st;
	int err = stat(dir, &st) ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;

	if (err) {
		problem(p, n, field, "%s cannot be used as a directory (%s); "
			"expected a directory holding root-cert.pem, "
			"cert-chain.pem and key.pem", dir, strerror(err));
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cert_files); i++) {
		if (!readable_file(dir, cert_files[i])) {
			problem(p, n, field, "%s has no readable %s; expected "
				"root-cert.pem, cert-chain.pem and key.pem there",
				dir, cert_files[i]);
			return;
		}
	}
}

static void parse_identities(struct parser *p, const yaml_node_t *n)
{
	const char *field = "tls.allow_identities";
	struct sw_config *cfg = p->cfg;
	const yaml_node_item_t *items;
	char f[FIELD_MAX];
	int count = list_items(p, n, field, &items);

	if (count <= 0)
		return;
	cfg->allow_identities = list_alloc(p, count, sizeof(*cfg->allow_identities));
	if (!cfg->allow_identities)
		return;
	cfg->n_allow_identities = count;
	for (int i = 0; i < count; i++) {
		const yaml_node_t *item = node(p, items[i]);
		const char *s = scalar(p, item, field_item(f, field, i));

		if (s && !is_identity(s))
			problem(p, item, f, "'%s' is not an identity; expected a "
				"SPIFFE URI (spiffe://TRUST-DOMAIN/PATH) or a DNS "
				"name, %d characters at most", show(p, s),
				SW_IDENTITY_MAX);
		else if (s)
			strcpy(cfg->allow_identities[i], s);
	}
}

static void parse_tls_dir(struct parser *p, const yaml_node_t *n)
{
	const char *dir = scalar(p, n, "tls.dir");
	int err;

	if (!dir)
		return;
	err = *dir ? resolve_dir(p->path, dir, p->cfg->tls_dir) : -ENOENT;
	if (err)
		problem(p, n, "tls.dir", "'%s' cannot be used (%s); expected "
			"the directory holding root-cert.pem, cert-chain.pem "
			"and key.pem", show(p, dir), strerror(-err));
	else
		check_cert_dir(p, n, "tls.dir", p->cfg->tls_dir);
}

static void parse_tls(struct parser *p, const yaml_node_t *n)
{
	yaml_node_t *v[TLS_N];

	if (!mapping_fields(p, n, "tls", tls_keys, TLS_N, v))
		return;
	p->cfg->has_tls = true;
	if (v[TLS_DIR])
		parse_tls_dir(p, v[TLS_DIR]);
	if (v[TLS_ALLOW])
		parse_identities(p, v[TLS_ALLOW]);
}

/* ------------------------------------------------------------------------ */
/* metrics: {listen: ADDRESS:PORT} */

enum { LISTEN_LISTEN, LISTEN_N };
static const struct key_spec listen_keys[LISTEN_N] = {
	[LISTEN_LISTEN] = { "listen", true },
};

static void parse_listen_section(struct parser *p, const yaml_node_t *n,
				 const char *field, bool *has,
				 struct sw_hostport *hp)
{
	yaml_node_t *v[LISTEN_N];
	char f[FIELD_MAX];

	if (!mapping_fields(p, n, field, listen_keys, LISTEN_N, v))
		return;
	*has = true;
	if (v[LISTEN_LISTEN])
		get_hostport(p, v[LISTEN_LISTEN], field_key(f, field, "listen"),
			     true, hp);
}

/* ------------------------------------------------------------------------ */
/* remotes */

enum {
	REMOTE_NAME, REMOTE_GATEWAY, REMOTE_CONNECT_TIMEOUT, REMOTE_KEEPALIVE,
	REMOTE_HEALTH, REMOTE_N
};
static const struct key_spec remote_keys[REMOTE_N] = {
	[REMOTE_NAME] = { "name", true },
	[REMOTE_GATEWAY] = { "gateway", true },
	[REMOTE_CONNECT_TIMEOUT] = { "connect_timeout", false },
	[REMOTE_KEEPALIVE] = { "keepalive", false },
	[REMOTE_HEALTH] = { "health", false },
};

enum { KEEPALIVE_TIME, KEEPALIVE_INTERVAL, KEEPALIVE_PROBES, KEEPALIVE_N };
static const struct key_spec keepalive_keys[KEEPALIVE_N] = {
	[KEEPALIVE_TIME] = { "time", false },
	[KEEPALIVE_INTERVAL] = { "interval", false },
	[KEEPALIVE_PROBES] = { "probes", false },
};

enum { HEALTH_INTERVAL, HEALTH_FAILURES, HEALTH_EJECTION_TIME, HEALTH_N };
static const struct key_spec health_keys[HEALTH_N] = {
	[HEALTH_INTERVAL] = { "interval", false },
	[HEALTH_FAILURES] = { "failures", false },
	[HEALTH_EJECTION_TIME] = { "ejection_time", false },
};

void sw_remote_defaults(struct sw_remote_config *r)
{
	r->connect_timeout_ns = SW_TUNNEL_HANDSHAKE_TIMEOUT_S * NS_PER_S;
	memset(&r->keepalive, 0, sizeof(r->keepalive));
	r->probe_interval_ns = SW_TUNNEL_PROBE_INTERVAL_S * NS_PER_S;
	r->probe_failures = SW_TUNNEL_PROBE_FALL;
	r->ejection_time_ns = 0;
}

/* keepalive.time, keepalive.interval: 0s (the kernel's) or whole seconds. */
static void get_keepalive_seconds(struct parser *p, const yaml_node_t *n,
				  const char *field, __u64 *ns)
{
	char max[48];

	if (!get_duration_in(p, n, field, 0, SW_KEEPALIVE_MAX_S * NS_PER_S, ns) ||
	    !(*ns % NS_PER_S))
		return;
	problem(p, n, field, "%s is not a whole number of seconds; expected "
		"whole seconds from 1s to %s (the kernel counts keepalive "
		"timers in seconds), or 0s for the kernel's default",
		show(p, (const char *)n->data.scalar.value),
		sw_duration_format(SW_KEEPALIVE_MAX_S * NS_PER_S, max, sizeof(max)));
}

static void parse_keepalive(struct parser *p, const yaml_node_t *n,
			    const char *field, struct sw_keepalive_config *k)
{
	yaml_node_t *v[KEEPALIVE_N];
	char f[FIELD_MAX];
	__u64 probes;

	if (!mapping_fields(p, n, field, keepalive_keys, KEEPALIVE_N, v))
		return;
	k->enabled = true;
	if (v[KEEPALIVE_TIME])
		get_keepalive_seconds(p, v[KEEPALIVE_TIME],
				      field_key(f, field, "time"), &k->time_ns);
	if (v[KEEPALIVE_INTERVAL])
		get_keepalive_seconds(p, v[KEEPALIVE_INTERVAL],
				      field_key(f, field, "interval"),
				      &k->interval_ns);
	if (v[KEEPALIVE_PROBES] &&
	    get_number(p, v[KEEPALIVE_PROBES], field_key(f, field, "probes"), 0,
		       SW_KEEPALIVE_MAX_PROBES, &probes))
		k->probes = probes;
}

static void parse_health(struct parser *p, const yaml_node_t *n,
			 const char *field, struct sw_remote_config *r)
{
	yaml_node_t *v[HEALTH_N];
	char f[FIELD_MAX];
	__u64 failures;

	if (!mapping_fields(p, n, field, health_keys, HEALTH_N, v))
		return;
	if (v[HEALTH_INTERVAL])
		get_duration_in(p, v[HEALTH_INTERVAL],
				field_key(f, field, "interval"),
				SW_PROBE_INTERVAL_MIN_NS, SW_PROBE_INTERVAL_MAX_NS,
				&r->probe_interval_ns);
	if (v[HEALTH_FAILURES] &&
	    get_number(p, v[HEALTH_FAILURES], field_key(f, field, "failures"),
		       1, SW_PROBE_FAILURES_MAX, &failures))
		r->probe_failures = failures;
	if (v[HEALTH_EJECTION_TIME])
		get_duration_in(p, v[HEALTH_EJECTION_TIME],
				field_key(f, field, "ejection_time"), 0,
				SW_EJECTION_TIME_MAX_NS, &r->ejection_time_ns);
}

static void parse_remote(struct parser *p, const yaml_node_t *n,
			 const char *field, int index,
			 struct sw_remote_config *r, struct unique *names)
{
	yaml_node_t *v[REMOTE_N];
	char f[FIELD_MAX];

	sw_remote_defaults(r);
	if (!mapping_fields(p, n, field, remote_keys, REMOTE_N, v))
		return;
	if (v[REMOTE_NAME] &&
	    get_label(p, v[REMOTE_NAME], field_key(f, field, "name"), r->name))
		unique_add(names, index, v[REMOTE_NAME], "%s", r->name);
	if (v[REMOTE_GATEWAY])
		get_hostport(p, v[REMOTE_GATEWAY], field_key(f, field, "gateway"),
			     false, &r->gateway);
	if (v[REMOTE_CONNECT_TIMEOUT])
		get_duration_in(p, v[REMOTE_CONNECT_TIMEOUT],
				field_key(f, field, "connect_timeout"),
				SW_CONNECT_TIMEOUT_MIN_NS, SW_CONNECT_TIMEOUT_MAX_NS,
				&r->connect_timeout_ns);
	if (v[REMOTE_KEEPALIVE])
		parse_keepalive(p, v[REMOTE_KEEPALIVE],
				field_key(f, field, "keepalive"), &r->keepalive);
	if (v[REMOTE_HEALTH])
		parse_health(p, v[REMOTE_HEALTH], field_key(f, field, "health"), r);
}

static void parse_remotes(struct parser *p, const yaml_node_t *n)
{
	struct unique names = {
		.list = "remotes", .sub = ".name",
		.expected = "each remote to have its own name",
	};
	struct sw_config *cfg = p->cfg;
	const yaml_node_item_t *items;
	char f[FIELD_MAX];
	int count = list_items(p, n, "remotes", &items);

	if (count <= 0 ||
	    !check_list_size(p, n, "remotes", count, CONFIG_MAX_REMOTES,
			     "the size of the datapath's remotes map"))
		return;
	cfg->remotes = list_alloc(p, count, sizeof(*cfg->remotes));
	unique_init(p, &names, count);
	if (cfg->remotes) {
		cfg->n_remotes = count;
		for (int i = 0; i < count; i++)
			parse_remote(p, node(p, items[i]),
				     field_item(f, "remotes", i), i,
				     &cfg->remotes[i], &names);
	}
	unique_check(p, &names);
}

/* ------------------------------------------------------------------------ */
/* services */

enum {
	SVC_NAME, SVC_VIP, SVC_PORT, SVC_PROTOCOL, SVC_MAX, SVC_RESUME,
	SVC_OVERFLOW, SVC_N
};
static const struct key_spec service_keys[SVC_N] = {
	[SVC_NAME] = { "name", true },
	[SVC_VIP] = { "vip", true },
	[SVC_PORT] = { "port", true },
	[SVC_PROTOCOL] = { "protocol", false },
	[SVC_MAX] = { "max_connections", true },
	[SVC_RESUME] = { "resume_below", false },
	[SVC_OVERFLOW] = { "overflow_to", false },
};

/* Remotes by name, in order of preference; they must exist. */
static void parse_overflow_to(struct parser *p, const yaml_node_t *n,
			      const char *field,
			      struct sw_service_config_entry *s)
{
	struct unique names = {
		.list = field, .sub = "", .expected = "each remote once",
	};
	const yaml_node_item_t *items;
	char f[FIELD_MAX];
	int count = list_items(p, n, field, &items);

	if (count <= 0 ||
	    !check_list_size(p, n, field, count, SW_MAX_OVERFLOW_REMOTES,
			     "remotes to try, in order of preference"))
		return;
	unique_init(p, &names, count);
	for (int i = 0; i < count; i++) {
		const yaml_node_t *item = node(p, items[i]);
		const char *name = scalar(p, item, field_item(f, field, i));

		if (!name)
			continue;
		if (!sw_config_remote(p->cfg, name)) {
			problem(p, item, f, "'%s' is not a remote; expected the "
				"name of one of the remotes", show(p, name));
			continue;
		}
		strcpy(s->overflow_to[i], name);
		unique_add(&names, i, item, "%s", name);
	}
	s->n_overflow_to = count;
	unique_check(p, &names);
}

static void parse_vip(struct parser *p, const yaml_node_t *n,
		      const char *field, struct sw_service_config_entry *s)
{
	const char *vip = scalar(p, n, field);
	__u8 addr[16], family;

	if (!vip)
		return;
	if (sw_addr_parse(vip, addr, &family)) {
		problem(p, n, field, "'%s' is not an IP address; expected an "
			"IPv4 or IPv6 address such as 10.96.0.10 or fd00::10",
			show(p, vip));
		return;
	}
	strcpy(s->vip, vip);
}

static void parse_protocol(struct parser *p, const yaml_node_t *n,
			   const char *field)
{
	const char *proto = scalar(p, n, field);

	if (proto && strcmp(proto, "tcp"))
		problem(p, n, field, "'%s' is not supported; expected tcp",
			show(p, proto));
}

/* Service names and VIP:port pairs must be unique across the list. */
struct service_uniques {
	struct unique names, keys;
};

static void parse_service(struct parser *p, const yaml_node_t *n,
			  const char *field, int index,
			  struct sw_service_config_entry *s,
			  struct service_uniques *u)
{
	char f[FIELD_MAX], addr[SW_ADDR_STRLEN];
	yaml_node_t *v[SVC_N];
	bool max_ok = false;
	__u16 port = 0;
	__u32 resume;

	if (!mapping_fields(p, n, field, service_keys, SVC_N, v))
		return;
	s->line = n->start_mark.line + 1;
	if (v[SVC_NAME] &&
	    get_dns_name(p, v[SVC_NAME], field_key(f, field, "name"), s->name))
		unique_add(&u->names, index, v[SVC_NAME], "%s", s->name);
	if (v[SVC_VIP])
		parse_vip(p, v[SVC_VIP], field_key(f, field, "vip"), s);
	if (v[SVC_PORT])
		get_port(p, v[SVC_PORT], field_key(f, field, "port"), &port);
	if (v[SVC_PROTOCOL])
		parse_protocol(p, v[SVC_PROTOCOL], field_key(f, field, "protocol"));
	if (v[SVC_MAX])
		max_ok = get_u32(p, v[SVC_MAX], field_key(f, field, "max_connections"),
				 &s->max_connections);
	s->resume_below = s->max_connections;
	if (v[SVC_RESUME] &&
	    get_u32(p, v[SVC_RESUME], field_key(f, field, "resume_below"), &resume)) {
		if (max_ok && resume > s->max_connections)
			problem(p, v[SVC_RESUME], f, "%u is more than "
				"max_connections (%u); expected a whole number "
				"from 1 to %u", resume, s->max_connections,
				s->max_connections);
		s->resume_below = resume;
	}
	if (v[SVC_OVERFLOW])
		parse_overflow_to(p, v[SVC_OVERFLOW],
				  field_key(f, field, "overflow_to"), s);
	if (s->vip[0] && port && !sw_service_key_make(&s->key, s->vip, port))
		unique_add(&u->keys, index, n, "vip %s port %u",
			   sw_addr_format(s->key.vip, s->key.family, addr), port);
}

static void parse_services(struct parser *p, const yaml_node_t *n)
{
	struct service_uniques u = {
		.names = { .list = "services", .sub = ".name",
			   .expected = "each service to have its own name" },
		.keys = { .list = "services", .sub = "",
			   .expected = "each service to have its own vip and port" },
	};
	struct sw_config *cfg = p->cfg;
	const yaml_node_item_t *items;
	char f[FIELD_MAX];
	int count = list_items(p, n, "services", &items);

	if (count <= 0 ||
	    !check_list_size(p, n, "services", count, SW_MAX_SERVICES,
			     "the size of the datapath's services map"))
		return;
	cfg->services = list_alloc(p, count, sizeof(*cfg->services));
	unique_init(p, &u.names, count);
	unique_init(p, &u.keys, count);
	if (cfg->services) {
		cfg->n_services = count;
		for (int i = 0; i < count; i++)
			parse_service(p, node(p, items[i]),
				      field_item(f, "services", i), i,
				      &cfg->services[i], &u);
	}
	unique_check(p, &u.names);
	unique_check(p, &u.keys);
}

/* ------------------------------------------------------------------------ */
/* exports */

enum { EXPORT_NAME, EXPORT_PORT, EXPORT_TARGET, EXPORT_N };
static const struct key_spec export_keys[EXPORT_N] = {
	[EXPORT_NAME] = { "name", true },
	[EXPORT_PORT] = { "port", true },
	[EXPORT_TARGET] = { "target", true },
};

static void parse_export(struct parser *p, const yaml_node_t *n,
			 const char *field, int index,
			 struct sw_export_config *x, struct unique *pairs)
{
	bool name_ok = false, port_ok = false;
	yaml_node_t *v[EXPORT_N];
	char f[FIELD_MAX];

	if (!mapping_fields(p, n, field, export_keys, EXPORT_N, v))
		return;
	if (v[EXPORT_NAME])
		name_ok = get_dns_name(p, v[EXPORT_NAME],
				       field_key(f, field, "name"), x->name);
	if (v[EXPORT_PORT])
		port_ok = get_port(p, v[EXPORT_PORT], field_key(f, field, "port"),
				   &x->port);
	if (v[EXPORT_TARGET])
		get_hostport(p, v[EXPORT_TARGET], field_key(f, field, "target"),
			     false, &x->target);
	if (name_ok && port_ok)
		unique_add(pairs, index, n, "%s port %u", x->name, x->port);
}

static void parse_exports(struct parser *p, const yaml_node_t *n)
{
	struct unique pairs = {
		.list = "exports", .sub = "",
		.expected = "each name and port exported once",
	};
	struct sw_config *cfg = p->cfg;
	const yaml_node_item_t *items;
	char f[FIELD_MAX];
	int count = list_items(p, n, "exports", &items);

	if (count <= 0)
		return;
	cfg->exports = list_alloc(p, count, sizeof(*cfg->exports));
	unique_init(p, &pairs, count);
	if (cfg->exports) {
		cfg->n_exports = count;
		for (int i = 0; i < count; i++)
			parse_export(p, node(p, items[i]),
				     field_item(f, "exports", i), i,
				     &cfg->exports[i], &pairs);
	}
	unique_check(p, &pairs);
}

/* ------------------------------------------------------------------------ */
/* datapath, agent: sections of plain settings, one table for parsing,
 * defaults and writing */

static const struct setting {
	const char *section;
	const char *name;
	bool duration;		/* else a whole number */
	size_t offset, size;	/* of the field in struct sw_config */
	__u64 max;		/* numbers only; every value is at least 1 */
	__u64 def;
} settings[] = {
#define FIELD(f) offsetof(struct sw_config, f), sizeof(((struct sw_config *)0)->f)
	{ "datapath", "flow_capacity", false, FIELD(flow_capacity),
	  CONFIG_MAX_FLOW_CAPACITY, SW_DEFAULT_FLOW_CAPACITY },
	{ "datapath", "tunnel_port", false, FIELD(tunnel_port), 65535,
	  SW_DEFAULT_TUNNEL_PORT },
	{ "datapath", "half_open_timeout", true, FIELD(half_open_timeout_ns), 0,
	  SW_DEFAULT_HALF_OPEN_TIMEOUT_S * NS_PER_S },
	{ "datapath", "idle_timeout", true, FIELD(idle_timeout_ns), 0,
	  SW_DEFAULT_IDLE_TIMEOUT_S * NS_PER_S },
	{ "datapath", "closed_linger", true, FIELD(closed_linger_ns), 0,
	  SW_DEFAULT_CLOSED_LINGER_S * NS_PER_S },
	{ "datapath", "collect_interval", true, FIELD(collect_interval_ns), 0,
	  SW_DEFAULT_COLLECT_INTERVAL_S * NS_PER_S },
	{ "agent", "drain_timeout", true, FIELD(drain_timeout_ns), 0,
	  SW_DRAIN_TIMEOUT_S * NS_PER_S },
	{ "tunnel", "max_streams_per_peer", false, FIELD(max_streams_per_peer),
	  SW_TUNNEL_MAX_STREAMS_PER_PEER_MAX, SW_TUNNEL_MAX_STREAMS_PER_PEER },
#undef FIELD
};

#define N_SETTINGS (int)ARRAY_SIZE(settings)

static void setting_set(struct sw_config *cfg, const struct setting *k, __u64 v)
{
	void *f = (char *)cfg + k->offset;

	if (k->size == sizeof(__u16))
		*(__u16 *)f = v;
	else if (k->size == sizeof(__u32))
		*(__u32 *)f = v;
	else
		*(__u64 *)f = v;
}

static __u64 setting_get(const struct sw_config *cfg, const struct setting *k)
{
	const void *f = (const char *)cfg + k->offset;

	if (k->size == sizeof(__u16))
		return *(const __u16 *)f;
	if (k->size == sizeof(__u32))
		return *(const __u32 *)f;
	return *(const __u64 *)f;
}

void sw_config_defaults(struct sw_config *cfg)
{
	for (int i = 0; i < N_SETTINGS; i++)
		setting_set(cfg, &settings[i], settings[i].def);
}

/* The settings of one section, in table order; their number. */
static int section_settings(const char *section, const struct setting **out)
{
	int n = 0;

	for (int i = 0; i < N_SETTINGS; i++)
		if (!strcmp(settings[i].section, section))
			out[n++] = &settings[i];
	return n;
}

/* The values of a section's settings (k, v: count of each), checked. */
static void get_settings(struct parser *p, const char *section,
			 const struct setting **k, yaml_node_t **v, int count)
{
	char f[FIELD_MAX];

	for (int i = 0; i < count; i++) {
		bool ok;
		__u64 val;

		if (!v[i])
			continue;
		field_key(f, section, k[i]->name);
		ok = k[i]->duration ? get_duration(p, v[i], f, &val) :
				      get_number(p, v[i], f, 1, k[i]->max, &val);
		if (ok)
			setting_set(p->cfg, k[i], val);
	}
}

/* A section's settings (k), as the optional keys of its mapping (spec). */
static int settings_spec(const char *section, const struct setting **k,
			 struct key_spec *spec)
{
	int count = section_settings(section, k);

	for (int i = 0; i < count; i++)
		spec[i] = (struct key_spec){ k[i]->name, false };
	return count;
}

static void parse_settings(struct parser *p, const yaml_node_t *n,
			   const char *section)
{
	const struct setting *k[N_SETTINGS];
	struct key_spec spec[N_SETTINGS];
	yaml_node_t *v[N_SETTINGS];
	int count = settings_spec(section, k, spec);

	if (mapping_fields(p, n, section, spec, count, v))
		get_settings(p, section, k, v, count);
}

/* tunnel: {listen: ADDRESS:PORT} and the tunnel's settings. */
static void parse_tunnel(struct parser *p, const yaml_node_t *n)
{
	const struct setting *k[N_SETTINGS];
	struct key_spec spec[N_SETTINGS + 1] = { { "listen", true } };
	yaml_node_t *v[N_SETTINGS + 1];
	int count = settings_spec("tunnel", k, spec + 1);

	if (!mapping_fields(p, n, "tunnel", spec, count + 1, v))
		return;
	p->cfg->has_tunnel = true;
	if (v[0])
		get_hostport(p, v[0], "tunnel.listen", true, &p->cfg->tunnel_listen);
	get_settings(p, "tunnel", k, v + 1, count);
}

/* ------------------------------------------------------------------------ */
/* The whole file */

enum {
	TOP_CLUSTER, TOP_INTERFACES, TOP_TLS, TOP_TUNNEL, TOP_REMOTES,
	TOP_SERVICES, TOP_EXPORTS, TOP_METRICS, TOP_DATAPATH, TOP_AGENT, TOP_N
};
static const struct key_spec top_keys[TOP_N] = {
	[TOP_CLUSTER] = { "cluster", true },
	[TOP_INTERFACES] = { "interfaces", false },
	[TOP_TLS] = { "tls", false },
	[TOP_TUNNEL] = { "tunnel", false },
	[TOP_REMOTES] = { "remotes", false },
	[TOP_SERVICES] = { "services", false },
	[TOP_EXPORTS] = { "exports", false },
	[TOP_METRICS] = { "metrics", false },
	[TOP_DATAPATH] = { "datapath", false },
	[TOP_AGENT] = { "agent", false },
};

static bool overflows_anywhere(const struct sw_config *cfg)
{
	for (int i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].n_overflow_to)
			return true;
	return false;
}

/*
 * Sections are parsed in the order they depend on each other (remotes before
 * the services that name them), whatever their order in the file: problems
 * are sorted by position anyway.
 */
static void parse_root(struct parser *p, const yaml_node_t *root)
{
	struct sw_config *cfg = p->cfg;
	yaml_node_t *v[TOP_N];
	char keys[KEY_LIST_MAX];

	sw_config_defaults(cfg);
	if (root->type != YAML_MAPPING_NODE) {
		problem(p, root, "", "the top level is %s; expected a mapping "
			"of %s", kind_name(root),
			key_list(keys, top_keys, TOP_N, false, " and "));
		return;
	}
	mapping_fields(p, root, "", top_keys, TOP_N, v);
	if (v[TOP_CLUSTER])
		parse_cluster(p, v[TOP_CLUSTER]);
	if (v[TOP_INTERFACES])
		parse_interfaces(p, v[TOP_INTERFACES]);
	if (v[TOP_TLS])
		parse_tls(p, v[TOP_TLS]);
	if (v[TOP_TUNNEL])
		parse_tunnel(p, v[TOP_TUNNEL]);
	if (v[TOP_METRICS])
		parse_listen_section(p, v[TOP_METRICS], "metrics",
				     &cfg->has_metrics, &cfg->metrics_listen);
	if (v[TOP_REMOTES])
		parse_remotes(p, v[TOP_REMOTES]);
	if (v[TOP_SERVICES])
		parse_services(p, v[TOP_SERVICES]);
	if (v[TOP_EXPORTS])
		parse_exports(p, v[TOP_EXPORTS]);
	if (v[TOP_DATAPATH])
		parse_settings(p, v[TOP_DATAPATH], "datapath");
	if (v[TOP_AGENT])
		parse_settings(p, v[TOP_AGENT], "agent");
	if (!v[TOP_TLS] && (cfg->n_remotes || overflows_anywhere(cfg)))
		problem(p, root, "", "missing required key 'tls': connections "
			"spilled to remotes go through a mutual TLS tunnel; "
			"expected a tls section with dir");
}

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

int sw_yaml_syntax_error(const char *path, int document,
			 const yaml_parser_t *y, const char *text, size_t len,
			 struct sw_error *e)
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

/*
 * Load the first document into p->doc; a second one is a problem (a stray
 * '---' would otherwise silently hide half the file).
 */
static int load_document(struct parser *p, const char *text, size_t len,
			 struct sw_error *e)
{
	yaml_document_t extra;
	yaml_parser_t y;
	yaml_node_t *root;
	int err = 0;

	if (!yaml_parser_initialize(&y))
		return sw_fail(e, -ENOMEM, "%s: out of memory", p->path);
	yaml_parser_set_input_string(&y, (const unsigned char *)text, len);
	if (!yaml_parser_load(&y, &p->doc)) {
		err = sw_yaml_syntax_error(p->path, 0, &y, text, len, e);
		goto out;
	}
	if (!yaml_parser_load(&y, &extra)) {
		err = sw_yaml_syntax_error(p->path, 0, &y, text, len, e);
		yaml_document_delete(&p->doc);
		goto out;
	}
	root = yaml_document_get_root_node(&extra);
	if (root)
		problem(p, root, "", "a second YAML document starts here; "
			"expected one configuration per file");
	yaml_document_delete(&extra);
out:
	yaml_parser_delete(&y);
	return err;
}

static int verdict(const struct parser *p, struct sw_error *e)
{
	int more = p->problems - 1;

	if (p->err)
		return sw_fail(e, p->err, "%s: out of memory parsing the "
			       "configuration", p->path);
	if (!p->problems)
		return 0;
	if (!more)
		return sw_fail(e, -EINVAL, "%s", p->first);
	return sw_fail(e, -EINVAL, "%s (and %d more problem%s)", p->first,
		       more, more == 1 ? "" : "s");
}

int sw_config_parse(const char *path, const char *text, size_t len,
		    struct sw_config *cfg, struct sw_error *e)
{
	struct parser p = { .path = path ? path : "(config)", .cfg = cfg };
	yaml_node_t *root;
	int err;

	memset(cfg, 0, sizeof(*cfg));
	err = load_document(&p, text, len, e);
	if (err)
		return err;
	root = yaml_document_get_root_node(&p.doc);
	if (root) {
		parse_root(&p, root);
	} else {
		/* Nothing but comments or blanks: there is no node to point at. */
		problem(&p, &(yaml_node_t){ .type = YAML_NO_NODE }, "",
			"the file is empty; expected a mapping with at least "
			"'cluster'");
	}
	yaml_document_delete(&p.doc);
	err = verdict(&p, e);
	if (err) {
		sw_config_free(cfg);
		return err;
	}
	snprintf(cfg->path, sizeof(cfg->path), "%s", p.path);
	return 0;
}

/* Read a whole file, refusing more than CONFIG_MAX_BYTES. */
int sw_config_read(const char *path, char **text, size_t *len,
		     struct sw_error *e)
{
	size_t cap = 0, n = 0;
	char *buf = NULL;
	ssize_t r;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sw_fail(e, -errno, "%s: cannot open the configuration: "
			       "%s; expected a readable YAML file", path,
			       strerror(errno));
	do {
		if (n == cap) {
			char *grown;

			cap = cap ? cap * 2 : 64 * 1024;
			grown = realloc(buf, cap);
			if (!grown) {
				err = sw_fail(e, -ENOMEM, "%s: out of memory", path);
				break;
			}
			buf = grown;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno != EINTR) {
			err = sw_fail(e, -errno, "%s: cannot read the "
				      "configuration: %s; expected a readable "
				      "YAML file", path, strerror(errno));
			break;
		}
		n += r > 0 ? r : 0;
		if (n > CONFIG_MAX_BYTES) {
			err = sw_fail(e, -EFBIG, "%s: the configuration is larger "
				      "than %u MiB; expected a smaller file (is "
				      "this the right file?)", path,
				      CONFIG_MAX_BYTES >> 20);
			break;
		}
	} while (r != 0);
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	*text = buf;
	*len = n;
	return 0;
}

int sw_config_load(const char *path, struct sw_config *cfg, struct sw_error *e)
{
	char *text;
	size_t len;
	int err;

	memset(cfg, 0, sizeof(*cfg));
	err = sw_config_read(path, &text, &len, e);
	if (err)
		return err;
	err = sw_config_parse(path, text, len, cfg, e);
	free(text);
	return err;
}

void sw_config_free(struct sw_config *cfg)
{
	free(cfg->interfaces);
	free(cfg->allow_identities);
	free(cfg->remotes);
	free(cfg->services);
	free(cfg->exports);
	memset(cfg, 0, sizeof(*cfg));
}

const struct sw_remote_config *sw_config_remote(const struct sw_config *cfg,
						const char *name)
{
	for (int i = 0; i < cfg->n_remotes; i++)
		if (!strcmp(cfg->remotes[i].name, name))
			return &cfg->remotes[i];
	return NULL;
}

const struct sw_service_config_entry *
sw_config_service(const struct sw_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_services; i++)
		if (!strcmp(cfg->services[i].name, name))
			return &cfg->services[i];
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Writing: libyaml's emitter, so any path or identity is quoted right */

struct writer {
	yaml_emitter_t em;
	int err;
};

/* initialized: what yaml_*_event_initialize returned (0: bad UTF-8 or memory) */
static void emit(struct writer *w, yaml_event_t *ev, int initialized)
{
	if (!initialized) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	if (w->err) {
		yaml_event_delete(ev);
		return;
	}
	/* The emitter owns the event from here, even when it fails. */
	if (!yaml_emitter_emit(&w->em, ev))
		w->err = w->em.error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
}

static void w_str(struct writer *w, const char *s)
{
	yaml_event_t ev;

	/* A plain "null" or "~" would read back as no value: quote those. */
	emit(w, &ev, yaml_scalar_event_initialize(&ev, NULL, NULL,
			(yaml_char_t *)s, strlen(s), !is_null_text(s), 1,
			YAML_ANY_SCALAR_STYLE));
}

static void w_u64(struct writer *w, __u64 v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	w_str(w, buf);
}

static void w_map(struct writer *w)
{
	yaml_event_t ev;

	emit(w, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
			YAML_BLOCK_MAPPING_STYLE));
}

static void w_list(struct writer *w, bool flow)
{
	yaml_event_t ev;

	emit(w, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
			flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE));
}

static void w_map_end(struct writer *w)
{
	yaml_event_t ev;

	emit(w, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void w_list_end(struct writer *w)
{
	yaml_event_t ev;

	emit(w, &ev, yaml_sequence_end_event_initialize(&ev));
}

static void w_key_str(struct writer *w, const char *key, const char *s)
{
	w_str(w, key);
	w_str(w, s);
}

static void w_key_u64(struct writer *w, const char *key, __u64 v)
{
	w_str(w, key);
	w_u64(w, v);
}

static void w_key_duration(struct writer *w, const char *key, __u64 ns)
{
	char buf[48];

	w_key_str(w, key, sw_duration_format(ns, buf, sizeof(buf)));
}

static void w_key_hostport(struct writer *w, const char *key,
			   const struct sw_hostport *hp)
{
	char buf[SW_NAME_MAX + 16];

	w_key_str(w, key, sw_hostport_format(hp, buf, sizeof(buf)));
}

static void w_listen_section(struct writer *w, const char *key,
			     const struct sw_hostport *hp)
{
	w_str(w, key);
	w_map(w);
	w_key_hostport(w, "listen", hp);
	w_map_end(w);
}

static void write_interfaces(struct writer *w, const struct sw_config *cfg)
{
	w_str(w, "interfaces");
	w_list(w, false);
	for (int i = 0; i < cfg->n_interfaces; i++) {
		w_map(w);
		w_key_str(w, "name", cfg->interfaces[i].name);
		w_key_str(w, "attach", sw_attach_mode_name(cfg->interfaces[i].attach));
		w_map_end(w);
	}
	w_list_end(w);
}

static void write_tls(struct writer *w, const struct sw_config *cfg)
{
	w_str(w, "tls");
	w_map(w);
	w_key_str(w, "dir", cfg->tls_dir);
	w_str(w, "allow_identities");
	w_list(w, false);
	for (int i = 0; i < cfg->n_allow_identities; i++)
		w_str(w, cfg->allow_identities[i]);
	w_list_end(w);
	w_map_end(w);
}

/* Only what is set: a timer left out is the kernel's. */
static void write_keepalive(struct writer *w, const struct sw_keepalive_config *k)
{
	w_str(w, "keepalive");
	w_map(w);
	if (k->time_ns)
		w_key_duration(w, "time", k->time_ns);
	if (k->interval_ns)
		w_key_duration(w, "interval", k->interval_ns);
	if (k->probes)
		w_key_u64(w, "probes", k->probes);
	w_map_end(w);
}

static void write_remote(struct writer *w, const struct sw_remote_config *r)
{
	w_map(w);
	w_key_str(w, "name", r->name);
	w_key_hostport(w, "gateway", &r->gateway);
	w_key_duration(w, "connect_timeout", r->connect_timeout_ns);
	if (r->keepalive.enabled)
		write_keepalive(w, &r->keepalive);
	w_str(w, "health");
	w_map(w);
	w_key_duration(w, "interval", r->probe_interval_ns);
	w_key_u64(w, "failures", r->probe_failures);
	w_key_duration(w, "ejection_time", r->ejection_time_ns);
	w_map_end(w);
	w_map_end(w);
}

static void write_remotes(struct writer *w, const struct sw_config *cfg)
{
	w_str(w, "remotes");
	w_list(w, false);
	for (int i = 0; i < cfg->n_remotes; i++)
		write_remote(w, &cfg->remotes[i]);
	w_list_end(w);
}

static void write_service(struct writer *w,
			  const struct sw_service_config_entry *s)
{
	w_map(w);
	w_key_str(w, "name", s->name);
	w_key_str(w, "vip", s->vip);
	w_key_u64(w, "port", s->key.port);
	w_key_str(w, "protocol", "tcp");
	w_key_u64(w, "max_connections", s->max_connections);
	w_key_u64(w, "resume_below", s->resume_below);
	w_str(w, "overflow_to");
	w_list(w, true);
	for (int i = 0; i < s->n_overflow_to; i++)
		w_str(w, s->overflow_to[i]);
	w_list_end(w);
	w_map_end(w);
}

static void write_services(struct writer *w, const struct sw_config *cfg)
{
	w_str(w, "services");
	w_list(w, false);
	for (int i = 0; i < cfg->n_services; i++)
		write_service(w, &cfg->services[i]);
	w_list_end(w);
}

static void write_exports(struct writer *w, const struct sw_config *cfg)
{
	w_str(w, "exports");
	w_list(w, false);
	for (int i = 0; i < cfg->n_exports; i++) {
		w_map(w);
		w_key_str(w, "name", cfg->exports[i].name);
		w_key_u64(w, "port", cfg->exports[i].port);
		w_key_hostport(w, "target", &cfg->exports[i].target);
		w_map_end(w);
	}
	w_list_end(w);
}

/* The section's settings, as keys of the open mapping. */
static void w_settings(struct writer *w, const struct sw_config *cfg,
		       const char *section)
{
	const struct setting *k[N_SETTINGS];
	int count = section_settings(section, k);

	for (int i = 0; i < count; i++) {
		__u64 v = setting_get(cfg, k[i]);

		if (k[i]->duration)
			w_key_duration(w, k[i]->name, v);
		else
			w_key_u64(w, k[i]->name, v);
	}
}

static void write_settings(struct writer *w, const struct sw_config *cfg,
			   const char *section)
{
	w_str(w, section);
	w_map(w);
	w_settings(w, cfg, section);
	w_map_end(w);
}

static void write_tunnel(struct writer *w, const struct sw_config *cfg)
{
	w_str(w, "tunnel");
	w_map(w);
	w_key_hostport(w, "listen", &cfg->tunnel_listen);
	w_settings(w, cfg, "tunnel");
	w_map_end(w);
}

static void write_config(struct writer *w, const struct sw_config *cfg)
{
	w_key_str(w, "cluster", cfg->cluster);
	write_interfaces(w, cfg);
	if (cfg->has_tls)
		write_tls(w, cfg);
	if (cfg->has_tunnel)
		write_tunnel(w, cfg);
	write_remotes(w, cfg);
	write_services(w, cfg);
	write_exports(w, cfg);
	if (cfg->has_metrics)
		w_listen_section(w, "metrics", &cfg->metrics_listen);
	write_settings(w, cfg, "datapath");
	write_settings(w, cfg, "agent");
}

int sw_config_write(const struct sw_config *cfg, FILE *out)
{
	struct writer w = { .err = 0 };
	yaml_event_t ev;

	if (!yaml_emitter_initialize(&w.em))
		return -ENOMEM;
	yaml_emitter_set_output_file(&w.em, out);
	yaml_emitter_set_unicode(&w.em, 1);
	yaml_emitter_set_width(&w.em, -1);
	emit(&w, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	emit(&w, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	w_map(&w);
	write_config(&w, cfg);
	w_map_end(&w);
	emit(&w, &ev, yaml_document_end_event_initialize(&ev, 1));
	emit(&w, &ev, yaml_stream_end_event_initialize(&ev));
	yaml_emitter_delete(&w.em);
	if (!w.err && (fflush(out) || ferror(out)))
		w.err = -EIO;
	return w.err;
}
