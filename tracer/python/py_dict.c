/*
 * Reading dicts: the keys table of 3.9/3.10 and the kinds (general,
 * unicode, split) of 3.11+.  Where an instance keeps its attributes is
 * in py_names.c, the one reader of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tracer/python/py_private.h"

#define PY_MAX_DICT_ENTRIES (1 << 16)	/* larger dicts are not read */
#define PY_KEY_PREFETCH 96	/* a str header and a short key in one read */
#define PY_DICT_KEYS_GENERAL 0	/* 3.11+ dk_kind: entries with a hash */

/* A keys table read into memory: n entries of entry_size bytes. */
struct py_keys {
	uint64_t n;
	size_t entry_size, key_off, value_off;
	uint8_t *buf;
};

/* Reads the header and the entries of the keys object at addr. */
static int py_keys_read(struct py_locator *loc, uint64_t addr,
			struct py_keys *k)
{
	uint8_t head[40];
	uint64_t indices, size, index_bytes;

	memset(k, 0, sizeof(*k));
	if (py_read(loc, addr, head, sizeof(head)))
		return -1;
	if (loc->layout.dict_kind == PY_DICT_310) {
		memcpy(&size, head + 8, 8);
		memcpy(&k->n, head + 32, 8);
		indices = addr + 40;
		if (size > PY_MAX_DICT_ENTRIES * 2 || (size & (size - 1)))
			return -1;
		index_bytes = size * (size <= 0xff ? 1 : size <= 0xffff ? 2 : 4);
		k->entry_size = 24;
	} else {
		memcpy(&k->n, head + 24, 8);
		indices = addr + 32;
		if (head[9] > 24)
			return -1;
		index_bytes = 1ULL << head[9];
		k->entry_size = head[10] == PY_DICT_KEYS_GENERAL ? 24 : 16;
	}
	if (k->n > PY_MAX_DICT_ENTRIES)
		return -1;
	k->key_off = k->entry_size - 16;
	k->value_off = k->entry_size - 8;
	k->buf = xmalloc(k->n * k->entry_size + 1);
	if (py_read(loc, indices + index_bytes, k->buf, k->n * k->entry_size)) {
		free(k->buf);
		k->buf = NULL;
		return -1;
	}
	return 0;
}

static uint64_t py_keys_at(const struct py_keys *k, uint64_t i, size_t off)
{
	uint64_t v;

	memcpy(&v, k->buf + i * k->entry_size + off, sizeof(v));
	return v;
}

/* Index of the str key equal to name, or -1: all keys in one batch. */
static int64_t py_keys_find(struct py_locator *loc, const struct py_keys *k,
			    const char *name)
{
	size_t name_len = strlen(name);
	uint64_t *addr = xmalloc((k->n + 1) * sizeof(*addr));
	uint8_t *heads = xmalloc((k->n + 1) * PY_KEY_PREFETCH);
	bool *ok = xmalloc((k->n + 1) * sizeof(*ok));
	int64_t found = -1;

	for (uint64_t i = 0; i < k->n; i++)
		addr[i] = py_keys_at(k, i, k->key_off);
	py_read_many(loc, addr, PY_KEY_PREFETCH, heads, ok, k->n);
	for (uint64_t i = 0; i < k->n && found < 0; i++) {
		uint8_t *h = heads + i * PY_KEY_PREFETCH;
		uint64_t len;
		char *s;

		if (!ok[i])
			continue;
		memcpy(&len, h + loc->layout.unicode_length, sizeof(len));
		if (len != name_len)
			continue;
		s = py_str_decode(loc, addr[i], h, PY_KEY_PREFETCH);
		if (s && !strcmp(s, name))
			found = i;
		free(s);
	}
	free(addr);
	free(heads);
	free(ok);
	return found;
}

/* Value i of a split table's values array. */
static uint64_t py_values_at(struct py_locator *loc, uint64_t values,
			     int64_t i)
{
	uint64_t v = 0;

	if (py_read_ptr(loc, values + loc->layout.dict_values_items + 8 * i,
			&v))
		return 0;
	return v;
}

uint64_t py_dict_get_str(struct py_locator *loc, uint64_t dict,
			 const char *name)
{
	uint64_t head[2], value = 0;	/* ma_keys, ma_values */
	struct py_keys k;
	int64_t i;

	if (py_read(loc, dict + loc->layout.dict_keys, head, sizeof(head)) ||
	    py_keys_read(loc, head[0], &k))
		return 0;
	i = py_keys_find(loc, &k, name);
	if (i >= 0)
		value = head[1] ? py_values_at(loc, head[1], i)
				: py_keys_at(&k, i, k.value_off);
	free(k.buf);
	return value;
}

int py_dict_each(struct py_locator *loc, uint64_t dict, int max,
		 void (*fn)(void *ctx, uint64_t key, uint64_t value),
		 void *ctx)
{
	uint64_t head[2];
	struct py_keys k;
	uint64_t *values = NULL;

	if (py_read(loc, dict + loc->layout.dict_keys, head, sizeof(head)) ||
	    py_keys_read(loc, head[0], &k))
		return -1;
	if (head[1]) {
		values = xmalloc(k.n * sizeof(*values) + 1);
		if (py_read(loc, head[1] + loc->layout.dict_values_items,
			    values, k.n * sizeof(*values))) {
			free(values);
			free(k.buf);
			return -1;
		}
	}
	for (uint64_t i = 0, seen = 0; i < k.n && seen < (uint64_t)max; i++) {
		uint64_t key = py_keys_at(&k, i, k.key_off);
		uint64_t value = values ? values[i]
					: py_keys_at(&k, i, k.value_off);

		if (key && value) {
			fn(ctx, key, value);
			seen++;
		}
	}
	free(values);
	free(k.buf);
	return 0;
}

int64_t py_shared_index(struct py_locator *loc, uint64_t keys,
			const char *name)
{
	struct py_keys k;
	int64_t i;

	if (loc->keys_memo.keys == keys && keys &&
	    !strcmp(loc->keys_memo.name, name))
		return loc->keys_memo.index;
	if (py_keys_read(loc, keys, &k))
		return -1;
	i = py_keys_find(loc, &k, name);
	free(k.buf);
	loc->keys_memo.keys = keys;
	snprintf(loc->keys_memo.name, sizeof(loc->keys_memo.name), "%s", name);
	loc->keys_memo.index = i;
	return i;
}
