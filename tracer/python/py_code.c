/*
 * Code objects: file, function, first line and line table, read once
 * per capture and kept by address, because the same functions appear on
 * many threads' stacks.
 */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tracer/python/py_private.h"

#define PY_CODE_PROBES 8	/* linear probing before evicting a slot */
/* larger bytecode or exception tables are not read: no `with` analysis */
#define PY_MAX_BYTECODE (1 << 20)
#define PY_MAX_EXCTABLE (1 << 20)

static void py_code_clear(struct py_code *c)
{
	free(c->file);
	free(c->function);
	free(c->lines);
	free(c->bytecode);
	free(c->exc);
	memset(c, 0, sizeof(*c));
}

void py_code_cache_clear(struct py_locator *loc)
{
	for (int i = 0; i < PY_CODE_CACHE_SIZE; i++)
		if (loc->codes[i].addr)
			py_code_clear(&loc->codes[i]);
}

static int32_t get_i32(const uint8_t *buf, uint32_t off)
{
	int32_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

static uint64_t get_u64(const uint8_t *buf, uint32_t off)
{
	uint64_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

/* Reads the code object at addr into c; -1 if it is not one. */
static int py_code_fill(struct py_locator *loc, uint64_t addr,
			struct py_code *c)
{
	const struct py_layout *l = &loc->layout;
	uint8_t buf[256];

	if (l->code_size > sizeof(buf) || py_read(loc, addr, buf, l->code_size))
		return -1;
	if (loc->types.code &&
	    get_u64(buf, loc->layout.ob_type) != loc->types.code)
		return -1;
	c->addr = addr;
	c->firstlineno = get_i32(buf, l->code_firstlineno);
	c->nlocalsplus = get_i32(buf, l->code_nlocalsplus);
	c->stacksize = get_i32(buf, l->code_stacksize);
	if (l->code_firsttraceable)
		c->firsttraceable = get_i32(buf, l->code_firsttraceable);
	c->file = py_str_read(loc, get_u64(buf, l->code_filename));
	c->function = py_str_read(loc, get_u64(buf, l->code_name));
	c->lines = py_bytes_read(loc, get_u64(buf, l->code_linetable),
				 PY_MAX_LINETABLE, &c->lines_len);
	if (l->code_code)
		c->code_bytes = get_u64(buf, l->code_code);
	if (l->code_exceptiontable) {
		c->exctable = get_u64(buf, l->code_exceptiontable);
		c->n_units = get_u64(buf, l->var_size);
	}
	return 0;
}

/* Reads the bytecode and the exception table of c, once. */
static void py_code_body_read(struct py_locator *loc, struct py_code *c)
{
	const struct py_layout *l = &loc->layout;
	uint64_t len = c->n_units * 2;

	c->body_tried = true;
	if (c->code_bytes) {
		c->bytecode = py_bytes_read(loc, c->code_bytes, PY_MAX_BYTECODE,
					    &c->bytecode_len);
		return;
	}
	if (!c->exctable || !len || len > PY_MAX_BYTECODE)
		return;
	c->bytecode = xmalloc(len);
	if (py_read(loc, c->addr + l->code_adaptive, c->bytecode, len)) {
		free(c->bytecode);
		c->bytecode = NULL;
		return;
	}
	c->bytecode_len = len;
	c->exc = py_bytes_read(loc, c->exctable, PY_MAX_EXCTABLE, &c->exc_len);
}

/* The cache entry of the code object at addr, read on first use. */
static struct py_code *py_code_entry(struct py_locator *loc, uint64_t addr)
{
	size_t mask = PY_CODE_CACHE_SIZE - 1, slot = (addr >> 4) & mask;
	struct py_code *c = NULL;

	for (int probe = 0; probe < PY_CODE_PROBES; probe++) {
		struct py_code *e = &loc->codes[(slot + probe) & mask];

		if (e->addr == addr)
			return e;
		if (!e->addr) {
			c = e;
			break;
		}
	}
	if (!c) {
		c = &loc->codes[slot];
		py_code_clear(c);
	}
	if (py_code_fill(loc, addr, c)) {
		py_code_clear(c);
		return NULL;
	}
	return c;
}

const struct py_code *py_code_get(struct py_locator *loc, uint64_t addr)
{
	return py_code_entry(loc, addr);
}

const struct py_code *py_code_body(struct py_locator *loc, uint64_t addr)
{
	struct py_code *c = py_code_entry(loc, addr);

	if (c && !c->body_tried)
		py_code_body_read(loc, c);
	return c;
}

int py_code_line(const struct py_locator *loc, const struct py_code *code,
		 int64_t lasti_bytes)
{
	if (lasti_bytes < 0)
		return code->firstlineno > 0 ? code->firstlineno : 0;
	if (!code->lines)
		return 0;
	switch (loc->layout.lines_kind) {
	case PY_LINES_LNOTAB:
		return py_lines_lnotab(code->lines, code->lines_len,
				       code->firstlineno, lasti_bytes);
	case PY_LINES_LINETABLE:
		return py_lines_linetable(code->lines, code->lines_len,
					  code->firstlineno, lasti_bytes);
	case PY_LINES_LOCATIONS:
		return py_lines_locations(code->lines, code->lines_len,
					  code->firstlineno, lasti_bytes);
	}
	return 0;
}

int py_code_position(struct py_locator *loc, uint64_t code, int64_t lasti,
		     char **file, char **function, int *line)
{
	const struct py_code *c = code ? py_code_get(loc, code) : NULL;

	if (!c)
		return -1;
	*file = xstrdup(c->file);
	*function = xstrdup(c->function);
	*line = py_code_line(loc, c, lasti);
	return 0;
}

bool py_file_in_library(const char *file)
{
	return file && (!strncmp(file, "<frozen ", 8) ||
			(strstr(file, "/lib/python3") && !strstr(file, "-packages/")));
}
