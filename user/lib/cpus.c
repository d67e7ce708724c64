// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cpus.h"

double sw_cpu_max_parse(const char *text)
{
	char quota[32];
	unsigned long period;
	char *end;
	double q;

	if (sscanf(text, "%31s %lu", quota, &period) != 2 || !period ||
	    !strcmp(quota, "max"))
		return 0;
	q = strtod(quota, &end);
	return *end || q <= 0 ? 0 : q / (double)period;
}

double sw_cfs_quota_parse(const char *quota, const char *period)
{
	long q = strtol(quota, NULL, 10), p = strtol(period, NULL, 10);

	return q <= 0 || p <= 0 ? 0 : (double)q / (double)p;
}

/* Does the comma-separated list have the word? */
static bool has_word(const char *list, size_t len, const char *word)
{
	size_t w = strlen(word);

	for (const char *p = list; p < list + len;) {
		const char *comma = memchr(p, ',', list + len - p);
		size_t n = (comma ? comma : list + len) - p;

		if (n == w && !memcmp(p, word, w))
			return true;
		p += n + 1;
	}
	return false;
}

/* The line after l's, or NULL at the end of the text. */
static const char *next_line(const char *l)
{
	const char *eol = strchr(l, '\n');

	return eol && eol[1] ? eol + 1 : NULL;
}

/*
 * The mount of the hierarchy with the CPU controller: v1's "cgroup" mount
 * whose super options name cpu (where it is, the controller is there, even
 * beside a cgroup2 mount), else the cgroup2 mount. Its root and mount point.
 */
static int cpu_mount(const char *mountinfo, char *root, char *point,
		     size_t len, int *v2)
{
	bool found = false;

	for (const char *l = *mountinfo ? mountinfo : NULL; l; l = next_line(l)) {
		char r[256], p[256], type[32], opts[256];
		const char *dash = strstr(l, " - ");
		const char *eol = strchr(l, '\n');

		if (!dash || (eol && dash > eol) ||
		    sscanf(l, "%*s %*s %*s %255s %255s", r, p) != 2 ||
		    sscanf(dash + 3, "%31s %*s %255s", type, opts) != 2)
			continue;
		if (!strcmp(type, "cgroup") && has_word(opts, strlen(opts), "cpu")) {
			*v2 = 0;
		} else if (!strcmp(type, "cgroup2") && !found) {
			*v2 = 1;
		} else {
			continue;
		}
		snprintf(root, len, "%s", r);
		snprintf(point, len, "%s", p);
		found = true;
		if (!*v2)
			return 0;
	}
	return found ? 0 : -ENOENT;
}

/* The process's path in that hierarchy, from /proc/self/cgroup. */
static int cgroup_path(const char *proc_cgroup, int v2, char *path, size_t len)
{
	for (const char *l = *proc_cgroup ? proc_cgroup : NULL; l; l = next_line(l)) {
		const char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		const char *eol = strchr(l, '\n');
		size_t n;

		if (!c2 || (eol && c2 > eol))
			continue;
		if (v2 ? c2 != c1 + 1 || strncmp(l, "0:", 2) :
			 !has_word(c1 + 1, c2 - c1 - 1, "cpu"))
			continue;
		n = (eol ? (size_t)(eol - c2) : strlen(c2)) - 1;
		snprintf(path, len, "%.*s", (int)n, c2 + 1);
		return 0;
	}
	return -ENOENT;
}

int sw_cgroup_cpu_dir(const char *mountinfo, const char *proc_cgroup,
		      char *dir, size_t len, size_t *mount_len, int *v2)
{
	char root[256], point[256], path[256];
	const char *rel = path;
	size_t r;

	if (cpu_mount(mountinfo, root, point, sizeof(root), v2) ||
	    cgroup_path(proc_cgroup, *v2, path, sizeof(path)))
		return -ENOENT;
	/* A cgroup namespace's root is the mount's root: strip it. */
	r = strcmp(root, "/") ? strlen(root) : 0;
	if (r && !strncmp(path, root, r) && (path[r] == '/' || !path[r]))
		rel = path + r;
	snprintf(dir, len, "%s%s", point, strcmp(rel, "/") ? rel : "");
	*mount_len = strlen(point);
	return 0;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (size_t got = 1; got;) {
		if (n + 4096 + 1 > cap) {
			char *b = realloc(buf, cap = 2 * cap + 4096 + 1);

			if (!b)
				break;
			buf = b;
		}
		got = fread(buf + n, 1, 4096, f);
		n += got;
	}
	fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

/* The quota of the cgroup in dir, in CPUs; 0 if none or unreadable. */
static double quota_in(const char *dir, int v2)
{
	char path[600];
	char *a, *b = NULL;
	double q = 0;

	snprintf(path, sizeof(path), "%s/%s", dir,
		 v2 ? "cpu.max" : "cpu.cfs_quota_us");
	a = read_all(path);
	if (a && !v2) {
		snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", dir);
		b = read_all(path);
	}
	if (a && (v2 || b))
		q = v2 ? sw_cpu_max_parse(a) : sw_cfs_quota_parse(a, b);
	free(a);
	free(b);
	return q;
}

/* The smallest quota from dir up to the mount point (mount_len bytes). */
static void read_quota(struct sw_cpus *c, char *dir, size_t mount_len, int v2)
{
	for (;;) {
		double q = quota_in(dir, v2);
		char *slash = strrchr(dir, '/');

		if (q > 0 && (!c->quota || q < c->quota)) {
			c->quota = q;
			snprintf(c->quota_file, sizeof(c->quota_file), "%s/%s",
				 dir, v2 ? "cpu.max" : "cpu.cfs_quota_us");
		}
		if (strlen(dir) <= mount_len || !slash)
			return;
		*slash = '\0';
	}
}

void sw_cpus_read(struct sw_cpus *c)
{
	char *mountinfo = read_all("/proc/self/mountinfo");
	char *cgroup = read_all("/proc/self/cgroup");
	char dir[512];
	size_t mount_len;
	cpu_set_t set;
	int v2;

	memset(c, 0, sizeof(*c));
	c->affinity = sched_getaffinity(0, sizeof(set), &set) ? 1 :
		      (unsigned int)CPU_COUNT(&set);
	if (!c->affinity)
		c->affinity = 1;
	if (mountinfo && cgroup &&
	    !sw_cgroup_cpu_dir(mountinfo, cgroup, dir, sizeof(dir), &mount_len,
			       &v2))
		read_quota(c, dir, mount_len, v2);
	free(mountinfo);
	free(cgroup);
}

unsigned int sw_cpus_usable(const struct sw_cpus *c)
{
	unsigned int q = (unsigned int)c->quota;

	if (q < c->quota)
		q++;			/* 1.5 CPUs' worth: two may run */
	return c->quota > 0 && q < c->affinity ? q : c->affinity;
}
