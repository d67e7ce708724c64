/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Repeated measurements (make bench): each figure is reported as the median
 * of its samples with their range, and a ratio is taken only to a floor that
 * measured something.
 */
#ifndef SW_TEST_SAMPLES_H
#define SW_TEST_SAMPLES_H

#include <stddef.h>

/*
 * The least a floor may measure, in ns per packet. The floor is a program
 * that looks a map up and adds to it, run by the kernel's test loop: a few
 * ns at the very least on any CPU. Under this, the timing is broken (on 6.18
 * wall-clock slopes gave ~0 and ratios of -782x) and a ratio would mislead.
 */
#define SAMPLES_FLOOR_MIN_NS 2.0

struct spread {
	double median, min, max;
};

/* The median, least and greatest of v[0..n) (1 <= n; v is left as it was). */
struct spread samples_spread(const double *v, int n);

/*
 * 0 when every sample of `ns` is above 0 and every sample of `floor_ns` is at
 * least SAMPLES_FLOOR_MIN_NS; otherwise -1, and msg says which figure of
 * `what` failed, all its samples, and what to do.
 */
int samples_check(const char *what, const double *ns, const double *floor_ns,
		  int n, char *msg, size_t size);

#endif /* SW_TEST_SAMPLES_H */
