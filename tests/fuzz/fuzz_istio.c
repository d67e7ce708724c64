// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* `spillway istio import`: any bytes give a config or an error. */
#include <stdio.h>

#include "fuzz.h"
#include "config/istio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ifaces[] = { SW_ISTIO_DEFAULT_INTERFACE };
	static const char *const ids[] = { SW_ISTIO_DEFAULT_IDENTITY };
	const struct sw_istio_opts o = {
		.cluster = SW_ISTIO_DEFAULT_CLUSTER,
		.interfaces = ifaces, .n_interfaces = 1,
		.tls_dir = SW_ISTIO_DEFAULT_TLS_DIR,
		.identities = ids, .n_identities = 1,
		.network = SW_ISTIO_DEFAULT_NETWORK,
	};
	char *text = fuzz_text(data, size);
	struct sw_istio_input in = { "fuzz.yaml", text, size };
	struct sw_config cfg = {};
	struct sw_error e = {};
	FILE *notes = fopen("/dev/null", "w");

	if (!notes)
		abort();
	if (!sw_istio_import(&o, &in, 1, &cfg, notes, &e))
		sw_config_free(&cfg);
	fclose(notes);
	free(text);
	return 0;
}
