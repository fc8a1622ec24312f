/*
 * The Python view of an attach: CPython's own state, read from the
 * stopped process, laid over the native model.  Python frames are merged
 * into the native stack at the eval loop's frames, threads get their
 * threading names, the GIL holder is marked, and a native wait on a
 * semaphore or the GIL becomes a wait on a Lock, RLock, Condition, Event,
 * Queue, Future, Semaphore, join or the GIL, with the Python line it
 * waits at and the owner wherever CPython records one.
 */
#ifndef PD_PYTHON_VIEW_H
#define PD_PYTHON_VIEW_H

#include "common/model.h"
#include "runtime/registry.h"
#include "tracer/attach/snapshot.h"
#include "tracer/python/py_reader.h"

/* What the stop found for one thread blocked on a futex. */
struct python_wait_capture {
	pid_t tid;
	bool lock_found;
	struct py_lock_info lock;
	bool join_found;
	uint64_t join_ident;	/* ident of the thread being joined */
	bool import_found;	/* waits for an import another thread runs */
	uint64_t import_owner;	/* ... that thread's ident, 0: none now */
	char *import_module;
};

#define PY_VIEW_MAX_HELD 32	/* locks held by with blocks, per thread */

/* What the stop found a thread to hold through with blocks. */
struct python_held_capture {
	pid_t tid;
	int n;
	struct py_held_lock held[PY_VIEW_MAX_HELD];
};

struct python_view {
	struct py_locator *loc;	/* NULL: no Python view */
	const struct registry *registry;	/* the shim's as stopped (borrowed) */
	char *why;		/* why not, when Python was found but unusable */
	bool captured;
	struct py_process proc;
	struct python_wait_capture *waits;
	int n_waits;
	struct python_held_capture *helds;
	int n_helds;
	/* signals with a Python handler other than the default ones, read
	 * during the stop (bit sig-1); valid when signals_known */
	bool signals_known;
	uint64_t custom_signals;
};

/* Before the stop: find the interpreter.  pv->loc NULL when none. */
void python_view_locate(struct python_view *pv, pid_t pid);

/* snapshot_capture_fn: read Python state while the process is stopped. */
void python_view_capture(struct process_snapshot *ps, void *ctx);

/* After the stop: lay the Python view over the native model. */
void python_view_apply(struct python_view *pv,
		       const struct process_snapshot *ps,
		       struct process_model *pm);

void python_view_free(struct python_view *pv);

#endif
