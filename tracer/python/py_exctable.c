/*
 * The exception table of 3.11+ code objects (co_exceptiontable, see
 * Objects/exception_handling_notes.txt): entries sorted by start, each
 * four varints of 6 bits a byte (bit 6: more follows; bit 7 marks an
 * entry's first byte): start, size, target, depth << 1 | lasti, all in
 * code units.  Entries do not overlap: the one covering an instruction
 * is the innermost handler there.
 */
#include "tracer/python/py_private.h"

#define PY_VARINT_MORE 0x40
#define PY_VARINT_BITS 6
#define PY_VARINT_MAX_BYTES 5	/* 30 bits: any offset of a code object */

/* Decodes a varint at *p (before end); -1 when the table is cut. */
static int64_t py_varint(const uint8_t **p, const uint8_t *end)
{
	int64_t v = 0;

	for (int i = 0; i < PY_VARINT_MAX_BYTES && *p < end; i++) {
		uint8_t b = *(*p)++;

		v = (v << PY_VARINT_BITS) | (b & 0x3f);
		if (!(b & PY_VARINT_MORE))
			return v;
	}
	return -1;
}

/* Reads the entry at *p; 0, or -1 at the end or on a malformed table. */
static int py_exc_next(const uint8_t **p, const uint8_t *end,
		       struct py_exc_entry *e)
{
	int64_t start, size, target, depth;

	if (*p >= end)
		return -1;
	start = py_varint(p, end);
	size = py_varint(p, end);
	target = py_varint(p, end);
	depth = py_varint(p, end);
	if (start < 0 || size < 0 || target < 0 || depth < 0)
		return -1;
	e->start = start;
	e->end = start + size;
	e->target = target;
	e->depth = depth >> 1;
	e->lasti = depth & 1;
	return 0;
}

int py_exc_find(const uint8_t *table, size_t len, int64_t offset,
		struct py_exc_entry *out)
{
	const uint8_t *p = table, *end = table + len;
	struct py_exc_entry e;

	while (!py_exc_next(&p, end, &e)) {
		if (e.start > offset)
			return -1;	/* sorted: no later entry covers it */
		if (offset < e.end) {
			*out = e;
			return 0;
		}
	}
	return -1;
}

int64_t py_exc_first_start(const uint8_t *table, size_t len, int64_t target)
{
	const uint8_t *p = table, *end = table + len;
	struct py_exc_entry e;

	while (!py_exc_next(&p, end, &e))
		if (e.target == target)
			return e.start;	/* sorted: the first is lowest */
	return -1;
}
