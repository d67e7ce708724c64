/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * spillway top: a live view of one agent's services, built from what any
 * user can read (`status --json` over the agent's socket), refreshed every
 * interval. Rates are the counters' differences between two samples.
 */
#ifndef SW_CLI_TOP_H
#define SW_CLI_TOP_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

#include "config/config.h"
#include "lib/error.h"

struct sw_top_opts {
	const char *socket;
	unsigned int interval_ms;
	unsigned int iterations;	/* 0: until q or Ctrl-C */
	bool batch;			/* plain frames, no screen control */
};

struct sw_top_service {
	char name[SW_NAME_MAX + 1];
	char state[16];
	__u64 max, resume, local, remote;
	__u64 local_total, overflowed_total, unavailable_total;
};

struct sw_top_remote {
	char name[SW_NAME_MAX + 1];
	char gateway[SW_NAME_MAX + 16];
	bool healthy;
};

/* One `status --json` reply, and when it was taken. */
struct sw_top_sample {
	char cluster[SW_NAME_MAX + 1];
	double at;			/* seconds, monotonic */
	int n_services, n_remotes;
	struct sw_top_service *services;
	struct sw_top_remote *remotes;
};

/* Read a `status --json` reply. 0, or -EINVAL with e. */
int sw_top_sample_parse(const char *json, double at, struct sw_top_sample *s,
			struct sw_error *e);
void sw_top_sample_free(struct sw_top_sample *s);

/*
 * One frame: the title's lines (NULL: none), a blank line, services with
 * rates against prev (NULL: rates not known yet), then remotes. No line is
 * longer than width columns (0: no limit): on a narrow terminal the least
 * useful columns go first (the bar, KEPT/s, LOCAL/s, REMOTE, MAX, SPILL/s),
 * then names are cut, then lines.
 */
void sw_top_render(FILE *out, const char *title, const struct sw_top_sample *prev,
		   const struct sw_top_sample *cur, int width);

/*
 * Run until q, Ctrl-C, SIGTERM or the iterations are done. 0, or -EIO with e
 * saying why when the agent does not answer the first sample (later, the
 * reason is drawn and the last good sample kept).
 */
int sw_top_run(const struct sw_top_opts *o, struct sw_error *e);

#endif /* SW_CLI_TOP_H */
