// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samples.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct spread samples_spread(const double *v, int n)
{
	double *s = malloc(n * sizeof(*s));
	struct spread r;

	if (!s) {
		fprintf(stderr, "samples_spread: out of memory for %d samples\n", n);
		exit(1);
	}
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	r = (struct spread){ .median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2,
			     .min = s[0], .max = s[n - 1] };
	free(s);
	return r;
}

/* "12 13 0 ..." : every sample, for the message. */
static void list(const double *v, int n, char *out, size_t size)
{
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < n && len < size; i++)
		len += snprintf(out + len, size - len, "%s%g", i ? " " : "", v[i]);
}

int samples_check(const char *what, const double *ns, const double *floor_ns,
		  int n, char *msg, size_t size)
{
	char all[256];

	for (int i = 0; i < n; i++) {
		if (floor_ns[i] < SAMPLES_FLOOR_MIN_NS) {
			list(floor_ns, n, all, sizeof(all));
			snprintf(msg, size, "%s: the floor measured %g ns per packet "
				 "in sample %d of %d (all: %s), under the %g ns a ratio "
				 "needs, so no ratio is printed. Rerun; if it stays, the "
				 "timing is broken on this kernel: report `uname -r` with "
				 "this line", what, floor_ns[i], i + 1, n, all,
				 SAMPLES_FLOOR_MIN_NS);
			return -1;
		}
		if (ns[i] <= 0) {
			list(ns, n, all, sizeof(all));
			snprintf(msg, size, "%s: measured %g ns per packet in sample "
				 "%d of %d (all: %s); a cost of 0 or less is not a "
				 "measurement (a wrapper's cost taken out that varied "
				 "more than the row?), so no ratio is printed. Rerun on "
				 "a quieter machine; if it stays, report `uname -r` with "
				 "this line", what, ns[i], i + 1, n, all);
			return -1;
		}
	}
	return 0;
}
