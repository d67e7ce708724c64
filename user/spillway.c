// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * spillway: one binary, one verb per job. A verb is a function and a row in
 * the table below; `spillway help` prints the table.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spillway/abi.h"
#include "spillway/defaults.h"
#include "datapath.h"
#include "error.h"

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

static int err_exit(const char *verb, const struct sw_error *e)
{
	fprintf(stderr, "spillway %s: %s\n", verb, e->msg);
	return 1;
}

static int usage_error(const char *verb, const char *fmt, const char *arg)
{
	fprintf(stderr, "spillway %s: ", verb);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nSee 'spillway %s --help'.\n", verb);
	return 2;
}

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

static int do_down(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *pin_dir = SW_DEFAULT_PIN_DIR;
	struct sw_error e = {};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pin_dir = optarg;
			break;
		case 'h':
			return verb_help("down");
		default:
			return usage_error("down", "bad option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("down", "unexpected argument '%s'", argv[optind]);
	if (sw_down(pin_dir, &e))
		return err_exit("down", &e);
	return 0;
}

static int do_version(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--help"))
		return verb_help("version");
	printf("spillway %s (map layout version %u)\n", SW_VERSION,
	       SW_LAYOUT_VERSION);
	return 0;
}

static int do_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("Usage: spillway VERB [OPTIONS]\n\nVerbs:\n");
	for (const struct cmd *c = cmds; c->name; c++)
		printf("  %-8s %-18s %s\n", c->name, c->args, c->summary);
	printf("\n'spillway VERB --help' describes a verb.\n");
	return 0;
}

static const struct cmd cmds[] = {
	{ "down", do_down, "[--pin-dir DIR]",
	  "Detach the datapath and remove its pins",
	  "\nRemoves spillway's TC filters from every interface of this network\n"
	  "namespace, every pinned XDP link, every pinned map, then the pin\n"
	  "directory (default " SW_DEFAULT_PIN_DIR "). Connections keep flowing\n"
	  "where the kernel routes them; tracked flows and counters are lost.\n"
	  "Run it in every network namespace where the datapath is attached.\n" },
	{ "version", do_version, "", "Print the version and map layout version", "" },
	{ "help", do_help, "", "List the verbs", "" },
	{ 0 },
};

int main(int argc, char **argv)
{
	const struct cmd *c;

	sw_libbpf_log_init(getenv("SPILLWAY_DEBUG") != NULL);
	if (argc < 2)
		return do_help(0, NULL), 2;
	c = find_cmd(argv[1]);
	if (!c) {
		fprintf(stderr, "spillway: unknown verb '%s'; 'spillway help' lists them\n",
			argv[1]);
		return 2;
	}
	return c->fn(argc - 1, argv + 1);
}
