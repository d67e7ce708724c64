// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The agent's configuration file: one YAML document (config/yaml.h loads it
 * and reads its values), walked by the schema below. Every problem is
 * reported against the node it is about and the walk goes on, so that the
 * one reported is the first in the file, followed by how many more there
 * are: a user fixes the file top-down.
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
#include "datapath/control.h"
#include "config/config.h"
#include "config/yaml.h"

/* Far above any real configuration; a larger file is a mistake. */
#define CONFIG_MAX_BYTES (4u << 20)

/* The flows map is preallocated: 2^27 entries already take gigabytes. */
#define CONFIG_MAX_FLOW_CAPACITY (1u << 27)

/* Remote id 0 means "none" in the datapath's remotes map. */
#define CONFIG_MAX_REMOTES (SW_MAX_REMOTES - 1)

static const char *const cert_files[] = {
	"root-cert.pem", "cert-chain.pem", "key.pem",
};

struct parser {
	struct sw_yaml y;		/* the file's document */
	struct sw_yaml_report report;
	struct sw_config *cfg;
	int err;			/* -ENOMEM: nothing else is reliable */
};

static void out_of_memory(struct parser *p)
{
	p->err = -ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* Lists */

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
	sw_yaml_error(&p->y, n, field, "%d entries; expected at most %d (%s)",
		      count, max, why);
	return false;
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
	char field[SW_FIELD_MAX];
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
		sw_yaml_error(&p->y, b->node, field, "%s is already used by "
			      "%s[%d] (line %zu); expected %s",
			      sw_yaml_show(&p->y, b->text), u->list, a->index,
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
/* cluster, interfaces */

static void parse_cluster(struct parser *p, const yaml_node_t *n)
{
	sw_yaml_label(&p->y, n, "cluster", p->cfg->cluster);
}

enum { IF_NAME, IF_ATTACH, IF_N };
static const struct sw_yaml_key iface_keys[IF_N] = {
	[IF_NAME] = { "name", true },
	[IF_ATTACH] = { "attach", false },
};

static void parse_attach(struct parser *p, const yaml_node_t *n,
			 const char *field, enum sw_attach_mode *mode)
{
	const char *s = sw_yaml_text(&p->y, n, field);

	if (s && sw_attach_mode_parse(s, mode))
		sw_yaml_error(&p->y, n, field, "'%s' is not an attach mode; "
			      "expected tc or xdp", sw_yaml_show(&p->y, s));
}

/* "eth0", or {name: eth0, attach: xdp}. */
static void parse_interface(struct parser *p, const yaml_node_t *n,
			    const char *field, struct sw_iface_config *iface,
			    struct unique *names, int index)
{
	const yaml_node_t *name_node = n;
	const yaml_node_t *v[IF_N] = { NULL };
	char f[SW_FIELD_MAX];
	const char *s;

	iface->attach = SW_ATTACH_TC;
	if (n->type == YAML_MAPPING_NODE) {
		sw_yaml_mapping(&p->y, n, field, iface_keys, IF_N, NULL, v);
		if (v[IF_ATTACH])
			parse_attach(p, v[IF_ATTACH],
				     sw_field_key(f, field, "attach"),
				     &iface->attach);
		name_node = v[IF_NAME];
		field = sw_field_key(f, field, "name");
	}
	s = name_node ? sw_yaml_text(&p->y, name_node, field) : NULL;
	if (!s)
		return;
	if (!is_ifname(s)) {
		sw_yaml_error(&p->y, name_node, field, "'%s' is not an "
			      "interface name; expected 1 to %d characters, "
			      "none of them '/', ':' or whitespace",
			      sw_yaml_show(&p->y, s), IFNAMSIZ - 1);
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
	char f[SW_FIELD_MAX];
	int count = sw_yaml_list(&p->y, n, "interfaces", &items);

	if (count <= 0)
		return;
	cfg->interfaces = list_alloc(p, count, sizeof(*cfg->interfaces));
	unique_init(p, &names, count);
	if (cfg->interfaces) {
		cfg->n_interfaces = count;
		for (int i = 0; i < count; i++)
			parse_interface(p, sw_yaml_node(&p->y, items[i]),
					sw_field_item(f, "interfaces", i),
					&cfg->interfaces[i], &names, i);
	}
	unique_check(p, &names);
}

/* ------------------------------------------------------------------------ */
/* tls */

enum { TLS_DIR, TLS_ALLOW, TLS_N };
static const struct sw_yaml_key tls_keys[TLS_N] = {
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
		sw_yaml_error(&p->y, n, field, "%s cannot be used as a "
			      "directory (%s); expected a directory holding "
			      "root-cert.pem, cert-chain.pem and key.pem", dir,
			      strerror(err));
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cert_files); i++) {
		if (!readable_file(dir, cert_files[i])) {
			sw_yaml_error(&p->y, n, field, "%s has no readable %s; "
				      "expected root-cert.pem, cert-chain.pem "
				      "and key.pem there", dir, cert_files[i]);
			return;
		}
	}
}

static void parse_identities(struct parser *p, const yaml_node_t *n)
{
	const char *field = "tls.allow_identities";
	struct sw_config *cfg = p->cfg;
	const yaml_node_item_t *items;
	char f[SW_FIELD_MAX];
	int count = sw_yaml_list(&p->y, n, field, &items);

	if (count <= 0)
		return;
	cfg->allow_identities = list_alloc(p, count, sizeof(*cfg->allow_identities));
	if (!cfg->allow_identities)
		return;
	cfg->n_allow_identities = count;
	for (int i = 0; i < count; i++) {
		const yaml_node_t *item = sw_yaml_node(&p->y, items[i]);
		const char *s = sw_yaml_text(&p->y, item,
					     sw_field_item(f, field, i));

		if (s && !is_identity(s))
			sw_yaml_error(&p->y, item, f, "'%s' is not an "
				      "identity; expected a SPIFFE URI "
				      "(spiffe://TRUST-DOMAIN/PATH) or a DNS "
				      "name, %d characters at most",
				      sw_yaml_show(&p->y, s), SW_IDENTITY_MAX);
		else if (s)
			strcpy(cfg->allow_identities[i], s);
	}
}

static void parse_tls_dir(struct parser *p, const yaml_node_t *n)
{
	const char *dir = sw_yaml_text(&p->y, n, "tls.dir");
	int err;

	if (!dir)
		return;
	err = *dir ? resolve_dir(p->y.path, dir, p->cfg->tls_dir) : -ENOENT;
	if (err)
		sw_yaml_error(&p->y, n, "tls.dir", "'%s' cannot be used (%s); "
			      "expected the directory holding root-cert.pem, "
			      "cert-chain.pem and key.pem",
			      sw_yaml_show(&p->y, dir), strerror(-err));
	else
		check_cert_dir(p, n, "tls.dir", p->cfg->tls_dir);
}

static void parse_tls(struct parser *p, const yaml_node_t *n)
{
	const yaml_node_t *v[TLS_N];

	if (sw_yaml_mapping(&p->y, n, "tls", tls_keys, TLS_N, NULL, v) < 0)
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
static const struct sw_yaml_key listen_keys[LISTEN_N] = {
	[LISTEN_LISTEN] = { "listen", true },
};

static void parse_listen_section(struct parser *p, const yaml_node_t *n,
				 const char *field, bool *has,
				 struct sw_hostport *hp)
{
	const yaml_node_t *v[LISTEN_N];
	char f[SW_FIELD_MAX];

	if (sw_yaml_mapping(&p->y, n, field, listen_keys, LISTEN_N, NULL, v) < 0)
		return;
	*has = true;
	if (v[LISTEN_LISTEN])
		sw_yaml_hostport(&p->y, v[LISTEN_LISTEN],
				 sw_field_key(f, field, "listen"), true, hp);
}

/* ------------------------------------------------------------------------ */
/* remotes */

enum {
	REMOTE_NAME, REMOTE_GATEWAY, REMOTE_CONNECT_TIMEOUT, REMOTE_KEEPALIVE,
	REMOTE_HEALTH, REMOTE_N
};
static const struct sw_yaml_key remote_keys[REMOTE_N] = {
	[REMOTE_NAME] = { "name", true },
	[REMOTE_GATEWAY] = { "gateway", true },
	[REMOTE_CONNECT_TIMEOUT] = { "connect_timeout", false },
	[REMOTE_KEEPALIVE] = { "keepalive", false },
	[REMOTE_HEALTH] = { "health", false },
};

enum { KEEPALIVE_TIME, KEEPALIVE_INTERVAL, KEEPALIVE_PROBES, KEEPALIVE_N };
static const struct sw_yaml_key keepalive_keys[KEEPALIVE_N] = {
	[KEEPALIVE_TIME] = { "time", false },
	[KEEPALIVE_INTERVAL] = { "interval", false },
	[KEEPALIVE_PROBES] = { "probes", false },
};

enum { HEALTH_INTERVAL, HEALTH_FAILURES, HEALTH_EJECTION_TIME, HEALTH_N };
static const struct sw_yaml_key health_keys[HEALTH_N] = {
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

	if (sw_yaml_duration(&p->y, n, field, 0, SW_KEEPALIVE_MAX_S * NS_PER_S,
			     NULL, ns) || !(*ns % NS_PER_S))
		return;
	sw_yaml_error(&p->y, n, field, "%s is not a whole number of seconds; "
		      "expected whole seconds from 1s to %s (the kernel counts "
		      "keepalive timers in seconds), or 0s for the kernel's "
		      "default",
		      sw_yaml_show(&p->y, (const char *)n->data.scalar.value),
		      sw_duration_format(SW_KEEPALIVE_MAX_S * NS_PER_S, max,
		      sizeof(max)));
}

static void parse_keepalive(struct parser *p, const yaml_node_t *n,
			    const char *field, struct sw_keepalive_config *k)
{
	const yaml_node_t *v[KEEPALIVE_N];
	char f[SW_FIELD_MAX];

	if (sw_yaml_mapping(&p->y, n, field, keepalive_keys, KEEPALIVE_N, NULL,
			    v) < 0)
		return;
	k->enabled = true;
	if (v[KEEPALIVE_TIME])
		get_keepalive_seconds(p, v[KEEPALIVE_TIME],
				      sw_field_key(f, field, "time"),
				      &k->time_ns);
	if (v[KEEPALIVE_INTERVAL])
		get_keepalive_seconds(p, v[KEEPALIVE_INTERVAL],
				      sw_field_key(f, field, "interval"),
				      &k->interval_ns);
	if (v[KEEPALIVE_PROBES])
		sw_yaml_u32(&p->y, v[KEEPALIVE_PROBES],
			    sw_field_key(f, field, "probes"), 0,
			    SW_KEEPALIVE_MAX_PROBES, &k->probes);
}

static void parse_health(struct parser *p, const yaml_node_t *n,
			 const char *field, struct sw_remote_config *r)
{
	const yaml_node_t *v[HEALTH_N];
	char f[SW_FIELD_MAX];

	if (sw_yaml_mapping(&p->y, n, field, health_keys, HEALTH_N, NULL, v) < 0)
		return;
	if (v[HEALTH_INTERVAL])
		sw_yaml_duration(&p->y, v[HEALTH_INTERVAL],
				 sw_field_key(f, field, "interval"),
				 SW_PROBE_INTERVAL_MIN_NS,
				 SW_PROBE_INTERVAL_MAX_NS, NULL,
				 &r->probe_interval_ns);
	if (v[HEALTH_FAILURES])
		sw_yaml_u32(&p->y, v[HEALTH_FAILURES],
			    sw_field_key(f, field, "failures"), 1,
			    SW_PROBE_FAILURES_MAX, &r->probe_failures);
	if (v[HEALTH_EJECTION_TIME])
		sw_yaml_duration(&p->y, v[HEALTH_EJECTION_TIME],
				 sw_field_key(f, field, "ejection_time"), 0,
				 SW_EJECTION_TIME_MAX_NS, NULL,
				 &r->ejection_time_ns);
}

static void parse_remote(struct parser *p, const yaml_node_t *n,
			 const char *field, int index,
			 struct sw_remote_config *r, struct unique *names)
{
	const yaml_node_t *v[REMOTE_N];
	char f[SW_FIELD_MAX];

	sw_remote_defaults(r);
	if (sw_yaml_mapping(&p->y, n, field, remote_keys, REMOTE_N, NULL, v) < 0)
		return;
	if (v[REMOTE_NAME] &&
	    !sw_yaml_label(&p->y, v[REMOTE_NAME],
			   sw_field_key(f, field, "name"), r->name))
		unique_add(names, index, v[REMOTE_NAME], "%s", r->name);
	if (v[REMOTE_GATEWAY])
		sw_yaml_hostport(&p->y, v[REMOTE_GATEWAY],
				 sw_field_key(f, field, "gateway"), false,
				 &r->gateway);
	if (v[REMOTE_CONNECT_TIMEOUT])
		sw_yaml_duration(&p->y, v[REMOTE_CONNECT_TIMEOUT],
				 sw_field_key(f, field, "connect_timeout"),
				 SW_CONNECT_TIMEOUT_MIN_NS,
				 SW_CONNECT_TIMEOUT_MAX_NS, NULL,
				 &r->connect_timeout_ns);
	if (v[REMOTE_KEEPALIVE])
		parse_keepalive(p, v[REMOTE_KEEPALIVE],
				sw_field_key(f, field, "keepalive"),
				&r->keepalive);
	if (v[REMOTE_HEALTH])
		parse_health(p, v[REMOTE_HEALTH],
			     sw_field_key(f, field, "health"), r);
}

static void parse_remotes(struct parser *p, const yaml_node_t *n)
{
	struct unique names = {
		.list = "remotes", .sub = ".name",
		.expected = "each remote to have its own name",
	};
	struct sw_config *cfg = p->cfg;
	const yaml_node_item_t *items;
	char f[SW_FIELD_MAX];
	int count = sw_yaml_list(&p->y, n, "remotes", &items);

	if (count <= 0 ||
	    !check_list_size(p, n, "remotes", count, CONFIG_MAX_REMOTES,
			     "the size of the datapath's remotes map"))
		return;
	cfg->remotes = list_alloc(p, count, sizeof(*cfg->remotes));
	unique_init(p, &names, count);
	if (cfg->remotes) {
		cfg->n_remotes = count;
		for (int i = 0; i < count; i++)
			parse_remote(p, sw_yaml_node(&p->y, items[i]),
				     sw_field_item(f, "remotes", i), i,
				     &cfg->remotes[i], &names);
	}
	unique_check(p, &names);
}

/* ------------------------------------------------------------------------ */
/* services */

enum {
	SVC_NAME, SVC_VIP, SVC_NODE_PORT, SVC_PORT, SVC_PROTOCOL, SVC_MAX,
	SVC_RESUME, SVC_OVERFLOW, SVC_N
};
static const struct sw_yaml_key service_keys[SVC_N] = {
	[SVC_NAME] = { "name", true },
	[SVC_VIP] = { "vip", false },	/* none: the name's addresses */
	[SVC_NODE_PORT] = { "node_port", false }, /* on the node's addresses */
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
	char f[SW_FIELD_MAX];
	int count = sw_yaml_list(&p->y, n, field, &items);

	if (count <= 0 ||
	    !check_list_size(p, n, field, count, SW_MAX_OVERFLOW_REMOTES,
			     "remotes to try, in order of preference"))
		return;
	unique_init(p, &names, count);
	for (int i = 0; i < count; i++) {
		const yaml_node_t *item = sw_yaml_node(&p->y, items[i]);
		const char *name = sw_yaml_text(&p->y, item,
						sw_field_item(f, field, i));

		if (!name)
			continue;
		if (!sw_config_remote(p->cfg, name)) {
			sw_yaml_error(&p->y, item, f, "'%s' is not a remote; "
				      "expected the name of one of the remotes",
				      sw_yaml_show(&p->y, name));
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
	const char *vip = sw_yaml_text(&p->y, n, field);
	__u8 addr[16], family;

	if (!vip)
		return;
	if (sw_addr_parse(vip, addr, &family)) {
		sw_yaml_error(&p->y, n, field, "'%s' is not an IP address; "
			      "expected an IPv4 or IPv6 address such as "
			      "10.96.0.10 or fd00::10",
			      sw_yaml_show(&p->y, vip));
		return;
	}
	strcpy(s->vip, vip);
}

static void parse_protocol(struct parser *p, const yaml_node_t *n,
			   const char *field)
{
	const char *proto = sw_yaml_text(&p->y, n, field);

	if (proto && strcmp(proto, "tcp"))
		sw_yaml_error(&p->y, n, field, "'%s' is not supported; "
			      "expected tcp", sw_yaml_show(&p->y, proto));
}

/* Service names, VIP:port pairs and node ports: unique across the list. */
struct service_uniques {
	struct unique names, keys, node_ports;
};

static void parse_service(struct parser *p, const yaml_node_t *n,
			  const char *field, int index,
			  struct sw_service_config_entry *s,
			  struct service_uniques *u)
{
	char f[SW_FIELD_MAX], addr[SW_ADDR_STRLEN];
	const yaml_node_t *v[SVC_N];
	struct sw_error e;
	bool max_ok = false;
	__u16 port = 0;

	if (sw_yaml_mapping(&p->y, n, field, service_keys, SVC_N, NULL, v) < 0)
		return;
	s->line = n->start_mark.line + 1;
	if (v[SVC_NAME] &&
	    !sw_yaml_dns_name(&p->y, v[SVC_NAME],
			      sw_field_key(f, field, "name"), s->name))
		unique_add(&u->names, index, v[SVC_NAME], "%s", s->name);
	if (v[SVC_VIP])
		parse_vip(p, v[SVC_VIP], sw_field_key(f, field, "vip"), s);
	if (v[SVC_NODE_PORT] &&
	    !sw_yaml_port(&p->y, v[SVC_NODE_PORT],
			  sw_field_key(f, field, "node_port"), &s->node_port))
		unique_add(&u->node_ports, index, v[SVC_NODE_PORT], "node_port %u",
			   s->node_port);
	if (v[SVC_PORT])
		sw_yaml_port(&p->y, v[SVC_PORT], sw_field_key(f, field, "port"),
			     &port);
	if (v[SVC_PROTOCOL])
		parse_protocol(p, v[SVC_PROTOCOL],
			       sw_field_key(f, field, "protocol"));
	if (v[SVC_MAX])
		max_ok = !sw_yaml_u32(&p->y, v[SVC_MAX],
				      sw_field_key(f, field, "max_connections"),
				      1, UINT32_MAX, &s->max_connections);
	if (v[SVC_RESUME])
		sw_yaml_u32(&p->y, v[SVC_RESUME],
			    sw_field_key(f, field, "resume_below"), 1,
			    UINT32_MAX, &s->resume_below);
	/* Only a written resume_below can be wrong; v[SVC_RESUME], f name it. */
	if (max_ok && sw_service_resume_below(s->max_connections,
					      &s->resume_below,
					      "max_connections", &e))
		sw_yaml_error(&p->y, v[SVC_RESUME], f, "%s", e.msg);
	if (v[SVC_OVERFLOW])
		parse_overflow_to(p, v[SVC_OVERFLOW],
				  sw_field_key(f, field, "overflow_to"), s);
	if (s->vip[0] && port && !sw_service_key_make(&s->key, s->vip, port))
		unique_add(&u->keys, index, n, "vip %s port %u",
			   sw_addr_format(s->key.vip, s->key.family, addr), port);
	s->key.port = port;	/* without a vip: the VIPs come from the name */
	s->key.proto = IPPROTO_TCP;
	s->port = port;
}

static void parse_services(struct parser *p, const yaml_node_t *n)
{
	struct service_uniques u = {
		.names = { .list = "services", .sub = ".name",
			   .expected = "each service to have its own name" },
		.keys = { .list = "services", .sub = "",
			   .expected = "each service to have its own vip and port" },
		.node_ports = { .list = "services", .sub = ".node_port",
			   .expected = "each service to have its own node_port" },
	};
	struct sw_config *cfg = p->cfg;
	const yaml_node_item_t *items;
	char f[SW_FIELD_MAX];
	int count = sw_yaml_list(&p->y, n, "services", &items);

	if (count <= 0 ||
	    !check_list_size(p, n, "services", count, SW_MAX_SERVICES,
			     "the size of the datapath's services map"))
		return;
	cfg->services = list_alloc(p, count, sizeof(*cfg->services));
	unique_init(p, &u.names, count);
	unique_init(p, &u.keys, count);
	unique_init(p, &u.node_ports, count);
	if (cfg->services) {
		cfg->n_services = count;
		for (int i = 0; i < count; i++)
			parse_service(p, sw_yaml_node(&p->y, items[i]),
				      sw_field_item(f, "services", i), i,
				      &cfg->services[i], &u);
	}
	unique_check(p, &u.names);
	unique_check(p, &u.keys);
	unique_check(p, &u.node_ports);
}

/* ------------------------------------------------------------------------ */
/* exports */

enum { EXPORT_NAME, EXPORT_PORT, EXPORT_TARGET, EXPORT_N };
static const struct sw_yaml_key export_keys[EXPORT_N] = {
	[EXPORT_NAME] = { "name", true },
	[EXPORT_PORT] = { "port", true },
	[EXPORT_TARGET] = { "target", true },
};

static void parse_export(struct parser *p, const yaml_node_t *n,
			 const char *field, int index,
			 struct sw_export_config *x, struct unique *pairs)
{
	bool name_ok = false, port_ok = false;
	const yaml_node_t *v[EXPORT_N];
	char f[SW_FIELD_MAX];

	if (sw_yaml_mapping(&p->y, n, field, export_keys, EXPORT_N, NULL, v) < 0)
		return;
	if (v[EXPORT_NAME])
		name_ok = !sw_yaml_dns_name(&p->y, v[EXPORT_NAME],
					    sw_field_key(f, field, "name"),
					    x->name);
	if (v[EXPORT_PORT])
		port_ok = !sw_yaml_port(&p->y, v[EXPORT_PORT],
					sw_field_key(f, field, "port"),
					&x->port);
	if (v[EXPORT_TARGET])
		sw_yaml_hostport(&p->y, v[EXPORT_TARGET],
				 sw_field_key(f, field, "target"), false,
				 &x->target);
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
	char f[SW_FIELD_MAX];
	int count = sw_yaml_list(&p->y, n, "exports", &items);

	if (count <= 0)
		return;
	cfg->exports = list_alloc(p, count, sizeof(*cfg->exports));
	unique_init(p, &pairs, count);
	if (cfg->exports) {
		cfg->n_exports = count;
		for (int i = 0; i < count; i++)
			parse_export(p, sw_yaml_node(&p->y, items[i]),
				     sw_field_item(f, "exports", i), i,
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
	{ "agent", "resolve_interval", true, FIELD(resolve_interval_ns), 0,
	  SW_RESOLVE_INTERVAL_S * NS_PER_S },
	{ "tunnel", "max_streams_per_peer", false, FIELD(max_streams_per_peer),
	  SW_TUNNEL_MAX_STREAMS_PER_PEER_MAX, SW_TUNNEL_MAX_STREAMS_PER_PEER },
	{ "tunnel", "max_connects_per_peer", false, FIELD(max_connects_per_peer),
	  SW_TUNNEL_MAX_CONNECTS_PER_PEER_MAX, SW_TUNNEL_MAX_CONNECTS_PER_PEER },
	{ "tunnel", "buffer_budget_mib", false, FIELD(buffer_budget_mib),
	  SW_TUNNEL_BUFFER_BUDGET_MIB_MAX, SW_TUNNEL_BUFFER_BUDGET_MIB },
	/* No default: 0 is "one per CPU", decided where the agent runs. */
	{ "tunnel", "workers", false, FIELD(workers), SW_WORKERS_MAX, 0 },
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
			 const struct setting **k, const yaml_node_t **v,
			 int count)
{
	char f[SW_FIELD_MAX];

	for (int i = 0; i < count; i++) {
		__u64 val;
		int err;

		if (!v[i])
			continue;
		sw_field_key(f, section, k[i]->name);
		err = k[i]->duration ? sw_yaml_duration(&p->y, v[i], f, 1,
							UINT64_MAX, NULL, &val) :
				       sw_yaml_number(&p->y, v[i], f, 1,
						      k[i]->max, &val);
		if (!err)
			setting_set(p->cfg, k[i], val);
	}
}

/* A section's settings (k), as the optional keys of its mapping (spec). */
static int settings_spec(const char *section, const struct setting **k,
			 struct sw_yaml_key *spec)
{
	int count = section_settings(section, k);

	for (int i = 0; i < count; i++)
		spec[i] = (struct sw_yaml_key){ .name = k[i]->name };
	return count;
}

static void parse_settings(struct parser *p, const yaml_node_t *n,
			   const char *section)
{
	const struct setting *k[N_SETTINGS];
	struct sw_yaml_key spec[N_SETTINGS];
	const yaml_node_t *v[N_SETTINGS];
	int count = settings_spec(section, k, spec);

	if (sw_yaml_mapping(&p->y, n, section, spec, count, NULL, v) >= 0)
		get_settings(p, section, k, v, count);
}

/*
 * tunnel: {listen: ADDRESS:PORT} and the tunnel's settings. A node that
 * only spills (no gateway) may write workers alone; the gateway's settings
 * need the gateway.
 */
static void parse_tunnel(struct parser *p, const yaml_node_t *n)
{
	const struct setting *k[N_SETTINGS];
	struct sw_yaml_key spec[N_SETTINGS + 1] = { { .name = "listen" } };
	const yaml_node_t *v[N_SETTINGS + 1];
	int count = settings_spec("tunnel", k, spec + 1);

	if (sw_yaml_mapping(&p->y, n, "tunnel", spec, count + 1, NULL, v) < 0)
		return;
	get_settings(p, "tunnel", k, v + 1, count);
	if (v[0]) {
		p->cfg->has_tunnel = true;
		sw_yaml_hostport(&p->y, v[0], "tunnel.listen", true,
				 &p->cfg->tunnel_listen);
		return;
	}
	for (int i = 0; i < count; i++) {
		if (v[i + 1] && strcmp(k[i]->name, "workers")) {
			sw_yaml_error(&p->y, n, "tunnel", "missing required key "
				      "'listen'; expected it with %s (the "
				      "gateway's setting), or workers alone",
				      k[i]->name);
			return;
		}
	}
}

/* ------------------------------------------------------------------------ */
/* The whole file */

enum {
	TOP_CLUSTER, TOP_INTERFACES, TOP_TLS, TOP_TUNNEL, TOP_REMOTES,
	TOP_SERVICES, TOP_EXPORTS, TOP_METRICS, TOP_DATAPATH, TOP_AGENT, TOP_N
};
static const struct sw_yaml_key top_keys[TOP_N] = {
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
	const yaml_node_t *v[TOP_N];
	char keys[SW_YAML_KEY_LIST_MAX];

	sw_config_defaults(cfg);
	if (root->type != YAML_MAPPING_NODE) {
		sw_yaml_error(&p->y, root, "", "the top level is %s; expected "
			      "a mapping of %s", sw_yaml_kind_name(root),
			      sw_yaml_key_list(keys, top_keys, TOP_N, false,
					       " and "));
		return;
	}
	sw_yaml_mapping(&p->y, root, "", top_keys, TOP_N, NULL, v);
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
		sw_yaml_error(&p->y, root, "", "missing required key 'tls': "
			      "connections spilled to remotes go through a "
			      "mutual TLS tunnel; expected a tls section with "
			      "dir");
}

/*
 * One configuration per file: a second document is a problem (a stray '---'
 * would otherwise silently hide half the file), and so is none at all.
 */
static void parse_documents(struct parser *p, const struct sw_yaml_docs *docs)
{
	if (!docs->n) {
		/* Nothing but comments or blanks: no node to point at. */
		sw_yaml_error(&p->y, &(yaml_node_t){ .type = YAML_NO_NODE }, "",
			      "the file is empty; expected a mapping with at "
			      "least 'cluster'");
		return;
	}
	p->y.doc = docs->doc[0];
	parse_root(p, yaml_document_get_root_node(docs->doc[0]));
	if (docs->n > 1)
		sw_yaml_error(&p->y, yaml_document_get_root_node(docs->doc[1]),
			      "", "a second YAML document starts here; expected "
			      "one configuration per file");
}

int sw_config_parse(const char *path, const char *text, size_t len,
		    struct sw_config *cfg, struct sw_error *e)
{
	struct parser p = { .cfg = cfg };
	struct sw_yaml_docs docs = { NULL, 0 };
	int err;

	memset(cfg, 0, sizeof(*cfg));
	p.y = (struct sw_yaml){ .path = path ? path : "(config)",
				.durations = SW_DURATION_SPILLWAY,
				.report = &p.report };
	err = sw_yaml_load(p.y.path, text, len, false, &docs, e);
	if (!err) {
		parse_documents(&p, &docs);
		err = p.err ? sw_fail(e, p.err, "%s: out of memory parsing the "
				      "configuration", p.y.path) :
			      sw_yaml_verdict(&p.report, e);
	}
	sw_yaml_docs_free(&docs);
	if (err) {
		sw_config_free(cfg);
		return err;
	}
	snprintf(cfg->path, sizeof(cfg->path), "%s", p.y.path);
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
			grown = realloc(buf, cap + 1);	/* + the NUL */
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
	buf[n] = '\0';
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

/* A copy of n items of size at src in *dst (none: NULL); false: no memory. */
static bool copy_list(void *dst, const void *src, int n, size_t size)
{
	void *copy = n > 0 ? malloc((size_t)n * size) : NULL;

	if (n > 0 && !copy)
		return false;
	if (copy)
		memcpy(copy, src, (size_t)n * size);
	memcpy(dst, &copy, sizeof(copy));
	return true;
}

int sw_config_copy(struct sw_config *dst, const struct sw_config *src)
{
	*dst = *src;
	dst->interfaces = NULL;
	dst->allow_identities = NULL;
	dst->remotes = NULL;
	dst->services = NULL;
	dst->exports = NULL;
	if (copy_list(&dst->interfaces, src->interfaces, src->n_interfaces,
		      sizeof(*src->interfaces)) &&
	    copy_list(&dst->allow_identities, src->allow_identities,
		      src->n_allow_identities, sizeof(*src->allow_identities)) &&
	    copy_list(&dst->remotes, src->remotes, src->n_remotes,
		      sizeof(*src->remotes)) &&
	    copy_list(&dst->services, src->services, src->n_services,
		      sizeof(*src->services)) &&
	    copy_list(&dst->exports, src->exports, src->n_exports,
		      sizeof(*src->exports)))
		return 0;
	sw_config_free(dst);
	return -ENOMEM;
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

/* Append e unless another entry has its key already (false then). */
static bool add_entry(struct sw_service_config_entry *list, int *n,
		      const struct sw_service_config_entry *e)
{
	for (int i = 0; i < *n; i++)
		if (!memcmp(&list[i].key, &e->key, sizeof(e->key)))
			return false;
	list[(*n)++] = *e;
	return true;
}

/* Append s with vip (made into its key); false if that VIP:port is taken. */
static bool add_vip(struct sw_service_config_entry *list, int *n,
		    const struct sw_service_config_entry *s, const char *vip)
{
	struct sw_service_config_entry e = *s;

	snprintf(e.vip, sizeof(e.vip), "%s", vip);
	if (sw_service_key_make(&e.key, e.vip, s->port))
		return false;
	return add_entry(list, n, &e);
}

/* Append s's NodePort entries: {no vip, node_port} for IPv4 and IPv6. */
static void add_node_port(struct sw_service_config_entry *list, int *n,
			  const struct sw_service_config_entry *s)
{
	static const __u8 families[] = { SW_INET, SW_INET6 };
	struct sw_service_config_entry e = *s;

	e.vip[0] = '\0';
	memset(&e.key, 0, sizeof(e.key));
	e.key.port = s->node_port;
	e.key.proto = IPPROTO_TCP;
	for (size_t i = 0; i < sizeof(families); i++) {
		e.key.family = families[i];
		add_entry(list, n, &e);
	}
}

bool sw_service_named(const struct sw_service_config_entry *s)
{
	return !s->vip[0] && !s->node_port;
}

bool sw_config_has_node_ports(const struct sw_config *cfg)
{
	for (int i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].node_port)
			return true;
	return false;
}

int sw_config_expand_vips(struct sw_config *cfg, sw_vips_fn vips, void *arg,
			  char *why, size_t why_len)
{
	char addrs[SW_MAX_VIPS_PER_NAME][INET6_ADDRSTRLEN];
	struct sw_service_config_entry *list;
	int n = 0, left_out = 0;

	list = calloc((size_t)cfg->n_services * SW_MAX_VIPS_PER_NAME + 1,
		      sizeof(*list));
	if (!list)
		return -ENOMEM;
	/* Written VIPs and node ports first: never the ones left out. */
	for (int i = 0; i < cfg->n_services; i++) {
		if (cfg->services[i].vip[0])
			add_vip(list, &n, &cfg->services[i], cfg->services[i].vip);
		if (cfg->services[i].node_port)
			add_node_port(list, &n, &cfg->services[i]);
	}
	for (int i = 0; i < cfg->n_services; i++) {
		const struct sw_service_config_entry *s = &cfg->services[i];
		int count = sw_service_named(s) ?
			vips(arg, s->name, addrs, SW_MAX_VIPS_PER_NAME) : 0;

		for (int k = 0; k < count; k++) {
			if (n < SW_MAX_SERVICES && add_vip(list, &n, s, addrs[k]))
				continue;
			if (!left_out++)
				snprintf(why, why_len, "services[%d] (%s): %s "
					 "port %u is another service's VIP, or "
					 "one too many: left out", i, s->name,
					 addrs[k], s->port);
		}
	}
	free(cfg->services);
	cfg->services = list;
	cfg->n_services = n;
	return left_out;
}

const struct sw_service_config_entry *
sw_config_service_by_key(const struct sw_config *cfg,
			 const struct sw_service_key *key)
{
	for (int i = 0; i < cfg->n_services; i++)
		if (!memcmp(&cfg->services[i].key, key, sizeof(*key)))
			return &cfg->services[i];
	return NULL;
}

const struct sw_service_config_entry *
sw_config_service_reached(const struct sw_config *cfg,
			  const struct sw_service_key *key)
{
	const struct sw_service_config_entry *s =
		sw_config_service_by_key(cfg, key);
	struct sw_service_key np = *key;

	if (s)
		return s;
	memset(np.vip, 0, sizeof(np.vip));
	return sw_config_service_by_key(cfg, &np);
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
			(yaml_char_t *)s, strlen(s), !sw_yaml_is_null_text(s),
			1, YAML_ANY_SCALAR_STYLE));
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
	if (s->vip[0])
		w_key_str(w, "vip", s->vip);
	if (s->node_port)
		w_key_u64(w, "node_port", s->node_port);
	w_key_u64(w, "port", s->port);
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

		if (!v && !k[i]->def)	/* not written, decided at run time */
			continue;
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
	if (cfg->has_tunnel) {
		w_key_hostport(w, "listen", &cfg->tunnel_listen);
		w_settings(w, cfg, "tunnel");
	} else {
		w_key_u64(w, "workers", cfg->workers);	/* no gateway */
	}
	w_map_end(w);
}

static void write_config(struct writer *w, const struct sw_config *cfg)
{
	w_key_str(w, "cluster", cfg->cluster);
	write_interfaces(w, cfg);
	if (cfg->has_tls)
		write_tls(w, cfg);
	if (cfg->has_tunnel || cfg->workers)
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
