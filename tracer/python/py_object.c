/*
 * Reading Python objects out of the target: strings, bytes, ints and
 * types.  Every read is checked; a value that cannot be read is NULL/-1,
 * never a guess.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tracer/attach/target_mem.h"
#include "tracer/python/py_private.h"

#define PY_STR_PREFETCH 128	/* header and a short name in one read */
#define PY_LONG_DIGITS 3	/* 3 x 30 bits hold any thread ident */
#define PY_PTR_MIN 4096		/* below this a pointer is NULL or junk */
#define PY_CACHE_PROBES 8	/* linear probing before evicting */

int py_read(struct py_locator *loc, uint64_t addr, void *buf, size_t len)
{
	if (addr < PY_PTR_MIN)
		return -1;
	loc->reads++;
	return target_read(loc->pid, addr, buf, len);
}

int py_read_ptr(struct py_locator *loc, uint64_t addr, uint64_t *out)
{
	return py_read(loc, addr, out, sizeof(*out));
}

/* n pieces of len bytes: target_read_many's batches (a core's too) */
void py_read_many(struct py_locator *loc, const uint64_t *addr, size_t len,
		  uint8_t *bufs, bool *ok, size_t n)
{
	loc->reads += target_read_many(loc->pid, addr, len, bufs, ok, n);
}

/* Appends code point c to out as UTF-8; returns the bytes written. */
static size_t utf8_put(char *out, uint32_t c)
{
	if (c < 0x80) {
		out[0] = c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = 0xc0 | (c >> 6);
		out[1] = 0x80 | (c & 0x3f);
		return 2;
	}
	if (c < 0x10000) {
		out[0] = 0xe0 | (c >> 12);
		out[1] = 0x80 | ((c >> 6) & 0x3f);
		out[2] = 0x80 | (c & 0x3f);
		return 3;
	}
	if (c > 0x10ffff)
		c = 0xfffd;
	out[0] = 0xf0 | (c >> 18);
	out[1] = 0x80 | ((c >> 12) & 0x3f);
	out[2] = 0x80 | ((c >> 6) & 0x3f);
	out[3] = 0x80 | (c & 0x3f);
	return 4;
}

char *py_str_decode(struct py_locator *loc, uint64_t str,
		    const uint8_t *head, size_t head_len)
{
	const struct py_layout *l = &loc->layout;
	uint64_t type, length, data_addr;
	unsigned int state, kind;
	uint8_t *data = NULL;
	const uint8_t *src;
	char *out, *p;

	if (head_len < l->unicode_compact_size)
		return NULL;
	memcpy(&type, head + l->ob_type, sizeof(type));
	if (loc->types.unicode && type != loc->types.unicode)
		return NULL;
	memcpy(&length, head + l->unicode_length, sizeof(length));
	state = head[l->unicode_state];
	kind = (state >> 2) & 7;
	if (kind != 1 && kind != 2 && kind != 4)
		return NULL;
	if (length > PY_MAX_STRING)
		length = PY_MAX_STRING;
	if (!((state >> 5) & 1)) {	/* legacy string: data elsewhere */
		if (py_read_ptr(loc, str + l->unicode_compact_size, &data_addr))
			return NULL;
	} else {
		data_addr = str + (((state >> 6) & 1) ? l->unicode_ascii_size
						      : l->unicode_compact_size);
	}
	if (data_addr >= str && data_addr - str + length * kind <= head_len) {
		src = head + (data_addr - str);
	} else {
		data = xmalloc(length * kind + 1);
		if (py_read(loc, data_addr, data, length * kind)) {
			free(data);
			return NULL;
		}
		src = data;
	}
	out = p = xmalloc(length * 4 + 1);
	for (uint64_t i = 0; i < length; i++) {
		uint32_t c;

		if (kind == 1) {
			c = src[i];
		} else if (kind == 2) {
			uint16_t c16;

			memcpy(&c16, src + 2 * i, 2);
			c = c16;
		} else {
			memcpy(&c, src + 4 * i, 4);
		}
		p += utf8_put(p, c);
	}
	*p = '\0';
	free(data);
	return out;
}

char *py_str_read(struct py_locator *loc, uint64_t str)
{
	uint8_t head[PY_STR_PREFETCH];
	size_t len = sizeof(head);

	if (py_read(loc, str, head, len)) {
		/* near the end of a mapping: just the header */
		len = loc->layout.unicode_compact_size + sizeof(uint64_t);
		if (py_read(loc, str, head, len))
			return NULL;
	}
	return py_str_decode(loc, str, head, len);
}

uint8_t *py_bytes_read(struct py_locator *loc, uint64_t bytes, size_t max,
		       uint32_t *len)
{
	const struct py_layout *l = &loc->layout;
	uint64_t head[2];	/* ob_type, ob_size */
	uint8_t *buf;

	/* ob_size follows ob_type in both headers */
	if (py_read(loc, bytes + l->ob_type, head, sizeof(head)))
		return NULL;
	if (loc->types.bytes && head[0] != loc->types.bytes)
		return NULL;
	if ((int64_t)head[1] < 0 || head[1] > max)
		return NULL;
	buf = xmalloc(head[1] + 1);
	if (py_read(loc, bytes + l->bytes_data, buf, head[1])) {
		free(buf);
		return NULL;
	}
	*len = head[1];
	return buf;
}

int py_long_decode(struct py_locator *loc, const uint8_t *buf, size_t len,
		   uint64_t *out)
{
	const struct py_layout *l = &loc->layout;
	uint32_t digit[PY_LONG_DIGITS];
	uint64_t type, size, ndigits, value = 0;
	bool negative;

	if (len < l->long_digit + sizeof(digit[0]))
		return -1;
	memcpy(&type, buf + l->ob_type, sizeof(type));
	if (loc->types.long_ && type != loc->types.long_)
		return -1;
	memcpy(&size, buf + l->long_size, sizeof(size));
	if (l->long_tagged) {
		ndigits = size >> 3;
		negative = (size & 3) == 2;
	} else {
		negative = (int64_t)size < 0;
		ndigits = negative ? (uint64_t)-(int64_t)size : size;
	}
	if (ndigits > PY_LONG_DIGITS || negative ||
	    l->long_digit + ndigits * sizeof(digit[0]) > len)
		return -1;
	memcpy(digit, buf + l->long_digit, ndigits * sizeof(digit[0]));
	for (int i = ndigits - 1; i >= 0; i--)
		value = (value << 30) | (digit[i] & 0x3fffffff);
	*out = value;
	return 0;
}

#define PY_TPFLAGS_HEAPTYPE (1UL << 9)	/* only heap types have ht_* */

/* The builtin and extension types we know by their tp_name. */
static const struct {
	const char *name;
	enum py_type_kind kind;
} py_named_types[] = {
	{ "_thread.lock", PY_TYPE_LOCK },
	{ "_thread.RLock", PY_TYPE_RLOCK },
	{ "_multiprocessing.SemLock", PY_TYPE_SEMLOCK },
	{ "_io.BufferedWriter", PY_TYPE_BUFFERED },
	{ "_io.BufferedReader", PY_TYPE_BUFFERED },
	{ "_io.BufferedRandom", PY_TYPE_BUFFERED },
	{ "_io.TextIOWrapper", PY_TYPE_TEXTIO },
	{ "_queue.SimpleQueue", PY_TYPE_SIMPLEQUEUE },
};

/* Reads what we need of a type; classifies it by address or tp_name. */
static void py_type_fill(struct py_locator *loc, struct py_type *t)
{
	const struct py_layout *l = &loc->layout;
	uint8_t buf[1024];
	size_t len = l->type_dictoffset + 8;
	char name[PY_TYPE_NAME_MAX] = "";
	uint64_t name_addr;

	t->kind = PY_TYPE_OTHER;
	if (l->type_cached_keys + 8 > len)
		len = l->type_cached_keys + 8;
	if (len > sizeof(buf))
		return;
	/* a static type may end before ht_cached_keys: read less */
	if (py_read(loc, t->addr, buf, len)) {
		len = l->type_dictoffset + 8;
		if (py_read(loc, t->addr, buf, len))
			return;
	}
	memcpy(&t->flags, buf + l->type_flags, 8);
	memcpy(&t->basicsize, buf + l->type_basicsize, 8);
	memcpy(&t->dictoffset, buf + l->type_dictoffset, 8);
	if (l->type_cached_keys && (t->flags & PY_TPFLAGS_HEAPTYPE) &&
	    l->type_cached_keys + 8 <= len)
		memcpy(&t->cached_keys, buf + l->type_cached_keys, 8);
	if (t->addr == loc->types.cfunction)
		t->kind = PY_TYPE_CFUNCTION;
	else if (t->addr == loc->types.method)
		t->kind = PY_TYPE_METHOD;
	memcpy(&name_addr, buf + l->type_name, 8);
	/* near the end of a mapping: the longest name we classify */
	if (py_read(loc, name_addr, name, sizeof(name) - 1) &&
	    py_read(loc, name_addr, name, sizeof("_multiprocessing.SemLock")))
		return;
	name[sizeof(name) - 1] = '\0';
	memcpy(t->name, name, sizeof(t->name));
	if (t->addr == loc->types.cfunction || t->addr == loc->types.method)
		return;
	for (size_t i = 0; i < sizeof(py_named_types) /
			       sizeof(py_named_types[0]); i++)
		if (!strcmp(name, py_named_types[i].name)) {
			t->kind = py_named_types[i].kind;
			t->known_name = py_named_types[i].name;
		}
}

const struct py_type *py_type_get(struct py_locator *loc, uint64_t addr)
{
	size_t mask = PY_TYPE_CACHE_SIZE - 1, slot = (addr >> 4) & mask;
	struct py_type *t = NULL;

	if (addr < PY_PTR_MIN)
		return NULL;
	for (int probe = 0; probe < PY_CACHE_PROBES; probe++) {
		struct py_type *c = &loc->type_cache[(slot + probe) & mask];

		if (c->addr == addr)
			return c;
		if (!c->addr) {
			t = c;
			break;
		}
	}
	if (!t)
		t = &loc->type_cache[slot];
	memset(t, 0, sizeof(*t));
	t->addr = addr;
	py_type_fill(loc, t);
	return t;
}
