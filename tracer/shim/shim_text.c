/* The shim's bounded text buffers (tracer/shim/shim_text.h). */
#include <stdarg.h>
#include <stdio.h>

#include "tracer/shim/shim_text.h"

void shim_text_put(struct shim_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->len + 1 >= t->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
	va_end(ap);
	t->len += n > 0 ? (size_t)n : 0;
	if (t->len >= t->size)
		t->len = t->size - 1;
}

void shim_text_json(struct shim_text *t, const char *s)
{
	shim_text_put(t, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			shim_text_put(t, "\\%c", c);
		else if (c < 0x20)
			shim_text_put(t, "\\u%04x", c);
		else
			shim_text_put(t, "%c", c);
	}
	shim_text_put(t, "\"");
}
