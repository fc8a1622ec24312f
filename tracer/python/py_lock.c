/*
 * From a native wait to the Python lock: the sem_t a thread blocks on
 * is the lock_lock of some _thread.lock or _thread.RLock object, and
 * that object (or a bound method of it, like the __exit__ that `with`
 * keeps on the stack) sits in a slot of one of the innermost frames.
 */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tracer/python/py_private.h"

#define PY_LOCK_SCAN_FRAMES 4	/* the wait is in the innermost few */
#define PY_LOCK_SCAN_SLOTS 1024	/* locals + stack read per frame */
#define PY_OBJ_HEAD 48		/* header and the fields we look at */

static uint64_t word(const uint8_t *head, uint32_t off)
{
	uint64_t v;

	memcpy(&v, head + off, sizeof(v));
	return v;
}

/* Is the object with this header the lock of sync_addr? Fills out. */
static bool py_lock_match(struct py_locator *loc, uint64_t obj,
			  const uint8_t *head, enum py_type_kind kind,
			  uint64_t sync_addr, struct py_lock_info *out)
{
	const struct py_layout *l = &loc->layout;

	if (kind == PY_TYPE_LOCK) {
		uint64_t lock = l->lock_is_mutex ? obj + l->lock_lock
						 : word(head, l->lock_lock);

		if (lock != sync_addr)
			return false;
		out->type = "_thread.lock";
		out->object = obj;
		return true;
	}
	if (kind == PY_TYPE_RLOCK && word(head, l->rlock_lock) == sync_addr) {
		out->type = "_thread.RLock";
		out->object = obj;
		out->owner_ident = word(head, l->rlock_owner);
		out->count = word(head, l->rlock_count);
		return true;
	}
	return false;
}

/*
 * Checks n objects (one batch read of their headers); bound methods
 * found among them are checked the same way, one level down.
 */
static int py_lock_scan(struct py_locator *loc, uint64_t *objs, size_t n,
			uint64_t sync_addr, struct py_lock_info *out,
			bool follow)
{
	uint8_t *heads = xmalloc(n * PY_OBJ_HEAD + 1);
	bool *ok = xmalloc(n * sizeof(*ok) + 1);
	uint64_t *selves = xmalloc(n * sizeof(*selves) + 1);
	size_t n_selves = 0;
	int found = -1;

	py_read_many(loc, objs, PY_OBJ_HEAD, heads, ok, n);
	for (size_t i = 0; i < n && found < 0; i++) {
		const uint8_t *h = heads + i * PY_OBJ_HEAD;
		const struct py_type *t;

		if (!ok[i] || !(t = py_type_get(loc, word(h, 8))))
			continue;
		if (py_lock_match(loc, objs[i], h, t->kind, sync_addr, out))
			found = 0;
		else if (t->kind == PY_TYPE_CFUNCTION)
			selves[n_selves++] = word(h, loc->layout.cfunction_self);
		else if (t->kind == PY_TYPE_METHOD)
			selves[n_selves++] = word(h, loc->layout.method_self);
	}
	if (found < 0 && follow && n_selves)
		found = py_lock_scan(loc, selves, n_selves, sync_addr, out,
				     false);
	free(heads);
	free(ok);
	free(selves);
	return found;
}

/* The address and count of a frame's slots: locals, cells, stack. */
static int py_frame_slots(struct py_locator *loc, uint64_t frame,
			  uint64_t *start, size_t *n)
{
	const struct py_layout *l = &loc->layout;
	uint8_t head[128];
	const struct py_code *code;
	uint64_t valuestack;

	if (l->frame_size > sizeof(head) ||
	    py_read(loc, frame, head, l->frame_size) ||
	    !(code = py_code_get(loc, word(head, l->frame_code))))
		return -1;
	*start = frame + l->frame_localsplus;
	if (l->frame_interp) {
		*n = code->nlocalsplus + code->stacksize;
	} else {
		/* cells and free variables lie between; the stack top is
		 * not saved while the frame runs: scan its whole capacity */
		valuestack = word(head, l->frame_valuestack);
		if (valuestack < *start)
			return -1;
		*n = (valuestack - *start) / 8 + code->stacksize;
	}
	if (*n > PY_LOCK_SCAN_SLOTS)
		*n = PY_LOCK_SCAN_SLOTS;
	return 0;
}

int py_find_lock(struct py_locator *loc, const struct py_thread *t,
		 uint64_t sync_addr, struct py_lock_info *out)
{
	uint64_t slots[PY_LOCK_SCAN_SLOTS];

	memset(out, 0, sizeof(*out));
	if (!sync_addr)
		return -1;
	for (int i = 0; i < t->n_frames && i < PY_LOCK_SCAN_FRAMES; i++) {
		uint64_t start;
		size_t n, k = 0;

		if (py_frame_slots(loc, t->frames[i].frame_addr, &start, &n) ||
		    py_read(loc, start, slots, n * sizeof(slots[0])))
			continue;
		for (size_t j = 0; j < n; j++)	/* drop NULLs and repeats */
			if (slots[j] && (k == 0 || slots[k - 1] != slots[j]))
				slots[k++] = slots[j];
		if (k && !py_lock_scan(loc, slots, k, sync_addr, out, true))
			return 0;
	}
	return -1;
}
