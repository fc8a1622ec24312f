/*
 * From a native wait to the Python lock: the sem_t a thread blocks on
 * is the native lock of some lock object (a _thread.lock or RLock, a
 * multiprocessing SemLock, a buffered stream, a SimpleQueue), and that
 * object (or a bound method of it, like the __exit__ that `with` keeps
 * on the stack) sits in a slot of one of the innermost frames.  A
 * stream's lock that print() waits on is in no frame: the standard
 * streams are looked at last.
 */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tracer/python/py_private.h"

#define PY_LOCK_SCAN_SLOTS 1024	/* locals + stack read per frame */
#define PY_OBJ_HEAD 64		/* header and the fields we look at */
#define PY_SEMLOCK_RECURSIVE_MUTEX 0	/* SemLock kind: only its owner
					 * releases it */

/* The streams whose buffers print() and input() lock, in sys. */
static const char *const py_std_streams[] = {
	"stdout", "stderr", "stdin", "__stdout__", "__stderr__", "__stdin__",
};
#define PY_STD_STREAMS (sizeof(py_std_streams) / sizeof(py_std_streams[0]))

/* What the thread sleeps on. */
struct py_lock_target {
	uint64_t sync;		/* the futex word: a sem_t */
	uint64_t park;		/* 3.13: the address it parks on; 0 */
};

static uint64_t word(const uint8_t *head, uint32_t off)
{
	uint64_t v;

	memcpy(&v, head + off, sizeof(v));
	return v;
}

static int32_t word32(const uint8_t *head, uint32_t off)
{
	int32_t v;

	memcpy(&v, head + off, sizeof(v));
	return v;
}

/*
 * 3.13: a parked thread sleeps on the semaphore inside its wait entry,
 * which also says what it parks on.  0 when there is no parking lot or
 * the entry cannot be read (sync was no wait entry: nothing matches).
 */
static uint64_t py_park_address(struct py_locator *loc, uint64_t sync)
{
	const struct py_layout *l = &loc->layout;
	uint64_t addr;

	if (!l->wait_entry_addr || sync < l->wait_entry_sema ||
	    py_read_ptr(loc, sync - l->wait_entry_sema + l->wait_entry_addr,
			&addr))
		return 0;
	return addr;
}

/*
 * Fills what a SemLock (the first PY_OBJ_HEAD bytes in head) says.
 * last_tid is the thread of this process that acquired it last, while
 * its count is up; only a RECURSIVE_MUTEX (multiprocessing.RLock) is
 * then owned by it: any thread or process may release the others.
 */
static void py_semlock_fill(const struct py_layout *l, const uint8_t *head,
			    struct py_lock_info *out)
{
	int32_t count = word32(head, l->semlock_count);

	out->count = count > 0 ? count : 0;
	out->maxvalue = word32(head, l->semlock_maxvalue);
	out->semlock_kind = word32(head, l->semlock_kind);
	out->process_shared = true;
	out->owner_ident = count > 0 ? word(head, l->semlock_last_tid) : 0;
	out->owner_known = count > 0 &&
			   out->semlock_kind == PY_SEMLOCK_RECURSIVE_MUTEX;
	if (out->owner_known)
		out->note = "owned by a thread of this process";
	else if (count > 0)
		out->note = "last taken by owner_ident; anyone may release it";
	else
		out->note = "free here: held by another process, or taken";
}

/* A buffered stream's lock and owner: one more read. */
static bool py_buffered_match(struct py_locator *loc, uint64_t obj,
			      const struct py_lock_target *target,
			      struct py_lock_info *out)
{
	const struct py_layout *l = &loc->layout;
	uint64_t f[2];		/* lock, owner */

	if (l->buffered_owner != l->buffered_lock + 8 ||
	    py_read(loc, obj + l->buffered_lock, f, sizeof(f)) ||
	    f[0] != target->sync)
		return false;
	out->native = f[0];
	out->owner_ident = f[1];
	out->owner_known = f[1] != 0;
	out->note = "the stream's internal lock";
	return true;
}

/* Is the object with this header the lock of target? Fills out. */
static bool py_lock_match(struct py_locator *loc, uint64_t obj,
			  const uint8_t *head, const struct py_type *type,
			  const struct py_lock_target *target,
			  struct py_lock_info *out)
{
	const struct py_layout *l = &loc->layout;
	uint64_t native = 0;
	bool match = false;

	switch (type->kind) {
	case PY_TYPE_LOCK:
		native = l->lock_is_mutex ? obj + l->lock_lock
					  : word(head, l->lock_lock);
		match = native == target->sync ||
			(target->park && native == target->park);
		break;
	case PY_TYPE_RLOCK:
		native = word(head, l->rlock_lock);
		match = native == target->sync;
		if (match) {
			out->owner_ident = word(head, l->rlock_owner);
			out->owner_known = out->owner_ident != 0;
			out->count = word(head, l->rlock_count);
		}
		break;
	case PY_TYPE_SEMLOCK:
		native = word(head, l->semlock_handle);
		match = native == target->sync;
		if (match)
			py_semlock_fill(l, head, out);
		break;
	case PY_TYPE_BUFFERED:
		match = py_buffered_match(loc, obj, target, out);
		native = out->native;
		break;
	case PY_TYPE_SIMPLEQUEUE:
		if (l->simplequeue_lock) {
			native = word(head, l->simplequeue_lock);
			match = native == target->sync;
		} else if (l->simplequeue_park && target->park) {
			native = obj + l->simplequeue_park;
			match = native == target->park;
		}
		if (match) {
			out->signal = true;
			out->note = "empty: any put() wakes a getter";
		}
		break;
	default:
		break;
	}
	if (!match)
		return false;
	out->type = type->known_name;
	out->object = obj;
	out->native = native;
	return true;
}

/*
 * Checks n objects (one batch read of their headers); the selves of
 * bound methods and the buffers of text streams found among them are
 * checked the same way, one level down.
 */
static int py_lock_scan(struct py_locator *loc, const uint64_t *objs, size_t n,
			const struct py_lock_target *target,
			struct py_lock_info *out, bool follow)
{
	const struct py_layout *l = &loc->layout;
	uint8_t *heads = xmalloc(n * PY_OBJ_HEAD + 1);
	bool *ok = xmalloc(n * sizeof(*ok) + 1);
	uint64_t *next = xmalloc(n * sizeof(*next) + 1);
	size_t n_next = 0;
	int found = -1;

	py_read_many(loc, objs, PY_OBJ_HEAD, heads, ok, n);
	for (size_t i = 0; i < n && found < 0; i++) {
		const uint8_t *h = heads + i * PY_OBJ_HEAD;
		const struct py_type *t;

		if (!ok[i] || !(t = py_type_get(loc, word(h, l->ob_type))))
			continue;
		if (py_lock_match(loc, objs[i], h, t, target, out))
			found = 0;
		else if (t->kind == PY_TYPE_CFUNCTION)
			next[n_next++] = word(h, l->cfunction_self);
		else if (t->kind == PY_TYPE_METHOD)
			next[n_next++] = word(h, l->method_self);
		else if (t->kind == PY_TYPE_TEXTIO)
			next[n_next++] = word(h, l->textio_buffer);
	}
	if (found < 0 && follow && n_next)
		found = py_lock_scan(loc, next, n_next, target, out, false);
	free(heads);
	free(ok);
	free(next);
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

/* Looks among the slots of t's innermost frames. */
static int py_lock_in_frames(struct py_locator *loc, const struct py_thread *t,
			     const struct py_lock_target *target,
			     struct py_lock_info *out)
{
	uint64_t slots[PY_LOCK_SCAN_SLOTS];

	for (int i = 0; i < t->n_frames && i < PY_LOCK_SCAN_FRAMES; i++) {
		uint64_t start;
		size_t n, k = 0;

		if (py_frame_slots(loc, t->frames[i].frame_addr, &start, &n) ||
		    py_read(loc, start, slots, n * sizeof(slots[0])))
			continue;
		for (size_t j = 0; j < n; j++)	/* drop NULLs and repeats */
			if (slots[j] && (k == 0 || slots[k - 1] != slots[j]))
				slots[k++] = slots[j];
		if (k && !py_lock_scan(loc, slots, k, target, out, true)) {
			out->found = "frame";
			return 0;
		}
	}
	return -1;
}

/* Looks at the buffers of the standard streams of t's interpreter. */
static int py_lock_in_streams(struct py_locator *loc,
			      const struct py_thread *t,
			      const struct py_lock_target *target,
			      struct py_lock_info *out)
{
	uint64_t sysdict = 0, stream[PY_STD_STREAMS];

	if (!t->interp || !loc->layout.interp_sysdict ||
	    py_read_ptr(loc, t->interp + loc->layout.interp_sysdict,
			&sysdict) ||
	    !sysdict)
		return -1;
	for (size_t i = 0; i < PY_STD_STREAMS; i++) {
		stream[i] = py_dict_get_str(loc, sysdict, py_std_streams[i]);
		for (size_t k = 0; k < i && stream[i]; k++)
			if (stream[k] == stream[i])
				stream[i] = 0;	/* __stdout__ is stdout */
	}
	for (size_t i = 0; i < PY_STD_STREAMS; i++) {
		if (stream[i] &&
		    !py_lock_scan(loc, &stream[i], 1, target, out, true)) {
			out->found = py_std_streams[i];
			return 0;
		}
	}
	return -1;
}

int py_find_lock(struct py_locator *loc, const struct py_thread *t,
		 uint64_t sync_addr, struct py_lock_info *out)
{
	struct py_lock_target target = { sync_addr, 0 };

	memset(out, 0, sizeof(*out));
	if (!sync_addr)
		return -1;
	target.park = py_park_address(loc, sync_addr);
	if (!py_lock_in_frames(loc, t, &target, out) ||
	    !py_lock_in_streams(loc, t, &target, out))
		return 0;
	memset(out, 0, sizeof(*out));
	return -1;
}
