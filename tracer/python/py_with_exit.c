/*
 * What the __exit__ of a live `with` block holds.  `with lock:` keeps
 * the lock's builtin __exit__ (a builtin method whose self is the lock);
 * `with cond:` keeps Condition.__exit__, a Python bound method whose
 * self is the Condition, and the Condition holds its _lock;
 * multiprocessing's locks hold their _semlock the same way;
 * `with sem:` keeps Semaphore.__exit__: the semaphore itself is held.
 * A Condition's lock is not held while a frame inside the block waits
 * on that Condition: wait() releases it, all of an RLock's levels, until
 * it returns, whether the block entered the Condition or its lock.
 * Every step reads all blocks' objects in one batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tracer/python/py_private.h"

#define PY_OBJ_HEAD 64		/* header and the fields we look at */
#define PY_EXIT_NAME "__exit__"
/* attribute hops from a Python __exit__'s self to the lock: a
 * multiprocessing Condition's _lock is a lock whose _semlock is held */
#define PY_EXIT_HOPS 2

/* The library files whose __exit__ methods we follow. */
static const char *const py_exit_files[] = {
	"/threading.py", "/multiprocessing/synchronize.py",
};
/* The attributes that lead to the lock actually held, in that order. */
static const char *const py_exit_attrs[] = { "_lock", "_semlock" };
#define PY_SEMAPHORE_ATTR "_cond"	/* threading.Semaphore's own */
/* the Condition methods that release its lock while they wait */
static const char *const py_wait_functions[] = { "wait", "wait_for" };

/* One block's __exit__ on its way to what it holds. */
struct py_exit {
	uint64_t obj;		/* __exit__'s self, then where it leads */
	uint64_t via;		/* the first self when obj was followed */
	uint64_t code;		/* Python __exit__: its code object */
	uint64_t name;		/* builtin __exit__: ml_name */
	bool python;		/* a Python __exit__ of py_exit_files */
	bool threading;		/* ... of threading.py: a Semaphore? */
	bool done;		/* obj is the held lock (or semaphore) */
	bool drop;		/* not a lock's __exit__ */
};

static uint64_t word(const uint8_t *p, uint32_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = s ? strlen(s) : 0, k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* Reads one word at addr[i] + off for each i into out (0 if unread). */
static void py_words(struct py_locator *loc, const uint64_t *addr, int n,
		     uint32_t off, uint64_t *out)
{
	uint64_t *at = xmalloc((n + 1) * sizeof(*at));
	bool *ok = xmalloc((n + 1) * sizeof(*ok));

	for (int i = 0; i < n; i++)
		at[i] = addr[i] ? addr[i] + off : 0;
	py_read_many(loc, at, sizeof(*out), (uint8_t *)out, ok, n);
	for (int i = 0; i < n; i++)
		if (!ok[i])
			out[i] = 0;
	free(at);
	free(ok);
}

/* Step 1: which objects are bound __exit__ methods, and of what self. */
static void py_exit_methods(struct py_locator *loc, const uint64_t *exits,
			    int n, struct py_exit *x)
{
	const struct py_layout *l = &loc->layout;
	uint8_t *heads = xmalloc((size_t)(n + 1) * PY_OBJ_HEAD);
	bool *ok = xmalloc((n + 1) * sizeof(*ok));
	uint64_t *ml = xcalloc(n + 1, sizeof(*ml));
	uint64_t *func = xcalloc(n + 1, sizeof(*func));

	py_read_many(loc, exits, PY_OBJ_HEAD, heads, ok, n);
	for (int i = 0; i < n; i++) {
		const uint8_t *h = heads + (size_t)i * PY_OBJ_HEAD;
		const struct py_type *t = ok[i] ? py_type_get(loc, word(h, loc->layout.ob_type))
						: NULL;

		x[i].drop = true;
		if (t && t->kind == PY_TYPE_CFUNCTION) {
			ml[i] = word(h, l->cfunction_ml);
			x[i].obj = word(h, l->cfunction_self);
			x[i].drop = false;
		} else if (t && t->kind == PY_TYPE_METHOD) {
			func[i] = word(h, l->method_func);
			x[i].obj = word(h, l->method_self);
			x[i].python = true;
			x[i].drop = false;
		}
	}
	py_words(loc, ml, n, 0, ml);	/* PyMethodDef.ml_name */
	py_words(loc, func, n, l->function_code, func);
	for (int i = 0; i < n; i++) {
		x[i].name = ml[i];
		x[i].code = func[i];
	}
	free(heads);
	free(ok);
	free(ml);
	free(func);
}

/* Step 2: keeps the methods named __exit__ (of our files, if Python). */
static void py_exit_names(struct py_locator *loc, int n, struct py_exit *x)
{
	uint64_t *addr = xcalloc(n + 1, sizeof(*addr));
	char *names = xcalloc(n + 1, sizeof(PY_EXIT_NAME));
	bool *ok = xmalloc((n + 1) * sizeof(*ok));

	for (int i = 0; i < n; i++)
		addr[i] = x[i].drop || x[i].python ? 0 : x[i].name;
	py_read_many(loc, addr, sizeof(PY_EXIT_NAME), (uint8_t *)names, ok, n);
	for (int i = 0; i < n; i++) {
		const struct py_code *c;

		if (x[i].drop)
			continue;
		if (!x[i].python) {
			x[i].drop = !ok[i] || memcmp(names + i *
					sizeof(PY_EXIT_NAME), PY_EXIT_NAME,
					sizeof(PY_EXIT_NAME));
			continue;
		}
		c = x[i].code ? py_code_get(loc, x[i].code) : NULL;
		x[i].drop = !c || !c->function ||
			    strcmp(c->function, PY_EXIT_NAME);
		if (x[i].drop)
			continue;
		x[i].drop = true;
		for (size_t k = 0; k < sizeof(py_exit_files) /
				       sizeof(py_exit_files[0]); k++)
			if (ends_with(c->file, py_exit_files[k]))
				x[i].drop = false;
		x[i].threading = ends_with(c->file, py_exit_files[0]);
	}
	free(addr);
	free(names);
	free(ok);
}

/* The native lock of a lock object whose header is h. */
static uint64_t py_exit_native(const struct py_layout *l, uint64_t obj,
			       const uint8_t *h, enum py_type_kind kind)
{
	switch (kind) {
	case PY_TYPE_LOCK:
		return l->lock_is_mutex ? obj + l->lock_lock
					: word(h, l->lock_lock);
	case PY_TYPE_RLOCK:
		return word(h, l->rlock_lock);
	case PY_TYPE_SEMLOCK:
		return word(h, l->semlock_handle);
	default:
		return 0;
	}
}

/* Fills out from what x leads to, of type t with header h. */
static void py_exit_fill(struct py_locator *loc, const struct py_exit *x,
			 const struct py_type *t, const uint8_t *h,
			 struct py_held_lock *out)
{
	const struct py_type *vt;
	uint64_t vtype;

	memset(out, 0, sizeof(*out));
	snprintf(out->type, sizeof(out->type), "%s", t->name);
	out->object = x->obj;
	out->native = py_exit_native(&loc->layout, x->obj, h, t->kind);
	out->process_shared = t->kind == PY_TYPE_SEMLOCK;
	out->via = x->via;
	if (x->via && !py_read_ptr(loc, x->via + loc->layout.ob_type, &vtype) &&
	    (vt = py_type_get(loc, vtype)))
		snprintf(out->via_type, sizeof(out->via_type), "%s", vt->name);
}

/* Step 3b: the threading selves with a _cond are Semaphores: held. */
static void py_exit_semaphores(struct py_locator *loc, int n,
			       struct py_exit *x, const uint64_t *objs,
			       const uint8_t *heads, struct py_held_lock *res)
{
	uint64_t *cond = xcalloc(n + 1, sizeof(*cond));

	py_attrs_get(loc, objs, n, PY_SEMAPHORE_ATTR, cond);
	for (int i = 0; i < n; i++) {
		const uint8_t *h = heads + (size_t)i * PY_OBJ_HEAD;
		const struct py_type *t;

		if (!objs[i])
			continue;
		t = py_type_get(loc, word(h, loc->layout.ob_type));
		if (!cond[i] || !t) {
			x[i].drop = true;
			continue;
		}
		py_exit_fill(loc, &x[i], t, h, &res[i]);
		x[i].done = true;
	}
	free(cond);
}

/*
 * Step 3: follows each Python __exit__'s self through py_exit_attrs to
 * a lock object, one hop a round; a threading self without them may be
 * a Semaphore.  res[i] is filled when x[i] ends done.
 */
static void py_exit_resolve(struct py_locator *loc, int n, struct py_exit *x,
			    struct py_held_lock *res)
{
	uint8_t *heads = xmalloc((size_t)(n + 1) * PY_OBJ_HEAD);
	uint64_t *objs = xcalloc(n + 1, sizeof(*objs));
	uint64_t *attr = xcalloc(n + 1, sizeof(*attr));
	bool *ok = xmalloc((n + 1) * sizeof(*ok));

	for (int hop = 0; hop <= PY_EXIT_HOPS; hop++) {
		for (int i = 0; i < n; i++)
			objs[i] = x[i].drop || x[i].done ? 0 : x[i].obj;
		py_read_many(loc, objs, PY_OBJ_HEAD, heads, ok, n);
		for (int i = 0; i < n; i++) {
			const uint8_t *h = heads + (size_t)i * PY_OBJ_HEAD;
			const struct py_type *t;

			if (!objs[i])
				continue;
			t = ok[i] ? py_type_get(loc, word(h, loc->layout.ob_type)) : NULL;
			if (t && (t->kind == PY_TYPE_LOCK ||
				  t->kind == PY_TYPE_RLOCK ||
				  t->kind == PY_TYPE_SEMLOCK)) {
				py_exit_fill(loc, &x[i], t, h, &res[i]);
				x[i].done = true;
			} else if (!t || !x[i].python || hop == PY_EXIT_HOPS) {
				x[i].drop = true;
			} else {
				continue;	/* to follow */
			}
			objs[i] = 0;
		}
		for (size_t a = 0; a < sizeof(py_exit_attrs) /
				       sizeof(py_exit_attrs[0]); a++) {
			py_attrs_get(loc, objs, n, py_exit_attrs[a], attr);
			for (int i = 0; i < n; i++) {
				if (!objs[i] || !attr[i])
					continue;
				if (!x[i].via)
					x[i].via = x[i].obj;
				x[i].obj = attr[i];
				objs[i] = 0;	/* followed */
			}
		}
		/* the selves that lead nowhere: semaphores, or no lock */
		for (int i = 0; i < n; i++) {
			if (objs[i] && !(hop == 0 && x[i].threading)) {
				x[i].drop = true;
				objs[i] = 0;
			}
		}
		py_exit_semaphores(loc, n, x, objs, heads, res);
	}
	free(heads);
	free(objs);
	free(attr);
	free(ok);
}

/* Is frame f a Condition's wait, in one of py_exit_files? */
static bool py_wait_frame(const struct py_frame *f)
{
	bool file = false, function = false;

	for (size_t k = 0; k < sizeof(py_exit_files) /
			       sizeof(py_exit_files[0]); k++)
		file |= ends_with(f->file, py_exit_files[k]);
	for (size_t k = 0; k < sizeof(py_wait_functions) /
			       sizeof(py_wait_functions[0]); k++)
		function |= !strcmp(f->function, py_wait_functions[k]);
	return file && function;
}

/*
 * Drops what a Condition's wait in frame f has released: the blocks,
 * in frames outside f, that hold the Condition, its _lock, or that
 * lock's _semlock (multiprocessing).
 */
static void py_exit_released(struct py_locator *loc, const struct py_thread *t,
			     int f, const struct py_with_slots *w,
			     struct py_exit *x)
{
	uint64_t cond, lock, semlock;

	if (py_frame_self(loc, t->frames[f].frame_addr, &cond))
		return;
	lock = py_attr_get(loc, cond, py_exit_attrs[0]);
	semlock = lock ? py_attr_get(loc, lock, py_exit_attrs[1]) : 0;
	for (int i = 0; i < w->n; i++)
		if (x[i].done && w->v[i].frame > f &&
		    (x[i].via == cond || (lock && x[i].obj == lock) ||
		     (semlock && x[i].obj == semlock)))
			x[i].done = false;
}

/* Drops the locks that Condition waits inside their blocks released. */
static void py_exit_waiting(struct py_locator *loc, const struct py_thread *t,
			    const struct py_with_slots *w, struct py_exit *x)
{
	int outermost = 0;	/* the outermost frame a block holds in */

	for (int i = 0; i < w->n; i++)
		if (x[i].done && w->v[i].frame > outermost)
			outermost = w->v[i].frame;
	for (int f = 0; f < outermost; f++)
		if (py_wait_frame(&t->frames[f]))
			py_exit_released(loc, t, f, w, x);
}

int py_with_held(struct py_locator *loc, const struct py_thread *t,
		 struct py_held_lock *out, int max)
{
	struct py_with_slots w;
	struct py_held_lock *res;
	struct py_exit *x;
	uint64_t *addr, *exits;
	int n, k = 0;

	if (py_with_slots(loc, t, &w))
		return -1;
	n = w.n;
	addr = xmalloc((n + 1) * sizeof(*addr));
	exits = xmalloc((n + 1) * sizeof(*exits));
	x = xcalloc(n + 1, sizeof(*x));
	res = xcalloc(n + 1, sizeof(*res));
	for (int i = 0; i < n; i++)
		addr[i] = w.v[i].addr;
	py_words(loc, addr, n, 0, exits);
	py_exit_methods(loc, exits, n, x);
	py_exit_names(loc, n, x);
	py_exit_resolve(loc, n, x, res);
	py_exit_waiting(loc, t, &w, x);
	for (int i = 0; i < n && k < max; i++) {
		if (!x[i].done)
			continue;
		out[k] = res[i];
		out[k].frame = w.v[i].frame;
		out[k].line = w.v[i].line;
		if (!out[k].line) {
			out[k].line = t->frames[w.v[i].frame].line;
			out[k].line_is_frame = true;
		}
		k++;
	}
	free(w.v);
	free(addr);
	free(exits);
	free(x);
	free(res);
	return k;
}
