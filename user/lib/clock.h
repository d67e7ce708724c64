/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The one clock userspace compares with the datapath's stamps. */
#ifndef SW_LIB_CLOCK_H
#define SW_LIB_CLOCK_H

#include <linux/types.h>

/* CLOCK_MONOTONIC_COARSE in ns: the clock of bpf_ktime_get_coarse_ns. */
__u64 sw_now_ns(void);

#endif /* SW_LIB_CLOCK_H */
