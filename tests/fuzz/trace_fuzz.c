/*
 * libFuzzer's entry for the serial trace parser (runtime/trace.c): any
 * bytes must parse or be refused with a message, never crash, leak or
 * read out of bounds (built with AddressSanitizer and UBSan by
 * tests/serial/fuzz.test).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "runtime/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace t;
	char err[256];

	if (trace_parse((const char *)data, size, &t, err, sizeof(err)) == 0)
		trace_free(&t);
	else if (!memchr(err, '\0', sizeof(err)))
		__builtin_trap();	/* the message must end */
	return 0;
}
