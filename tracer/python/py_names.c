/*
 * Thread names: threading._active maps each thread's ident to its
 * Thread object, whose _name is what the user called the thread.  Found
 * through the interpreter's sys.modules.  All threads go through each
 * step together, one process_vm_readv per step.  Anything unreadable
 * just leaves the name NULL (the caller falls back to /proc comm).
 *
 * Also the one reader of an instance's attributes, on every layout: a
 * dict at tp_dictoffset (<= 3.10), managed values or dict (3.11, 3.12),
 * values inline after the object (3.13).
 */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tracer/python/py_private.h"

#define PY_NAME_ATTR "_name"	/* threading.Thread's name attribute */
#define PY_OBJ_BEFORE 32	/* read obj-32 .. obj+64: the pre-header, */
#define PY_OBJ_AFTER 64		/* the header and inline values' start */
#define PY_NAME_PREFETCH 128	/* a str header and a usual thread name */
#define PY_TPFLAGS_INLINE_VALUES (1UL << 2)
#define PY_TPFLAGS_MANAGED_DICT (1UL << 4)

/* One _active entry on its way to a name. */
struct py_name_job {
	uint64_t key, thread;	/* ident int, Thread object */
	int index;		/* the py_thread it names, -1 = none */
};

struct py_names_ctx {
	struct py_name_job *jobs;
	int n, cap;
};

/*
 * Attribute step 1: where each instance keeps attribute name: sets
 * slot[i] (the address of the value's pointer) when its type's layout
 * says, else dict[i] (its instance dict) when it has one.
 */
static void py_attrs_where(struct py_locator *loc, const uint64_t *objs,
			   int n, const char *name, uint64_t *dict,
			   uint64_t *slot)
{
	const struct py_layout *l = &loc->layout;
	size_t len = PY_OBJ_BEFORE + PY_OBJ_AFTER;
	uint64_t *addr = xmalloc((n + 1) * sizeof(*addr));
	uint8_t *buf = xmalloc((size_t)(n + 1) * len);
	bool *ok = xmalloc((n + 1) * sizeof(*ok));

	for (int i = 0; i < n; i++)
		addr[i] = objs[i] > PY_OBJ_BEFORE ? objs[i] - PY_OBJ_BEFORE : 0;
	py_read_many(loc, addr, len, buf, ok, n);
	for (int i = 0; i < n; i++) {
		const uint8_t *b = buf + (size_t)i * len;
		const uint8_t *obj = b + PY_OBJ_BEFORE;
		const struct py_type *t;
		uint64_t type, values, managed, off;
		int64_t idx;

		if (!ok[i])
			continue;
		memcpy(&type, obj + l->ob_type, 8);
		memcpy(&values, b, 8);		/* obj-32: 3.11's values */
		memcpy(&managed, obj + l->managed_dict, 8);
		if (!(t = py_type_get(loc, type)))
			continue;
		if (l->attrs_kind == PY_ATTRS_DICTOFFSET ||
		    !(t->flags & PY_TPFLAGS_MANAGED_DICT)) {
			off = t->dictoffset;
			if ((int64_t)off > 0 && off + 8 <= PY_OBJ_AFTER)
				memcpy(&dict[i], obj + off, 8);
			else if ((int64_t)off > 0)
				py_read_ptr(loc, objs[i] + off, &dict[i]);
			continue;
		}
		dict[i] = managed;
		idx = py_shared_index(loc, t->cached_keys, name);
		if (idx < 0)
			continue;
		if (l->attrs_kind == PY_ATTRS_MANAGED_311 && values) {
			slot[i] = values + 8 * idx;
		} else if (l->attrs_kind == PY_ATTRS_MANAGED_312 &&
			   (managed & 1)) {
			slot[i] = managed + 1 + 8 * idx;
		} else if (l->attrs_kind == PY_ATTRS_INLINE_313 &&
			   (t->flags & PY_TPFLAGS_INLINE_VALUES) &&
			   t->basicsize + 4 <= PY_OBJ_AFTER &&
			   obj[t->basicsize + 3]) {	/* values valid */
			slot[i] = objs[i] + t->basicsize +
				  l->dict_values_items + 8 * idx;
		}
		if (slot[i])
			dict[i] = 0;
	}
	free(addr);
	free(buf);
	free(ok);
}

/*
 * Attribute step 2: a split dict (the usual instance __dict__) gives a
 * slot too; a combined one is looked up alone, straight into value[i].
 */
static void py_attrs_dicts(struct py_locator *loc, int n, const char *name,
			   const uint64_t *dict, uint64_t *slot,
			   uint64_t *value)
{
	const struct py_layout *l = &loc->layout;
	uint64_t *addr = xmalloc((n + 1) * sizeof(*addr));
	uint64_t *head = xmalloc((n + 1) * 2 * sizeof(*head));
	bool *ok = xmalloc((n + 1) * sizeof(*ok));

	for (int i = 0; i < n; i++)
		addr[i] = dict[i] ? dict[i] + l->dict_keys : 0;
	py_read_many(loc, addr, 2 * sizeof(*head), (uint8_t *)head, ok, n);
	for (int i = 0; i < n; i++) {
		uint64_t keys = head[2 * i], values = head[2 * i + 1];
		int64_t idx;

		if (!ok[i])
			continue;
		if (values && (idx = py_shared_index(loc, keys, name)) >= 0)
			slot[i] = values + l->dict_values_items + 8 * idx;
		else	/* a combined table */
			value[i] = py_dict_get_str(loc, dict[i], name);
	}
	free(addr);
	free(head);
	free(ok);
}

void py_attrs_get(struct py_locator *loc, const uint64_t *objs, int n,
		  const char *name, uint64_t *value)
{
	uint64_t *dict = xcalloc(n + 1, sizeof(*dict));
	uint64_t *slot = xcalloc(n + 1, sizeof(*slot));
	uint64_t *ptr = xmalloc((n + 1) * sizeof(*ptr));
	bool *ok = xmalloc((n + 1) * sizeof(*ok));

	memset(value, 0, n * sizeof(*value));
	py_attrs_where(loc, objs, n, name, dict, slot);
	py_attrs_dicts(loc, n, name, dict, slot, value);
	/* step 3: the values' pointers, from their slots */
	py_read_many(loc, slot, sizeof(*ptr), (uint8_t *)ptr, ok, n);
	for (int i = 0; i < n; i++)
		if (ok[i])
			value[i] = ptr[i];
	free(dict);
	free(slot);
	free(ptr);
	free(ok);
}

uint64_t py_attr_get(struct py_locator *loc, uint64_t obj, const char *name)
{
	uint64_t value;

	py_attrs_get(loc, &obj, 1, name, &value);
	return value;
}

static void py_names_collect(void *arg, uint64_t key, uint64_t thread)
{
	struct py_names_ctx *ctx = arg;

	if (ctx->n == ctx->cap)
		return;
	ctx->jobs[ctx->n].key = key;
	ctx->jobs[ctx->n++].thread = thread;
}

/* The threading._active dict of interp, or 0. */
static uint64_t py_active_dict(struct py_locator *loc, uint64_t interp)
{
	uint64_t modules, threading, dict;

	if (py_read_ptr(loc, interp + loc->layout.interp_modules, &modules) ||
	    !modules)
		return 0;
	threading = py_dict_get_str(loc, modules, "threading");
	if (!threading ||
	    py_read_ptr(loc, threading + loc->layout.module_dict, &dict))
		return 0;
	return py_dict_get_str(loc, dict, "_active");
}

/* Step 1: which thread state each entry names, by ident. */
static void py_names_match(struct py_locator *loc, struct py_name_job *jobs,
			   int n, struct py_thread *t, int n_t)
{
	uint64_t *addr = xmalloc((n + 1) * sizeof(*addr));
	uint8_t *buf = xmalloc((size_t)(n + 1) * PY_LONG_HEAD);
	bool *ok = xmalloc((n + 1) * sizeof(*ok));

	for (int i = 0; i < n; i++)
		addr[i] = jobs[i].key;
	py_read_many(loc, addr, PY_LONG_HEAD, buf, ok, n);
	for (int i = 0; i < n; i++) {
		uint64_t ident;

		jobs[i].index = -1;
		if (!ok[i] || py_long_decode(loc, buf + (size_t)i * PY_LONG_HEAD,
					     PY_LONG_HEAD, &ident))
			continue;
		for (int k = 0; k < n_t; k++)
			if (t[k].ident == ident && !t[k].name)
				jobs[i].index = k;
	}
	free(addr);
	free(buf);
	free(ok);
}

/* Steps 2 to 4: the _name of each matched Thread (py_attrs_get). */
static void py_names_attrs(struct py_locator *loc,
			   const struct py_name_job *jobs, int n,
			   uint64_t *names)
{
	uint64_t *threads = xmalloc((n + 1) * sizeof(*threads));

	for (int i = 0; i < n; i++)
		threads[i] = jobs[i].index >= 0 ? jobs[i].thread : 0;
	py_attrs_get(loc, threads, n, PY_NAME_ATTR, names);
	free(threads);
}

/* Step 5: the strings. */
static void py_names_strings(struct py_locator *loc,
			     const struct py_name_job *jobs, int n,
			     const uint64_t *names, struct py_thread *t)
{
	uint64_t *addr = xmalloc((n + 1) * sizeof(*addr));
	uint8_t *buf = xmalloc((size_t)(n + 1) * PY_NAME_PREFETCH);
	bool *ok = xmalloc((n + 1) * sizeof(*ok));

	for (int i = 0; i < n; i++)
		addr[i] = jobs[i].index >= 0 ? names[i] : 0;
	py_read_many(loc, addr, PY_NAME_PREFETCH, buf, ok, n);
	for (int i = 0; i < n; i++) {
		if (jobs[i].index < 0 || !names[i])
			continue;
		if (ok[i])
			t[jobs[i].index].name = py_str_decode(loc, names[i],
					buf + (size_t)i * PY_NAME_PREFETCH,
					PY_NAME_PREFETCH);
		else	/* near the end of a mapping: read it exactly */
			t[jobs[i].index].name = py_str_read(loc, names[i]);
	}
	free(addr);
	free(buf);
	free(ok);
}

void py_names_read(struct py_locator *loc, uint64_t interp,
		   struct py_thread *t, int n)
{
	struct py_names_ctx ctx = { NULL, 0, PY_MAX_THREADS };
	uint64_t active, *names;

	if (!n || !(active = py_active_dict(loc, interp)))
		return;
	ctx.jobs = xcalloc(ctx.cap, sizeof(*ctx.jobs));
	if (py_dict_each(loc, active, ctx.cap, py_names_collect, &ctx)) {
		debug_msg("python: threading._active unreadable");
	} else {
		names = xmalloc((ctx.n + 1) * sizeof(*names));
		py_names_match(loc, ctx.jobs, ctx.n, t, n);
		py_names_attrs(loc, ctx.jobs, ctx.n, names);
		py_names_strings(loc, ctx.jobs, ctx.n, names, t);
		free(names);
	}
	free(ctx.jobs);
}
