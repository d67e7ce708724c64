/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Kernel settings under /proc/sys, read and written as integers. Names are
 * the sysctl(8) form ("net.ipv4.tcp_early_demux"). /proc/sys/net belongs to
 * the network namespace of the process that opened it: the agent's, which
 * is the node's (hostNetwork). Errors are negative errno values, explained
 * in e with the file and what to do.
 */
#ifndef SW_DATAPATH_SYSCTL_H
#define SW_DATAPATH_SYSCTL_H

#include <stdbool.h>

#include "lib/error.h"

int sw_sysctl_get(const char *name, long *val, struct sw_error *e);
int sw_sysctl_set(const char *name, long val, struct sw_error *e);

/*
 * Set name to want unless it already is; *changed (may be NULL) says
 * whether it was written and *old (may be NULL) what it was.
 */
int sw_sysctl_ensure(const char *name, long want, long *old, bool *changed,
		     struct sw_error *e);

#endif /* SW_DATAPATH_SYSCTL_H */
