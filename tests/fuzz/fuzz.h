/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What every libFuzzer harness shares: the input as a C string. */
#ifndef SW_TESTS_FUZZ_H
#define SW_TESTS_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* data[0..size) and a NUL (the parsers take text that ends in one). */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	return text;
}

#endif /* SW_TESTS_FUZZ_H */
