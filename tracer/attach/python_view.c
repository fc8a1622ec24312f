#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "common/error.h"
#include "tracer/attach/python_view.h"

/* The eval loop's C function: one per run of Python frames. */
#define PY_EVAL_FUNCTION "_PyEval_EvalFrameDefault"

/* struct _gil_runtime_state, x86_64: cond at 32..80, mutex at 80..120 */
#define PY_GIL_COND_END 120	/* a futex below: waiting to take the GIL */

void python_view_locate(struct python_view *pv, pid_t pid)
{
	struct maps maps;

	memset(pv, 0, sizeof(*pv));
	if (procfs_maps(pid, &maps) < 0)
		return;
	pv->loc = py_locate(pid, &maps, &pv->why);
	maps_free(&maps);
}

void python_view_free(struct python_view *pv)
{
	if (pv->captured)
		py_process_free(&pv->proc);
	py_locator_free(pv->loc);
	free(pv->why);
	for (int i = 0; i < pv->n_waits; i++)
		free(pv->waits[i].import_module);
	free(pv->waits);
	free(pv->helds);
	memset(pv, 0, sizeof(*pv));
}

/* The Python thread running on snapshot thread t, or NULL. */
static struct py_thread *py_thread_of(struct py_process *proc,
				      const struct thread_snapshot *t)
{
	for (int i = 0; i < proc->n_threads; i++) {
		struct py_thread *p = &proc->threads[i];

		/* on x86_64 pthread_self(), the ident, is the thread pointer */
		if (p->native_tid == t->tid || (p->ident && p->ident == t->regs.fs_base))
			return p;
	}
	return NULL;
}

void python_view_capture(struct process_snapshot *ps, void *ctx)
{
	struct python_view *pv = ctx;
	char *why = NULL;

	if (py_capture(pv->loc, &pv->proc, &why) < 0) {
		pv->why = why;
		return;
	}
	pv->captured = true;
	pv->signals_known = py_signal_handlers(pv->loc, &pv->custom_signals) == 0;
	pv->waits = xcalloc(ps->n_threads, sizeof(*pv->waits));
	pv->helds = xcalloc(ps->n_threads, sizeof(*pv->helds));
	for (int i = 0; i < ps->n_threads; i++) {
		const struct thread_snapshot *t = &ps->threads[i];
		struct python_wait_capture *w;
		struct python_held_capture *h;
		struct py_thread *p;

		uint64_t sync = 0;

		/* what every thread holds by with blocks: owners of locks */
		if (!t->gone && (p = py_thread_of(&pv->proc, t)) && p->n_frames) {
			h = &pv->helds[pv->n_helds];
			h->n = py_with_held(pv->loc, p, h->held, PY_VIEW_MAX_HELD);
			if (h->n > 0) {
				h->tid = t->tid;
				pv->n_helds++;
			}
		}

		if (t->stopped && !t->gone && t->in_syscall &&
		    t->syscall_nr == SYS_futex)
			sync = t->syscall_args[0];
		else if (pv->registry) {	/* inside the shim, about to block */
			const struct registry_slot *s =
				registry_slot_of(pv->registry, t->tid);

			sync = s ? s->wait_addr : 0;
		}
		if (!sync || !(p = py_thread_of(&pv->proc, t)) || !p->n_frames)
			continue;
		w = &pv->waits[pv->n_waits++];
		w->tid = t->tid;
		w->lock_found = py_find_lock(pv->loc, p, sync, &w->lock) == 0;
		w->join_found = py_join_target(pv->loc, p, &w->join_ident) == 0;
		w->import_found = py_module_lock_wait(pv->loc, p, &w->import_owner,
						      &w->import_module) == 0;
	}
}

/* The thread that holds the lock object obj by a with block, or NULL. */
static const struct python_held_capture *with_holder(const struct python_view *pv,
						    uint64_t obj)
{
	for (int i = 0; i < pv->n_helds; i++)
		for (int k = 0; k < pv->helds[i].n; k++)
			if (pv->helds[i].held[k].object == obj &&
			    pv->helds[i].held[k].native)
				return &pv->helds[i];
	return NULL;
}

static const struct python_wait_capture *wait_capture(const struct python_view *pv,
						      pid_t tid)
{
	for (int i = 0; i < pv->n_waits; i++)
		if (pv->waits[i].tid == tid)
			return &pv->waits[i];
	return NULL;
}

/* The TID of the thread with this ident (or thread state), or 0. */
static pid_t tid_of_ident(const struct python_view *pv,
			  const struct process_snapshot *ps, uint64_t ident,
			  uint64_t tstate)
{
	for (int i = 0; i < pv->proc.n_threads; i++) {
		const struct py_thread *p = &pv->proc.threads[i];

		if ((ident && p->ident == ident) || (tstate && p->tstate == tstate)) {
			for (int k = 0; k < ps->n_threads; k++)
				if (ps->threads[k].tid == p->native_tid ||
				    ps->threads[k].regs.fs_base == p->ident)
					return ps->threads[k].tid;
			return p->native_tid;
		}
	}
	return 0;
}

static void add_python_frame(struct thread_model *tm, const struct py_frame *pf)
{
	struct frame *f = model_add_frame(tm);

	f->python = true;
	f->function = xstrdup(pf->function);
	f->file = xstrdup(pf->file);
	f->line = pf->line;
}

/*
 * Interleave Python frames with the native ones: the Python frames that
 * one call of the eval loop runs (up to and including its entry frame) go
 * just inside that native frame.  Python frames left over (an unwind that
 * stopped early) go at the end; with no eval frame found, first.
 */
static void merge_frames(struct thread_model *tm, const struct py_thread *p)
{
	struct frame *native = tm->frames;
	int n_native = tm->n_frames, next = 0, n_eval = 0;

	for (int i = 0; i < n_native; i++)
		n_eval += native[i].function &&
			  !strcmp(native[i].function, PY_EVAL_FUNCTION);
	tm->frames = NULL;
	tm->n_frames = 0;
	if (!n_eval)
		while (next < p->n_frames)
			add_python_frame(tm, &p->frames[next++]);
	for (int i = 0; i < n_native; i++) {
		if (native[i].function && next < p->n_frames &&
		    !strcmp(native[i].function, PY_EVAL_FUNCTION)) {
			do
				add_python_frame(tm, &p->frames[next]);
			while (!p->frames[next++].entry && next < p->n_frames);
		}
		*model_add_frame(tm) = native[i];	/* moves its strings */
	}
	while (next < p->n_frames)
		add_python_frame(tm, &p->frames[next++]);
	free(native);
	if (p->truncated && !tm->frames_why) {
		tm->frames_truncated = true;
		tm->frames_why = xstrdup(p->why);
	}
}

/* Where the Python synchronisation classes live, and what they wait for. */
struct py_wait_pattern {
	const char *file;	/* path suffix */
	const char *function;
	enum wait_kind kind;
	const char *type;	/* the Python class, for the report */
};

static const struct py_wait_pattern py_waits[] = {
	{ "/queue.py", "get", WAIT_QUEUE, "queue.Queue" },
	{ "/queue.py", "put", WAIT_QUEUE, "queue.Queue" },
	{ "/queue.py", "join", WAIT_QUEUE, "queue.Queue" },
	{ "/concurrent/futures/_base.py", "result", WAIT_FUTURE, "concurrent.futures.Future" },
	{ "/concurrent/futures/_base.py", "exception", WAIT_FUTURE, "concurrent.futures.Future" },
	{ "/concurrent/futures/_base.py", "wait", WAIT_FUTURE, "concurrent.futures.Future" },
	{ "/concurrent/futures/_base.py", "as_completed", WAIT_FUTURE, "concurrent.futures.Future" },
	{ "/threading.py", "join", WAIT_JOIN, "threading.Thread" },
	{ "/threading.py", "_wait_for_tstate_lock", WAIT_JOIN, "threading.Thread" },
	{ "/threading.py", "acquire", WAIT_SEMAPHORE, "threading.Semaphore" },
	{ "/threading.py", "wait_for", WAIT_CONDITION, "threading.Condition" },
	{ "/threading.py", "wait", WAIT_CONDITION, "threading.Condition" },
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = s ? strlen(s) : 0, k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* The innermost frame of the program's own code, from frame first;
 * first itself when every frame is the library's. */
static int program_frame(const struct py_thread *p, int first)
{
	for (int i = first; i < p->n_frames; i++)
		if (!py_file_in_library(p->frames[i].file))
			return i;
	return first < p->n_frames ? first : p->n_frames - 1;
}

static bool is_sync_library(const char *file)
{
	return ends_with(file, "/threading.py") || ends_with(file, "/queue.py") ||
	       ends_with(file, "/concurrent/futures/_base.py");
}

/*
 * Read the kind of wait off the library frames at the top of the Python
 * stack (the outermost match wins: Queue.get waits in Condition.wait),
 * and the program's own line below them.  Event.wait is the
 * Condition.wait called from another threading.wait.
 */
static const struct py_wait_pattern *py_wait_kind(const struct py_thread *p,
						  int *site)
{
	const struct py_wait_pattern *found = NULL;
	int i, waits = 0;

	for (i = 0; i < p->n_frames && is_sync_library(p->frames[i].file); i++)
		for (size_t k = 0; k < sizeof(py_waits) / sizeof(*py_waits); k++) {
			const struct py_wait_pattern *w = &py_waits[k];

			if (ends_with(p->frames[i].file, w->file) &&
			    p->frames[i].function &&
			    !strcmp(p->frames[i].function, w->function)) {
				found = w;
				waits += w->kind == WAIT_CONDITION &&
					 !strcmp(w->function, "wait");
				break;
			}
		}
	*site = program_frame(p, i < p->n_frames ? i : p->n_frames - 1);
	if (found && found->kind == WAIT_CONDITION && waits >= 2) {
		static const struct py_wait_pattern event = {
			"/threading.py", "wait", WAIT_EVENT, "threading.Event"
		};

		return &event;
	}
	return found;
}

static const char *no_owner_why(enum wait_kind kind)
{
	switch (kind) {
	case WAIT_CONDITION: return "a Condition has no owner: any thread may notify it";
	case WAIT_EVENT: return "an Event has no owner: any thread may set it";
	case WAIT_QUEUE: return "a Queue has no owner: any thread may put or get";
	case WAIT_FUTURE: return "a Future is resolved by whichever thread runs its call";
	case WAIT_SEMAPHORE: return "a Semaphore has no owner: any thread may release it";
	case WAIT_JOIN: return "the joined thread could not be read";
	default: return "a plain Lock records no owner ('pydeadlock run' knows it)";
	}
}

/* The locks tm holds by with blocks, as holds: released by it alone. */
static void add_with_holds(const struct python_view *pv,
			   const struct py_thread *p, struct thread_model *tm)
{
	for (int i = 0; i < pv->n_helds; i++) {
		const struct python_held_capture *h = &pv->helds[i];

		if (h->tid != tm->tid)
			continue;
		/* outer blocks first: a lock taken again by an inner with
		 * block (an RLock) was acquired at the outer one */
		for (int k = h->n - 1; k >= 0; k--) {
			const struct py_held_lock *l = &h->held[k];
			const struct py_frame *f = l->frame >= 0 && l->frame < p->n_frames
						   ? &p->frames[l->frame] : NULL;
			struct site site = {
				f ? f->file : NULL, l->line, f ? f->function : NULL
			};
			enum wait_kind kind = !l->native ? WAIT_SEMAPHORE
					      : !strcmp(l->type, "_thread.RLock")
					      ? WAIT_RLOCK : WAIT_LOCK;

			/* released by its holder alone: an RLock */
			model_add_held(tm, kind, l->object, kind == WAIT_RLOCK,
				       &site)->native = l->native;
		}
	}
}

static void set_site(struct wait_info *w, const struct py_frame *f)
{
	free(w->site.file);
	free(w->site.function);
	w->site.file = xstrdup(f->file);
	w->site.function = xstrdup(f->function);
	w->site.line = f->line;
}

/* A futex in the GIL's state: waiting to take the GIL, from its holder. */
static void gil_wait(const struct python_view *pv,
		     const struct process_snapshot *ps,
		     const struct py_thread *p, struct thread_model *tm)
{
	struct wait_info *w = &tm->wait;
	pid_t holder = 0;

	w->kind = WAIT_GIL;
	w->id = pv->proc.gil_addr;
	w->timed = false;	/* the timeout only asks the holder to drop it */
	w->n_owners = 0;
	if (pv->proc.gil_locked && pv->proc.gil_holder_tstate != p->tstate)
		holder = tid_of_ident(pv, ps, 0, pv->proc.gil_holder_tstate);
	if (holder) {
		w->owner_tids[0] = holder;
		w->n_owners = 1;
		w->owned = true;	/* its holder alone hands it on */
	} else if (pv->proc.gil_moving) {
		w->owner_why = "the GIL is changing hands";
	} else {
		w->owner_why = "the GIL is free: this thread is about to take it";
	}
	if (p->n_frames)
		set_site(w, &p->frames[program_frame(p, 0)]);
	tm->state = THREAD_WAITING;
}

/*
 * A native wait seen from Python: on a Lock or RLock found on the stack,
 * and/or inside a synchronisation class of the standard library (3.13's
 * join waits in the parking lot, on no lock object at all).  Sets the
 * kind, the Python type, the owner where recorded and the line waiting;
 * returns false, changing nothing, when Python explains nothing.
 */
static bool python_wait(const struct python_view *pv,
			const struct process_snapshot *ps,
			const struct python_wait_capture *c,
			const struct py_thread *p, struct thread_model *tm)
{
	const struct py_wait_pattern *pattern;
	struct wait_info *w = &tm->wait;
	bool lock = c && c->lock_found;
	int site;

	pattern = py_wait_kind(p, &site);
	if (!lock && !pattern && !(c && c->import_found))
		return false;
	free(w->pytype);
	w->pytype = NULL;
	w->n_owners = 0;
	w->owner_why = NULL;
	if (lock) {
		w->kind = !strcmp(c->lock.type, "_thread.RLock") ? WAIT_RLOCK
			  : c->lock.signal ? WAIT_QUEUE
			  : !strcmp(c->lock.type, "_multiprocessing.SemLock") &&
			    c->lock.semlock_kind == 1 && c->lock.maxvalue != 1
			  ? WAIT_SEMAPHORE : WAIT_LOCK;
		w->id = c->lock.object;
		w->pytype = xstrdup(c->lock.type);
		/* a multiprocessing lock: other processes may release it */
		w->shared |= c->lock.process_shared;
	}
	if (pattern) {	/* the class the program used names it best */
		w->kind = pattern->kind;
		free(w->pytype);
		w->pytype = xstrdup(pattern->type);
	}
	set_site(w, &p->frames[site]);
	if (lock && !c->lock.owner_known && !c->lock.signal) {
		/* a Lock some thread holds by a with block: who holds it (any
		 * thread may release a Lock: not its owner alone) */
		const struct python_held_capture *h = with_holder(pv, c->lock.object);

		if (h) {
			w->owner_tids[0] = h->tid;
			w->n_owners = 1;
		}
	} else if (lock && c->lock.owner_known && w->kind != WAIT_RLOCK &&
		   c->lock.owner_ident) {
		/* an owner CPython records (buffered I/O, multiprocessing's
		 * RLock): only it releases the lock */
		pid_t owner = tid_of_ident(pv, ps, c->lock.owner_ident, 0);

		if (owner) {
			w->owner_tids[0] = owner;
			w->n_owners = 1;
			w->owned = true;
		} else if (!c->lock.process_shared) {
			w->owner_why = "its owner is no thread of this process";
			w->owned = w->orphaned = true;
		}
	}
	if (c && c->import_found) {
		char note[160];

		w->kind = WAIT_IMPORT;
		free(w->pytype);
		w->pytype = xstrdup("importlib._ModuleLock");
		snprintf(note, sizeof(note), "the import of %s",
			 c->import_module ? c->import_module : "a module");
		free(w->note);
		w->note = xstrdup(note);
		if (c->import_owner) {
			pid_t owner = tid_of_ident(pv, ps, c->import_owner, 0);

			w->n_owners = 0;
			if (owner) {
				/* only the importing thread releases it */
				w->owner_tids[0] = owner;
				w->n_owners = 1;
				w->owned = true;
			}
		}
	}
	if (w->kind == WAIT_RLOCK && c->lock.owner_ident) {
		pid_t owner = tid_of_ident(pv, ps, c->lock.owner_ident, 0);

		if (owner) {
			w->owner_tids[0] = owner;
			w->n_owners = 1;
			w->owned = true;	/* only its owner may release an RLock */
		} else {
			w->owner_why = "the RLock's owner is no thread of this process";
			w->owned = w->orphaned = true;
		}
	} else if (w->kind == WAIT_JOIN && c && c->join_found) {
		pid_t owner = tid_of_ident(pv, ps, c->join_ident, 0);

		if (owner) {
			w->owner_tids[0] = owner;
			w->n_owners = 1;
			w->owned = true;	/* only the thread's end ends it */
		}
	}
	if (!w->n_owners && !w->owner_why)
		w->owner_why = no_owner_why(w->kind);
	tm->state = THREAD_WAITING;
	return true;
}

void python_view_apply(struct python_view *pv,
		       const struct process_snapshot *ps,
		       struct process_model *pm)
{
	struct process_info *proc = model_process(pm, ps->pid);

	if (!pv->loc || !proc)
		return;
	proc->python_version = xstrdup(pv->proc.version[0] ? pv->proc.version
					 : py_locator_version(pv->loc));
	if (!pv->captured)
		return;
	if (pv->proc.free_threaded)
		proc->python_build = pv->proc.gil_disabled ? PYTHON_FREE_NO_GIL
							   : PYTHON_FREE_GIL;
	for (int i = 0; i < pm->n_threads; i++) {
		struct thread_model *tm = &pm->threads[i];
		const struct thread_snapshot *t = NULL;
		const struct python_wait_capture *c;
		struct py_thread *p;

		if (tm->pid != ps->pid)
			continue;
		for (int k = 0; k < ps->n_threads; k++)
			if (ps->threads[k].tid == tm->tid)
				t = &ps->threads[k];
		if (!t || !(p = py_thread_of(&pv->proc, t)))
			continue;
		if (p->name) {
			free(tm->name);
			tm->name = xstrdup(p->name);
		}
		tm->holds_gil = p->holds_gil;
		add_with_holds(pv, p, tm);
		c = wait_capture(pv, tm->tid);
		if (tm->state == THREAD_WAITING && pv->proc.gil_addr &&
		    tm->wait.id >= pv->proc.gil_addr &&
		    tm->wait.id < pv->proc.gil_addr + PY_GIL_COND_END)
			gil_wait(pv, ps, p, tm);
		else if (tm->state == THREAD_WAITING && p->n_frames &&
			 !python_wait(pv, ps, c, p, tm))
			set_site(&tm->wait, &p->frames[program_frame(p, 0)]);	/* C called from Python */
		merge_frames(tm, p);
	}
}
