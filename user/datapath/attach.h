/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * How the datapath's programs attach to an interface, as a configuration
 * names it: no more than the modes, so that describing an interface does
 * not take the datapath's API along (datapath/datapath.h attaches).
 */
#ifndef SW_DATAPATH_ATTACH_H
#define SW_DATAPATH_ATTACH_H

enum sw_attach_mode {
	SW_ATTACH_TC,		/* spill_tc_in + spill_tc_out */
	SW_ATTACH_XDP,		/* spill_xdp + spill_tc_steer + spill_tc_out */
};

/* "tc" or "xdp"; -EINVAL for anything else. */
int sw_attach_mode_parse(const char *s, enum sw_attach_mode *mode);
const char *sw_attach_mode_name(enum sw_attach_mode mode);

#endif /* SW_DATAPATH_ATTACH_H */
