// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The configuration file parser: any bytes give a config or an error. */
#include "fuzz.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sw_config cfg = {};
	struct sw_error e = {};
	char *text = fuzz_text(data, size);

	if (!sw_config_parse("fuzz.yaml", text, size, &cfg, &e))
		sw_config_free(&cfg);
	free(text);
	return 0;
}
