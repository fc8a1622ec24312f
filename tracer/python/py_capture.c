/*
 * The capture: every interpreter, every thread state in it, each one's
 * frames, the GIL holder, thread names.  Runs while the target is
 * stopped; every list walk is bounded and checked for loops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/glibc_layout.h"
#include "tracer/attach/procfs.h"
#include "tracer/python/py_private.h"

#define PY_TID_MAX 4194304	/* kernel PID_MAX_LIMIT on 64-bit */

struct py_gil {
	bool locked, moving, disabled;
	uint64_t holder;
};

/* Reads the GIL state at gil (struct _gil_runtime_state). */
static void py_gil_read(struct py_locator *loc, uint64_t gil,
			struct py_gil *out)
{
	int32_t locked = 0, mutex = 0, enabled = 0;

	memset(out, 0, sizeof(*out));
	/* free-threaded: `enabled` first; 0 while no extension asked for
	 * the GIL (Python/ceval_gil.c) */
	if (gil && loc->layout.free_threaded &&
	    (py_read(loc, gil, &enabled, sizeof(enabled)) || !enabled)) {
		out->disabled = true;
		return;
	}
	if (!gil || py_read(loc, gil + loc->layout.gil_locked, &locked,
			    sizeof(locked)) ||
	    py_read_ptr(loc, gil + loc->layout.gil_last_holder, &out->holder))
		return;
	out->locked = locked != 0;
	/* locked and last_holder change together under the GIL's mutex:
	 * while it is held (a taker between the two), last_holder may name
	 * the thread that let it go */
	out->moving = loc->layout.gil_mutex &&
		      !py_read(loc, gil + loc->layout.gil_mutex, &mutex,
			       sizeof(mutex)) && mutex;
	if (!out->locked || out->moving)
		out->holder = 0;
}

/* What one thread state told us, for the batched reads that follow. */
struct py_ts_info {
	uint64_t frame;		/* first frame, or the _PyCFrame (3.11-12) */
	uint64_t pthread;	/* <= 3.10: glibc struct pthread */
	uint64_t interp;
};

/* Native TIDs up to 3.10, when a thread state has no native_thread_id:
 * thread_id is the pthread_t; its tid, checked against /proc. */
static void py_threads_tid(struct py_locator *loc, struct py_thread *t,
			   const struct py_ts_info *info, int n)
{
	uint64_t *addr = xmalloc((n + 1) * sizeof(*addr));
	int32_t *tid = xmalloc((n + 1) * sizeof(*tid));
	bool *ok = xmalloc((n + 1) * sizeof(*ok));
	pid_t *tasks = NULL;
	int n_tasks = procfs_tasks(loc->pid, &tasks);

	for (int i = 0; i < n; i++)
		addr[i] = info[i].pthread + GLIBC_PTHREAD_TID_OFFSET;
	py_read_many(loc, addr, sizeof(*tid), (uint8_t *)tid, ok, n);
	for (int i = 0; i < n; i++)
		for (int k = 0; ok[i] && k < n_tasks; k++)
			if (tasks[k] == tid[i])
				t[i].native_tid = tid[i];
	free(n_tasks > 0 ? tasks : NULL);
	free(addr);
	free(tid);
	free(ok);
}

/* 3.11-3.12: the first frames are behind each thread's _PyCFrame. */
static void py_threads_cframe(struct py_locator *loc, struct py_ts_info *info,
			      int n)
{
	uint64_t *addr = xmalloc((n + 1) * sizeof(*addr));
	uint64_t *frame = xmalloc((n + 1) * sizeof(*frame));
	bool *ok = xmalloc((n + 1) * sizeof(*ok));

	for (int i = 0; i < n; i++)
		addr[i] = info[i].frame ?
			  info[i].frame + loc->layout.cframe_current_frame : 0;
	py_read_many(loc, addr, sizeof(*frame), (uint8_t *)frame, ok, n);
	for (int i = 0; i < n; i++)
		info[i].frame = ok[i] ? frame[i] : 0;
	free(addr);
	free(frame);
	free(ok);
}

/*
 * Reads the thread states of interp into out and info; returns the
 * address of the next interpreter.  A list that cannot be read to its
 * end stops there.
 */
static uint64_t py_interp_read(struct py_locator *loc, uint64_t interp,
			       struct py_process *out, struct py_ts_info **info,
			       int *cap, const struct py_gil *runtime_gil)
{
	const struct py_layout *l = &loc->layout;
	uint64_t next = 0, tstate = 0, gil_addr = 0, v;
	struct py_loop_guard guard;
	struct py_gil gil = *runtime_gil;

	if (py_read_ptr(loc, interp + l->interp_next, &next) ||
	    py_read_ptr(loc, interp + l->interp_threads_head, &tstate))
		return 0;
	if (l->interp_ceval_gil &&
	    !py_read_ptr(loc, interp + l->interp_ceval_gil, &gil_addr))
		py_gil_read(loc, gil_addr, &gil);
	if (!next) {		/* the main interpreter is the oldest */
		out->gil_locked = gil.locked;
		out->gil_moving = gil.moving;
		out->gil_holder_tstate = gil.holder;
		out->free_threaded = l->free_threaded;
		out->gil_disabled = gil.disabled;
		out->gil_addr = l->runtime_gil ? loc->runtime + l->runtime_gil
					       : gil_addr;
	}
	py_loop_init(&guard);
	while (tstate && out->n_threads < PY_MAX_THREADS) {
		uint8_t ts[1024];
		struct py_thread *t;
		struct py_ts_info *ti;

		if (l->tstate_size > sizeof(ts) || py_loop_seen(&guard, tstate) ||
		    py_read(loc, tstate, ts, l->tstate_size))
			break;
		memcpy(&v, ts + l->tstate_interp, sizeof(v));
		if (v != interp)
			break;	/* not a thread state of ours: list changed */
		if (out->n_threads == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			out->threads = xrealloc(out->threads, *cap,
						sizeof(*out->threads));
			*info = xrealloc(*info, *cap, sizeof(**info));
		}
		ti = &(*info)[out->n_threads];
		t = &out->threads[out->n_threads++];
		memset(t, 0, sizeof(*t));
		t->tstate = tstate;
		t->interp = interp;
		memcpy(&t->ident, ts + l->tstate_thread_id, sizeof(t->ident));
		ti->interp = interp;
		ti->pthread = t->ident;
		memcpy(&ti->frame, ts + (l->tstate_cframe ? l->tstate_cframe
							   : l->tstate_frame),
		       sizeof(ti->frame));
		if (l->tstate_native_thread_id) {
			memcpy(&v, ts + l->tstate_native_thread_id, sizeof(v));
			t->native_tid = v <= PY_TID_MAX ? (pid_t)v : 0;
		}
		t->holds_gil = gil.locked && gil.holder == tstate;
		memcpy(&tstate, ts + l->tstate_next, sizeof(tstate));
	}
	return next;
}

int py_capture(struct py_locator *loc, struct py_process *out, char **why)
{
	const struct py_layout *l = &loc->layout;
	struct py_gil runtime_gil = { false, false, false, 0 };
	struct py_ts_info *info = NULL;
	struct py_loop_guard guard;
	uint64_t interp = 0, *first;
	int cap = 0, n_interp = 0, n;

	memset(out, 0, sizeof(*out));
	loc->reads = 0;
	snprintf(out->version, sizeof(out->version), "%s", loc->version);
	py_code_cache_clear(loc);
	memset(loc->type_cache, 0, sizeof(loc->type_cache));
	memset(&loc->keys_memo, 0, sizeof(loc->keys_memo));
	if (py_read_ptr(loc, loc->runtime + l->runtime_interpreters_head,
			&interp)) {
		*why = xstrdup("Python runtime unreadable");
		return -1;
	}
	if (l->runtime_gil)
		py_gil_read(loc, loc->runtime + l->runtime_gil, &runtime_gil);
	py_loop_init(&guard);
	while (interp && n_interp++ < PY_MAX_INTERPRETERS &&
	       !py_loop_seen(&guard, interp))
		interp = py_interp_read(loc, interp, out, &info, &cap,
					&runtime_gil);
	n = out->n_threads;
	if (!n) {
		free(info);
		*why = xstrdup(n_interp ? "no Python thread state readable"
					: "Python is still starting up");
		return -1;
	}
	if (!l->tstate_native_thread_id)
		py_threads_tid(loc, out->threads, info, n);
	if (l->tstate_cframe)
		py_threads_cframe(loc, info, n);
	first = xmalloc(n * sizeof(*first));
	for (int i = 0; i < n; i++)
		first[i] = info[i].frame;
	py_frames_read(loc, out->threads, first, n);
	free(first);
	/* names, one interpreter (one sys.modules) at a time */
	for (int i = 0, j; i < n; i = j) {
		for (j = i; j < n && info[j].interp == info[i].interp; j++)
			;
		py_names_read(loc, info[i].interp, out->threads + i, j - i);
	}
	free(info);
	debug_msg("python: %d threads in %lu reads", n, loc->reads);
	return 0;
}

void py_process_free(struct py_process *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n_threads; i++) {
		struct py_thread *t = &p->threads[i];

		for (int j = 0; j < t->n_frames; j++) {
			free(t->frames[j].file);
			free(t->frames[j].function);
		}
		free(t->frames);
		free(t->name);
	}
	free(p->threads);
	memset(p, 0, sizeof(*p));
}
