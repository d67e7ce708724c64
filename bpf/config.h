/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Load-time settings: read-only after load, set by the loader through the
 * skeleton's rodata before the programs are verified.
 */
#ifndef SW_BPF_CONFIG_H
#define SW_BPF_CONFIG_H

#include "spillway/defaults.h"

/* Mark put on packets assigned to the endpoint (matched by the policy route). */
const volatile __u32 steer_mark = SW_DEFAULT_STEER_MARK;
/* Mark of the agent's own sockets: such packets are never steered or counted. */
const volatile __u32 bypass_mark = SW_DEFAULT_BYPASS_MARK;
/*
 * XDP mode: spill_xdp hands its steering decisions to spill_tc_steer in the
 * packet's metadata (bpf_xdp_adjust_meta). Set only where the loader's probe
 * found the kernel accepts the helper in XDP programs (Linux 6.18.44 here
 * refuses it); without it the verifier never sees the call, and
 * spill_tc_steer reads each decision back from the flow table (handoff.h).
 */
const volatile bool xdp_meta = false;

#endif /* SW_BPF_CONFIG_H */
