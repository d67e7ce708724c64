// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* `spillway top` reading an agent's `status --json` (json-c). */
#include "fuzz.h"
#include "cli/top.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sw_top_sample s;
	struct sw_error e = {};
	char *text = fuzz_text(data, size);

	if (!sw_top_sample_parse(text, 1.0, &s, &e))
		sw_top_sample_free(&s);
	free(text);
	return 0;
}
