/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* `spillway agent`: owns the configuration, the datapath and what users see. */
#ifndef SW_AGENT_AGENT_H
#define SW_AGENT_AGENT_H

#include <stdbool.h>

struct sw_agent_opts {
	const char *config;	/* the YAML file */
	const char *pin_dir;
	const char *socket;
	bool log_json;
	bool debug;
};

/* Run in the foreground until SIGTERM/SIGINT; returns the exit status. */
int sw_agent_run(const struct sw_agent_opts *opts);

#endif /* SW_AGENT_AGENT_H */
