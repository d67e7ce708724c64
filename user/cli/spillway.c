// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * spillway: one binary, one verb per job. A verb is a function and a row in
 * the table below; `spillway help` prints the table, `spillway VERB --help`
 * one row in full. Verbs served by the agent (status, service, flows) are
 * checked here with the agent's own parser, then sent over its socket.
 *
 * Exit status: 0 done, 1 failed (the message says why), 2 bad usage.
 * Every error reaches the user through fail(), the one place that puts
 * "spillway VERB: " before it; the layers below say what is wrong, not who
 * asked.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spillway/abi.h"
#include "spillway/defaults.h"
#include "agent/agent.h"
#include "config/config.h"
#include "datapath/datapath.h"
#include "lib/error.h"
#include "config/istio.h"
#include "lib/json.h"
#include "lib/util.h"
#include "datapath/probe.h"
#include "agent/request.h"
#include "datapath/notrack.h"
#include "datapath/route.h"
#include "agent/rpc.h"
#include "cli/top.h"

#ifndef SW_VERSION
#define SW_VERSION "unknown"
#endif

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *summary;	/* one line, for 'spillway help' */
	const char *help;	/* the rest, for 'spillway VERB --help' */
};

static const struct cmd cmds[];

static const struct cmd *find_cmd(const char *name)
{
	for (const struct cmd *c = cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static int verb_help(const char *verb)
{
	const struct cmd *c = find_cmd(verb);

	printf("Usage: spillway %s %s\n\n%s.\n%s", c->name, c->args, c->summary,
	       c->help);
	return 0;
}

static int fail(const char *verb, const char *msg, int status)
{
	size_t len = strlen(msg);

	while (len && msg[len - 1] == '\n')	/* the agent's replies end in one */
		len--;
	fprintf(stderr, "spillway %s: %.*s\n", verb, (int)len, msg);
	return status;
}

static bool is_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

/* The value of option argv[*i] ("--opt VALUE" or "--opt=VALUE"), or NULL. */
static const char *option_value(int argc, char **argv, int *i,
				const char *name)
{
	size_t len = strlen(name);

	if (strncmp(argv[*i], name, len))
		return NULL;
	if (argv[*i][len] == '=')
		return argv[*i] + len + 1;
	if (argv[*i][len] || *i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* status, service, flows: check here, run in the agent. */
static int do_agent_verb(int argc, char **argv)
{
	enum sw_rpc_status status;
	struct sw_request r;
	struct sw_error e = {};
	char *body;

	if (sw_request_parse(argc, argv, &r, &e))
		return fail(argv[0], e.msg, 2);
	if (r.help)
		return verb_help(argv[0]);
	if (sw_rpc_call(r.socket, argc, argv, &status, &body, &e))
		return fail(argv[0], e.msg, 1);
	if (status == SW_RPC_OK)
		fputs(body, stdout);
	else
		fail(argv[0], body, status);
	free(body);
	return status;
}

static int do_agent(int argc, char **argv)
{
	struct sw_agent_opts o = { .pin_dir = SW_DEFAULT_PIN_DIR,
				   .socket = SW_DEFAULT_SOCKET };
	const char *v;

	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i]))
			return verb_help("agent");
		if ((v = option_value(argc, argv, &i, "--config")))
			o.config = v;
		else if ((v = option_value(argc, argv, &i, "--pin-dir")))
			o.pin_dir = v;
		else if ((v = option_value(argc, argv, &i, "--socket")))
			o.socket = v;
		else if ((v = option_value(argc, argv, &i, "--log-format")) &&
			 (!strcmp(v, "text") || !strcmp(v, "json")))
			o.log_json = !strcmp(v, "json");
		else if (!strcmp(argv[i], "--debug"))
			o.debug = true;
		else
			return fail("agent", "bad argument; see 'spillway agent "
				    "--help'", 2);
	}
	if (!o.config)
		return fail("agent", "--config FILE is required", 2);
	return sw_agent_run(&o);
}

/* --interface options of check --kernel: at most this many. */
#define CHECK_IFACES_MAX 64

/* check --kernel: what the kernel offers, and the interfaces named. */
static int check_kernel(const struct sw_config *cfg, const char **ifaces,
			int n, bool json)
{
	for (int i = 0; cfg && i < cfg->n_interfaces && n < CHECK_IFACES_MAX; i++)
		ifaces[n++] = cfg->interfaces[i].name;
	return sw_probe_report(stdout, json, ifaces, n) ? 1 : 0;
}

static int do_check(int argc, char **argv)
{
	const char *v, *path = NULL, *ifaces[CHECK_IFACES_MAX];
	bool print = false, kernel = false, json = false;
	struct sw_config cfg = {};
	struct sw_error e = {};
	int n_ifaces = 0, status = 0;

	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i]))
			return verb_help("check");
		if ((v = option_value(argc, argv, &i, "--config")))
			path = v;
		else if (!strcmp(argv[i], "--print"))
			print = true;
		else if (!strcmp(argv[i], "--kernel"))
			kernel = true;
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (n_ifaces < CHECK_IFACES_MAX &&
			 (v = option_value(argc, argv, &i, "--interface")))
			ifaces[n_ifaces++] = v;
		else
			return fail("check", "bad argument; see 'spillway check "
				    "--help'", 2);
	}
	if (!path && !kernel)
		return fail("check", "--config FILE or --kernel is required", 2);
	if ((json || n_ifaces) && !kernel)
		return fail("check", "--json and --interface go with --kernel", 2);
	if (path && sw_config_load(path, &cfg, &e))
		return fail("check", e.msg, 1);
	if (kernel)
		status = check_kernel(path ? &cfg : NULL, ifaces, n_ifaces, json);
	else if (print)
		sw_config_write(&cfg, stdout);
	else
		printf("%s: ok: cluster %s, %d service(s), %d remote(s), "
		       "%d interface(s), %d export(s)\n", path, cfg.cluster,
		       cfg.n_services, cfg.n_remotes, cfg.n_interfaces,
		       cfg.n_exports);
	if (path)
		sw_config_free(&cfg);
	return status;
}

/* Repeatable options of istio import: each at most this many times. */
#define ISTIO_REPEAT_MAX 64

static int istio_import(int argc, char **argv, const char **paths)
{
	static const char *const default_iface[] = { SW_ISTIO_DEFAULT_INTERFACE };
	static const char *const default_id[] = { SW_ISTIO_DEFAULT_IDENTITY };
	const char *ifaces[ISTIO_REPEAT_MAX], *ids[ISTIO_REPEAT_MAX], *v;
	struct sw_istio_rename renames[ISTIO_REPEAT_MAX];
	struct sw_istio_opts o = { .cluster = SW_ISTIO_DEFAULT_CLUSTER,
				   .interfaces = ifaces, .identities = ids,
				   .tls_dir = SW_ISTIO_DEFAULT_TLS_DIR,
				   .metrics_listen = SW_ISTIO_DEFAULT_METRICS,
				   .network = SW_ISTIO_DEFAULT_NETWORK,
				   .renames = renames };
	struct sw_error e = {};
	struct sw_config cfg;
	int n_paths = 0, err;
	__u32 port;

	for (int i = 1; i < argc; i++) {
		bool full = o.n_interfaces == ISTIO_REPEAT_MAX ||
			    o.n_identities == ISTIO_REPEAT_MAX ||
			    o.n_renames == ISTIO_REPEAT_MAX;

		if (is_help(argv[i]))
			return verb_help("istio");
		if ((v = option_value(argc, argv, &i, "--cluster"))) {
			o.cluster = v;
		} else if (!full && (v = option_value(argc, argv, &i, "--interface"))) {
			ifaces[o.n_interfaces++] = v;
		} else if ((v = option_value(argc, argv, &i, "--tls-dir"))) {
			o.tls_dir = v;
		} else if (!full && (v = option_value(argc, argv, &i,
						     "--allow-identity"))) {
			ids[o.n_identities++] = v;
		} else if ((v = option_value(argc, argv, &i, "--metrics"))) {
			o.metrics_listen = strcmp(v, "none") ? v : NULL;
		} else if ((v = option_value(argc, argv, &i, "--network"))) {
			o.network = v;
		} else if ((v = option_value(argc, argv, &i, "--locality"))) {
			o.locality = v;
		} else if (!strcmp(argv[i], "--strict")) {
			o.strict = true;
		} else if ((v = option_value(argc, argv, &i, "--gateway-port"))) {
			if (sw_parse_u32(v, 1, 65535, &port))
				return fail("istio import", "--gateway-port takes "
					    "a port from 1 to 65535", 2);
			o.gateway_port = port;
		} else if (!full && (v = option_value(argc, argv, &i,
						     "--remote-name"))) {
			const char *eq = strchr(v, '=');

			if (!eq || eq == v || !eq[1])
				return fail("istio import", "--remote-name takes "
					    "NETWORK=NAME, like network2=cluster2",
					    2);
			renames[o.n_renames++] = (struct sw_istio_rename){
				strndup(v, eq - v), eq + 1 };
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return fail("istio import", "bad argument; see 'spillway "
				    "istio --help'", 2);
		} else {
			paths[n_paths++] = argv[i];
		}
	}
	if (!n_paths)
		return fail("istio import", "FILE... is required ('-' reads "
			    "standard input)", 2);
	if (!o.n_interfaces) {
		o.interfaces = default_iface;
		o.n_interfaces = 1;
	}
	if (!o.n_identities) {
		o.identities = default_id;
		o.n_identities = 1;
	}
	err = sw_istio_import_files(&o, paths, n_paths, &cfg, stderr, &e);
	for (int i = 0; i < o.n_renames; i++)
		free((char *)renames[i].network);
	if (err)
		return fail("istio import", e.msg, 1);
	err = sw_config_write(&cfg, stdout);
	sw_config_free(&cfg);
	if (err)
		return fail("istio import", "cannot write the configuration "
			    "to standard output", 1);
	return 0;
}

static int do_istio(int argc, char **argv)
{
	const char **paths;
	int status;

	if (argc > 1 && is_help(argv[1]))
		return verb_help("istio");
	if (argc < 2 || strcmp(argv[1], "import"))
		return fail("istio", "expected 'import'; see 'spillway istio "
			    "--help'", 2);
	paths = calloc(argc, sizeof(*paths));
	if (!paths)
		return fail("istio import", "out of memory", 1);
	status = istio_import(argc - 1, argv + 1, paths);
	free(paths);
	return status;
}

static int do_down(int argc, char **argv)
{
	const struct sw_steer_route route = { .mark = SW_DEFAULT_STEER_MARK,
					      .table = SW_DEFAULT_ROUTE_TABLE,
					      .pref = SW_DEFAULT_RULE_PREF };
	const char *pin_dir = SW_DEFAULT_PIN_DIR, *sock = SW_DEFAULT_SOCKET, *v;
	enum sw_rpc_status status;
	struct sw_error e = {};
	char *argv_status[] = { "status", NULL }, *body;

	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i]))
			return verb_help("down");
		if ((v = option_value(argc, argv, &i, "--pin-dir")))
			pin_dir = v;
		else if ((v = option_value(argc, argv, &i, "--socket")))
			sock = v;
		else
			return fail("down", "bad argument; see 'spillway down "
				    "--help'", 2);
	}
	if (!sw_rpc_call(sock, 1, argv_status, &status, &body, NULL)) {
		free(body);
		return fail("down", "an agent is running (it answers on its "
			    "socket): stop it first, or it would keep running "
			    "without a datapath", 1);
	}
	if (sw_down(pin_dir, &e) || sw_steer_route_remove(&route, &e) ||
	    sw_notrack_remove(&e))
		return fail("down", e.msg, 1);
	printf("spillway is down: no program attached in this network "
	       "namespace, nothing pinned in %s, no policy route, no nft "
	       "table\n", pin_dir);
	return 0;
}

/* "0.5" -> 500 (ms), within [100 ms, 1 hour]; -1 otherwise. */
static long interval_ms(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0.1 && v <= 3600))
		return -1;
	return (long)(v * 1000 + 0.5);
}

static int do_top(int argc, char **argv)
{
	struct sw_top_opts o = { .socket = SW_DEFAULT_SOCKET, .interval_ms = 1000 };
	struct sw_error e = {};
	const char *v;
	long ms;

	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i]))
			return verb_help("top");
		if ((v = option_value(argc, argv, &i, "--socket"))) {
			o.socket = v;
		} else if ((v = option_value(argc, argv, &i, "--interval"))) {
			if ((ms = interval_ms(v)) < 0)
				return fail("top", "--interval takes seconds from "
					    "0.1 to 3600, like 1 or 0.5", 2);
			o.interval_ms = ms;
		} else if ((v = option_value(argc, argv, &i, "--iterations"))) {
			if (sw_parse_u32(v, 1, UINT32_MAX, &o.iterations))
				return fail("top", "--iterations takes a whole "
					    "number from 1", 2);
		} else if (!strcmp(argv[i], "--batch")) {
			o.batch = true;
		} else {
			return fail("top", "bad argument; see 'spillway top "
				    "--help'", 2);
		}
	}
	return sw_top_run(&o, &e) ? fail("top", e.msg, 1) : 0;
}

static int do_version(int argc, char **argv)
{
	struct json j;

	if (argc > 1 && is_help(argv[1]))
		return verb_help("version");
	if (argc > 1 && !strcmp(argv[1], "--json")) {
		json_init(&j, stdout);
		json_object(&j);
		json_field_str(&j, "version", SW_VERSION);
		json_field_uint(&j, "layout_version", SW_LAYOUT_VERSION);
		json_end(&j);
		putchar('\n');
		return 0;
	}
	if (argc > 1)
		return fail("version", "bad argument; see 'spillway version "
			    "--help'", 2);
	printf("spillway %s (map layout version %u)\n", SW_VERSION,
	       SW_LAYOUT_VERSION);
	return 0;
}

/*
 * Shell completion, generated from the verb table (so it cannot drift from
 * it): each verb's words are the lowercase words, options and positional
 * arguments of its synopsis (cmd.args). An option's value completes by its
 * placeholder: FILE and PATH files, DIR directories, IFACE the network
 * interfaces, a|b the words; others (N, NAME) nothing.
 */

/* The next token of a synopsis, without its [ ] and "...": its length. */
static size_t next_token(const char **p, const char **tok)
{
	const char *s = *p, *end;

	s += strspn(s, " \n[]|.");
	end = s + strcspn(s, " \n[]");
	*p = end;
	while (end > s && end[-1] == '.')
		end--;
	*tok = s;
	return end - s;
}

static bool token_is(const char *tok, size_t len, const char *word)
{
	return len == strlen(word) && !strncmp(tok, word, len);
}

static void complete_value(const char *value, size_t len)
{
	if (token_is(value, len, "FILE") || token_is(value, len, "PATH")) {
		printf("$(compgen -f -- \"$cur\")");
	} else if (token_is(value, len, "DIR")) {
		printf("$(compgen -d -- \"$cur\")");
	} else if (token_is(value, len, "IFACE")) {
		printf("$(compgen -W \"$(ls /sys/class/net 2>/dev/null)\" -- \"$cur\")");
	} else if (memchr(value, '|', len)) {
		printf("$(compgen -W \"");
		/* The lowercase alternatives: ADDRESS:PORT|none offers none. */
		for (const char *a = value, *bar; a < value + len; a = bar + 1) {
			bar = memchr(a, '|', value + len - a);
			bar = bar ? bar : value + len;
			if (*a >= 'a' && *a <= 'z')
				printf("%.*s ", (int)(bar - a), a);
		}
		printf("\" -- \"$cur\")");
	}
	/* else a number or a name: nothing to offer */
}

static void complete_verb(const struct cmd *c)
{
	const char *p = c->args, *tok, *value;
	char words[1024] = " ", seen[128];
	size_t len, value_len, n = 1;
	bool files = false;

	for (len = next_token(&p, &tok); len; len = value_len, tok = value) {
		bool takes_value;

		value_len = next_token(&p, &value);
		/* "[--strict] FILE...": an option its bracket closes is a flag. */
		takes_value = !strncmp(tok, "--", 2) && tok[len] != ']' &&
			      value_len && value[0] != '-';
		/* A word in two synopses (check --config) is offered once. */
		snprintf(seen, sizeof(seen), " %.*s ", (int)len, tok);
		if (!strstr(words, seen)) {
			if (takes_value) {
				/* Complete the option's value after it. */
				printf("\t%s:%.*s) COMPREPLY=(", c->name,
				       (int)len, tok);
				complete_value(value, value_len);
				printf("); return;;\n");
			}
			if (tok[0] == '-' || (tok[0] >= 'a' && tok[0] <= 'z'))
				n += snprintf(words + n, sizeof(words) - n,
					      "%.*s ", (int)len, tok);
			else if (token_is(tok, len, "VERB"))
				for (const struct cmd *v = cmds; v->name; v++)
					n += snprintf(words + n, sizeof(words) - n,
						      "%s ", v->name);
			else if (token_is(tok, len, "FILE"))
				files = true;
		}
		if (takes_value)
			value_len = next_token(&p, &value);
	}
	/* Otherwise the verb's words, and files where it takes FILE... */
	printf("\t%s:*) words=\"%s--help\"%s;;\n", c->name, words + 1,
	       files ? "; files=1" : "");
}

static void complete_bash(void)
{
	printf("# bash completion for spillway: spillway completion bash\n"
	       "_spillway() {\n"
	       "\tlocal cur=${COMP_WORDS[COMP_CWORD]} "
	       "prev=${COMP_WORDS[COMP_CWORD-1]} words= files=\n"
	       "\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n"
	       "\t\tCOMPREPLY=($(compgen -W \"");
	for (const struct cmd *c = cmds; c->name; c++)
		printf("%s ", c->name);
	printf("--help --version\" -- \"$cur\"))\n"
	       "\t\treturn\n"
	       "\tfi\n"
	       "\tcase \"${COMP_WORDS[1]}:$prev\" in\n");
	for (const struct cmd *c = cmds; c->name; c++)
		complete_verb(c);
	printf("\tesac\n"
	       "\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
	       "\tif [ -n \"$files\" ] && [ \"${cur#-}\" = \"$cur\" ]; then\n"
	       "\t\tCOMPREPLY+=($(compgen -f -- \"$cur\"))\n"
	       "\tfi\n"
	       "}\n"
	       "complete -o filenames -F _spillway spillway\n");
}

static int do_completion(int argc, char **argv)
{
	if (argc > 1 && is_help(argv[1]))
		return verb_help("completion");
	if (argc != 2 || strcmp(argv[1], "bash"))
		return fail("completion", "expected 'bash'; see 'spillway "
			    "completion --help'", 2);
	complete_bash();
	return 0;
}

static int do_help(int argc, char **argv)
{
	if (argc > 1 && is_help(argv[1]))
		return verb_help("help");
	if (argc > 1) {
		if (!find_cmd(argv[1]))
			return fail("help", "no such verb; 'spillway help' "
				    "lists them", 2);
		return verb_help(argv[1]);
	}
	printf("Usage: spillway VERB [OPTIONS]\n\nVerbs:\n");
	for (const struct cmd *c = cmds; c->name; c++)
		printf("  %-8s %s\n", c->name, c->summary);
	printf("\n'spillway VERB --help' describes a verb and its options.\n"
	       "Exit status: 0 done, 1 failed, 2 bad usage.\n");
	return 0;
}

#define SOCKET_HELP                                                          \
	"  --socket PATH   the agent's control socket (default "             \
	SW_DEFAULT_SOCKET ")\n"

static const struct cmd cmds[] = {
	{ "agent", do_agent,
	  "--config FILE [--pin-dir DIR] [--socket PATH] [--log-format text|json] [--debug]",
	  "Run the agent in the foreground",
	  "\nLoads and attaches the datapath (when FILE has interfaces: a\n"
	  "gateway-only agent loads no BPF), applies FILE, and serves the CLI\n"
	  "and /metrics. Reloads FILE when it changes and on SIGHUP; a bad file\n"
	  "is rejected and the running configuration kept. On SIGTERM or SIGINT\n"
	  "it exits and leaves the datapath attached: connections keep flowing\n"
	  "and the next agent adopts flows and counters.\n\n"
	  "  --config FILE        the YAML configuration (required)\n"
	  "  --pin-dir DIR        where maps and links are pinned (default "
	  SW_DEFAULT_PIN_DIR ")\n"
	  "  --socket PATH        the control socket (default " SW_DEFAULT_SOCKET ")\n"
	  "  --log-format FORMAT  text (default) or json: one object per line\n"
	  "  --debug              log debug messages too\n" },
	{ "check", do_check,
	  "--config FILE [--print]\n"
	  "       --kernel [--config FILE] [--interface IFACE]... [--json]",
	  "Check a configuration file as the agent would, or this kernel",
	  "\nWith --config, parses and validates FILE with the agent's own rules\n"
	  "(every field, references between sections, the certificate files in\n"
	  "tls.dir) and exits 0 if the agent would accept it, else 1 with the\n"
	  "first problem as FILE:LINE:COLUMN: FIELD: problem. Needs no agent and\n"
	  "no root; it does not check the host (interfaces), which the agent\n"
	  "does at start.\n\n"
	  "With --kernel, asks the running kernel for each feature the datapath\n"
	  "uses (by loading tiny programs; clsact and XDP links in a scratch\n"
	  "network namespace) and prints whether it is there, since which Linux\n"
	  "release, who needs it and what spillway does without it; then, per\n"
	  "interface (--interface, and FILE's interfaces), its driver, whether\n"
	  "the driver runs XDP natively, and what is attached now. Exits 1 if a\n"
	  "feature every node needs is missing. Run it as root: without\n"
	  "capabilities features show as unknown.\n\n"
	  "  --config FILE      the YAML configuration\n"
	  "  --print            write the configuration as the agent reads it,\n"
	  "                     with every default filled in\n"
	  "  --kernel           report what this kernel offers\n"
	  "  --interface IFACE  also report IFACE; repeatable\n"
	  "  --json             the report as one JSON object\n" },
	{ "status", do_agent_verb, "[--json] [--socket PATH]",
	  "Services, counters, remotes and their health",
	  "\nPer service: threshold, resume watermark, connections active locally\n"
	  "and remotely, connections spilled and kept local for lack of a remote,\n"
	  "and the state (normal or overflowing). Per remote: its health.\n\n"
	  "  --json          one JSON object (see doc/cli.md, \"status\")\n"
	  SOCKET_HELP },
	{ "service", do_agent_verb,
	  "set NAME --max-connections N [--resume-below N] [--socket PATH]",
	  "Change a service's threshold, live",
	  "\nTakes effect for the next new connection; existing connections never\n"
	  "move. Lasts until the next configuration reload, which restores the\n"
	  "file's values: put lasting changes in the file.\n\n"
	  "  --max-connections N  local connections allowed (1..4294967295)\n"
	  "  --resume-below N     while overflowing, spill until local active < N\n"
	  "                       (1..max-connections; default max-connections)\n"
	  SOCKET_HELP },
	{ "flows", do_agent_verb,
	  "[--service NAME] [--limit N] [--json] [--socket PATH]",
	  "The flow table",
	  "\nOne line per tracked connection: client, service, where it went,\n"
	  "state, age and idle time.\n\n"
	  "  --service NAME  only this service's flows\n"
	  "  --limit N       show at most N flows (default 1000; 0: all)\n"
	  "  --json          one JSON object: flows, shown, more\n"
	  SOCKET_HELP },
	{ "top", do_top,
	  "[--interval SECONDS] [--iterations N] [--batch] [--socket PATH]",
	  "A live view of the services, like top",
	  "\nRefreshes every interval: per service the threshold, local active\n"
	  "connections (with a bar against the threshold) and remote ones, new\n"
	  "connections per second kept local, spilled, and kept local for lack\n"
	  "of a healthy remote (KEPT/s), the state; then each remote's health.\n"
	  "q or Ctrl-C quits. If the agent stops answering, the last good sample\n"
	  "stays on screen with the reason, until it answers again.\n\n"
	  "  --interval SECONDS  between refreshes (default 1; 0.1 to 3600)\n"
	  "  --iterations N      stop after N frames\n"
	  "  --batch             plain frames one after another, for a log or a\n"
	  "                      pipe (the default when not on a terminal)\n"
	  SOCKET_HELP },
	{ "down", do_down, "[--pin-dir DIR] [--socket PATH]",
	  "Detach the datapath and remove its pins",
	  "\nRemoves spillway's TC filters from every interface of this network\n"
	  "namespace, every pinned XDP link, every pinned map, the pin directory\n"
	  "and the steering policy route. Connections keep flowing where the\n"
	  "kernel routes them; tracked flows and counters are lost. Refuses while\n"
	  "an agent answers on --socket. Run it in every network namespace where\n"
	  "the datapath is attached.\n\n"
	  "  --pin-dir DIR   default " SW_DEFAULT_PIN_DIR "\n"
	  SOCKET_HELP },
	{ "istio", do_istio,
	  "import [--cluster NAME] [--interface IFACE]... [--tls-dir DIR]\n"
	  "       [--allow-identity ID]... [--gateway-port N] [--network NAME]\n"
	  "       [--remote-name NETWORK=NAME]... [--locality REGION[/ZONE[/SUBZONE]]]\n"
	  "       [--metrics ADDRESS:PORT|none] [--strict] FILE...",
	  "Write a spillway configuration from Istio YAML",
	  "\nReads DestinationRules and ServiceEntries (networking.istio.io v1,\n"
	  "v1beta1, v1alpha3) from each FILE ('-': standard input; '---' between\n"
	  "documents; a kind: List counts as its items) and writes the\n"
	  "configuration on stdout. Per ServiceEntry\n"
	  "address and port, a service: its VIP and port, the threshold from the\n"
	  "DestinationRule of its host (connectionPool.tcp.maxConnections, per\n"
	  "port from portLevelSettings). Endpoints in another network are\n"
	  "remotes, named after the network, in overflow_to ordered by\n"
	  "localityLbSetting failoverPriority, then failover. connectTimeout,\n"
	  "tcpKeepalive and outlierDetection set those remotes' tunnel and\n"
	  "health settings. A field spillway cannot honour is a warning on\n"
	  "stderr, another kind of object a note; both name file, line,\n"
	  "document, object and field. A DestinationRule or ServiceEntry that\n"
	  "cannot be imported (no maxConnections, a wildcard host, no partner...)\n"
	  "is skipped with one warning saying why.\n\n"
	  "Exit status: 0 with a configuration on stdout (at least one service);\n"
	  "1 on an error, nothing written: a FILE that cannot be read or is not\n"
	  "YAML, no service to import, a bad option value, or with --strict the\n"
	  "first problem in a DestinationRule or ServiceEntry (one without a\n"
	  "partner is still a warning); 2 on bad usage.\n\n"
	  "  --cluster NAME          this cluster (default " SW_ISTIO_DEFAULT_CLUSTER ")\n"
	  "  --interface IFACE       attach to IFACE; repeatable (default "
	  SW_ISTIO_DEFAULT_INTERFACE ")\n"
	  "  --tls-dir DIR           root-cert.pem, cert-chain.pem, key.pem\n"
	  "                          (default " SW_ISTIO_DEFAULT_TLS_DIR ")\n"
	  "  --allow-identity ID     peer identity allowed; repeatable (default\n"
	  "                          " SW_ISTIO_DEFAULT_IDENTITY ")\n"
	  "  --gateway-port N        remote gateways' port (default: the\n"
	  "                          endpoint's port for the service port, else 15008)\n"
	  "  --network NAME          this cluster's network: its endpoints and\n"
	  "                          those without one are local (default "
	  SW_ISTIO_DEFAULT_NETWORK ")\n"
	  "  --remote-name NETWORK=NAME  name the remote of NETWORK NAME\n"
	  "                          (default: the network's name); repeatable\n"
	  "  --locality L            this cluster's REGION[/ZONE[/SUBZONE]], for\n"
	  "                          failover (default: its endpoints' locality)\n"
	  "  --strict                a problem in an object is an error (exit 1):\n"
	  "                          all or nothing\n"
	  "  --metrics ADDRESS:PORT  metrics.listen (default "
	  SW_ISTIO_DEFAULT_METRICS "; none: no metrics)\n" },
	{ "version", do_version, "[--json]", "Print the version and map layout version",
	  "" },
	{ "completion", do_completion, "bash", "Print the shell completion script",
	  "\nWrites a bash script that completes verbs, options and their values\n"
	  "(files, directories, interfaces). For this shell:\n"
	  "  source <(spillway completion bash)\n"
	  "for every shell of every user:\n"
	  "  spillway completion bash > /usr/share/bash-completion/completions/spillway\n" },
	{ "help", do_help, "[VERB]", "List the verbs, or describe one", "" },
	{ 0 },
};

/* Options that stand for a verb, as most tools take them. */
static const char *const verb_options[][2] = {
	{ "--help", "help" }, { "-h", "help" }, { "--version", "version" },
};

int main(int argc, char **argv)
{
	const char *verb;
	const struct cmd *c;

	sw_libbpf_log_init(getenv("SPILLWAY_DEBUG") != NULL);
	if (argc < 2) {
		do_help(0, NULL);
		return 2;
	}
	verb = argv[1];
	for (size_t i = 0; i < ARRAY_SIZE(verb_options); i++)
		if (!strcmp(verb, verb_options[i][0]))
			verb = verb_options[i][1];
	c = find_cmd(verb);
	if (!c) {
		fprintf(stderr, "spillway: unknown verb '%s'; 'spillway help' "
			"lists them\n", argv[1]);
		return 2;
	}
	return c->fn(argc - 1, argv + 1);
}
