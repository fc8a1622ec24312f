/*
 * The three ways CPython maps a bytecode offset to a source line.  Each
 * decoder takes the table bytes, the code's first line and the byte
 * offset of the instruction, and returns its line, or 0 when the table
 * says it has none or ends before it.
 */
#include <stddef.h>
#include <stdint.h>

#include "tracer/python/py_private.h"

/*
 * 3.9 co_lnotab: (address increment, signed line increment) byte pairs;
 * the line grows until the address passes the instruction.
 */
int py_lines_lnotab(const uint8_t *t, size_t len, int first, int64_t addr)
{
	int64_t at = 0;
	int line = first;

	for (size_t i = 0; i + 1 < len; i += 2) {
		at += t[i];
		if (at > addr)
			break;
		line += (int8_t)t[i + 1];
	}
	return line > 0 ? line : 0;
}

/*
 * 3.10 co_linetable: (range length, signed line delta) byte pairs, each
 * a range of bytecode with one line; a delta of -128 means no line.
 */
int py_lines_linetable(const uint8_t *t, size_t len, int first, int64_t addr)
{
	int64_t start, end = 0;
	int line = first;

	for (size_t i = 0; i + 1 < len; i += 2) {
		int delta = (int8_t)t[i + 1];

		start = end;
		end += t[i];
		if (delta != -128)
			line += delta;
		if (addr >= start && addr < end)
			return delta == -128 || line < 0 ? 0 : line;
	}
	return 0;
}

/* 3.11+ location table varints: 6 bits a byte, bit 6 continues. */
static uint64_t read_varint(const uint8_t *t, size_t len, size_t *i)
{
	uint64_t value = 0;
	unsigned int shift = 0;

	while (*i < len && shift < 64) {
		uint8_t b = t[(*i)++];

		value |= (uint64_t)(b & 63) << shift;
		shift += 6;
		if (!(b & 64))
			break;
	}
	return value;
}

static int64_t read_svarint(const uint8_t *t, size_t len, size_t *i)
{
	uint64_t u = read_varint(t, len, i);

	return u & 1 ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
}

#define PY_LOC_NONE 15		/* entry has no location */
#define PY_LOC_LONG 14		/* line delta, end line, columns: varints */
#define PY_LOC_NO_COLUMNS 13	/* just a line delta */
#define PY_LOC_ONE_LINE0 10	/* 10..12: line delta 0..2, two columns */

/*
 * 3.11+ co_linetable (Objects/locations.md): entries whose first byte
 * is 1, a 4-bit code and (length - 1) in code units; the code says how
 * the line delta and columns follow.
 */
int py_lines_locations(const uint8_t *t, size_t len, int first, int64_t addr)
{
	int64_t unit = addr / 2, start, end = 0, line = first;
	size_t i = 0;

	while (i < len) {
		uint8_t b = t[i++];
		int code = (b >> 3) & 15;
		int64_t delta = 0;

		if (!(b & 0x80))
			return 0;	/* not at an entry start: corrupt */
		start = end;
		end += (b & 7) + 1;
		if (code == PY_LOC_NONE) {
			delta = 0;
		} else if (code == PY_LOC_LONG) {
			delta = read_svarint(t, len, &i);
			read_varint(t, len, &i);	/* end line delta */
			read_varint(t, len, &i);	/* column + 1 */
			read_varint(t, len, &i);	/* end column + 1 */
		} else if (code == PY_LOC_NO_COLUMNS) {
			delta = read_svarint(t, len, &i);
		} else if (code >= PY_LOC_ONE_LINE0) {
			delta = code - PY_LOC_ONE_LINE0;
			i += 2;			/* column, end column */
		} else {
			i += 1;			/* short form: columns */
		}
		line += delta;
		if (unit >= start && unit < end)
			return code == PY_LOC_NONE || line < 0 ? 0 : line;
	}
	return 0;
}
