/*
 * Text the shim writes for run (lock-order loops, profiles) into memory
 * it mapped itself: no malloc, bounded, cut rather than overflowed.
 */
#ifndef PD_SHIM_TEXT_H
#define PD_SHIM_TEXT_H

#include <stddef.h>

struct shim_text {
	char *buf;
	size_t len, size;	/* len < size: buf stays NUL-terminated */
};

void shim_text_put(struct shim_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* s as a JSON string, quoted and escaped. */
void shim_text_json(struct shim_text *t, const char *s);

#endif
