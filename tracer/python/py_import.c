/*
 * importlib's module locks (Lib/importlib/_bootstrap.py, 3.9 to 3.13):
 * a thread that imports a module another thread is importing waits in
 * _ModuleLock.acquire, whose self is the module's _ModuleLock: name is
 * the module, owner the importing thread's ident (None when free), count
 * its recursion (an int up to 3.11, a list of True from 3.12).
 * _module_locks maps each module being imported to a weak reference to
 * its _ModuleLock.
 */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tracer/python/py_private.h"

#define PY_IMPORT_MODULE "_frozen_importlib"	/* importlib._bootstrap */
#define PY_IMPORT_LOCKS "_module_locks"
#define PY_IMPORT_FUNCTION "acquire"		/* _ModuleLock.acquire */
/* the frozen module's file name, and the source's (frozen off) */
#define PY_IMPORT_FROZEN "importlib._bootstrap>"
#define PY_IMPORT_SOURCE "/importlib/_bootstrap.py"
#define PY_IMPORT_MAX_LOCKS 4096	/* modules imported at once */
#define PY_COUNT_IS_LIST 0x030c0000	/* count became a list in 3.12 */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = s ? strlen(s) : 0, k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* An int object's value, 0 for None or anything unreadable. */
static uint64_t py_int_value(struct py_locator *loc, uint64_t obj)
{
	uint8_t num[PY_LONG_HEAD];
	uint64_t v;

	if (!obj || obj == loc->none || py_read(loc, obj, num, sizeof(num)) ||
	    py_long_decode(loc, num, sizeof(num), &v))
		return 0;
	return v;
}

/* count: an int up to 3.11, from 3.12 a list as long as the count. */
static uint64_t py_count_value(struct py_locator *loc, uint64_t obj)
{
	uint64_t n;

	if (loc->hexversion < PY_COUNT_IS_LIST)
		return py_int_value(loc, obj);
	if (!obj || py_read_ptr(loc, obj + loc->layout.var_size, &n) ||
	    (int64_t)n < 0)
		return 0;
	return n;
}

int py_module_lock_wait(struct py_locator *loc, const struct py_thread *t,
			uint64_t *owner_ident, char **module)
{
	for (int i = 0; i < t->n_frames && i < PY_IMPORT_SCAN_FRAMES; i++) {
		const struct py_frame *f = &t->frames[i];
		uint64_t self, name;

		if (strcmp(f->function, PY_IMPORT_FUNCTION) ||
		    !(ends_with(f->file, PY_IMPORT_FROZEN) ||
		      ends_with(f->file, PY_IMPORT_SOURCE)) ||
		    py_frame_self(loc, f->frame_addr, &self))
			continue;
		name = py_attr_get(loc, self, "name");
		if (!name || !(*module = py_str_read(loc, name)))
			continue;
		*owner_ident = py_int_value(loc, py_attr_get(loc, self,
							     "owner"));
		return 0;
	}
	return -1;
}

/* Collects the objects the weak references of _module_locks point to. */
struct py_lock_refs {
	uint64_t *refs;
	int n;
};

static void py_lock_ref(void *arg, uint64_t key, uint64_t ref)
{
	struct py_lock_refs *r = arg;

	r->refs[r->n++] = ref;
}

/* The _module_locks dict of interp, or 0. */
static uint64_t py_module_locks_dict(struct py_locator *loc, uint64_t interp)
{
	uint64_t modules, bootstrap, dict;

	if (!interp ||
	    py_read_ptr(loc, interp + loc->layout.interp_modules, &modules) ||
	    !modules ||
	    !(bootstrap = py_dict_get_str(loc, modules, PY_IMPORT_MODULE)) ||
	    py_read_ptr(loc, bootstrap + loc->layout.module_dict, &dict))
		return 0;
	return py_dict_get_str(loc, dict, PY_IMPORT_LOCKS);
}

/* Appends the owned locks of one interpreter's table to out. */
static int py_module_locks_of(struct py_locator *loc, uint64_t interp,
			      struct py_module_lock *out, int max)
{
	struct py_lock_refs r = { NULL, 0 };
	uint64_t dict = py_module_locks_dict(loc, interp);
	uint64_t *locks, *owner, *count, *name;
	int k = 0;

	if (!dict)
		return -1;
	r.refs = xmalloc(PY_IMPORT_MAX_LOCKS * sizeof(*r.refs));
	if (py_dict_each(loc, dict, PY_IMPORT_MAX_LOCKS, py_lock_ref, &r)) {
		free(r.refs);
		return -1;
	}
	locks = xmalloc((r.n + 1) * sizeof(*locks));
	owner = xmalloc((r.n + 1) * sizeof(*owner));
	count = xmalloc((r.n + 1) * sizeof(*count));
	name = xmalloc((r.n + 1) * sizeof(*name));
	/* a dead reference points to None */
	for (int i = 0; i < r.n; i++)
		if (py_read_ptr(loc, r.refs[i] + loc->layout.weakref_object,
				&locks[i]) || locks[i] == loc->none)
			locks[i] = 0;
	py_attrs_get(loc, locks, r.n, "owner", owner);
	py_attrs_get(loc, locks, r.n, "count", count);
	py_attrs_get(loc, locks, r.n, "name", name);
	for (int i = 0; i < r.n && k < max; i++) {
		uint64_t who = locks[i] ? py_int_value(loc, owner[i]) : 0;
		uint64_t n = who ? py_count_value(loc, count[i]) : 0;

		if (!n)
			continue;
		out[k].object = locks[i];
		out[k].interp = interp;
		out[k].owner_ident = who;
		out[k].count = n;
		out[k++].module = py_str_read(loc, name[i]);
	}
	free(r.refs);
	free(locks);
	free(owner);
	free(count);
	free(name);
	return k;
}

int py_module_locks(struct py_locator *loc, const struct py_process *p,
		    struct py_module_lock *out, int max)
{
	int k = 0, tables = 0;

	for (int i = 0; i < p->n_threads; i++) {
		uint64_t interp = p->threads[i].interp;
		bool seen = false;
		int n;

		for (int j = 0; j < i && !seen; j++)
			seen = p->threads[j].interp == interp;
		if (seen || (n = py_module_locks_of(loc, interp, out + k,
						    max - k)) < 0)
			continue;
		tables++;
		k += n;
	}
	return tables ? k : -1;
}
