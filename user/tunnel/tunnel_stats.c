// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "tunnel/tunnel_stats.h"

#define SW_NAME(name) #name,
const char *const sw_stream_result_names[SW_STREAM_N] = { SW_STREAM_RESULTS(SW_NAME) };
const char *const sw_hs_reason_names[SW_HS_N] = { SW_HS_REASONS(SW_NAME) };
#undef SW_NAME

enum sw_stream_result sw_stream_result_of(int status)
{
	switch (status) {
	case 0:
		return SW_STREAM_no_answer;
	case 200:
		return SW_STREAM_200;
	case 403:
		return SW_STREAM_403;
	case 405:
		return SW_STREAM_405;
	case 431:
		return SW_STREAM_431;
	case 502:
		return SW_STREAM_502;
	case 503:
		return SW_STREAM_503;
	}
	return SW_STREAM_other;
}

enum sw_hs_reason sw_hs_reason_of(const char *label)
{
	for (int i = 0; i < SW_HS_N; i++)
		if (!strcmp(label, sw_hs_reason_names[i]))
			return i;
	return SW_HS_other;
}
