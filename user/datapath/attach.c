// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <string.h>

#include "lib/util.h"
#include "datapath/attach.h"

static const char *const mode_names[] = {
	[SW_ATTACH_TC] = "tc",
	[SW_ATTACH_XDP] = "xdp",
};

int sw_attach_mode_parse(const char *s, enum sw_attach_mode *mode)
{
	for (size_t i = 0; i < ARRAY_SIZE(mode_names); i++) {
		if (!strcmp(s, mode_names[i])) {
			*mode = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *sw_attach_mode_name(enum sw_attach_mode mode)
{
	return mode_names[mode];
}
