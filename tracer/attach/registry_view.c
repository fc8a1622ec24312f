#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runtime/registry.h"
#include "tracer/attach/registry_view.h"

static const struct registry_slot *slot_of(const struct registry *r, pid_t tid)
{
	for (uint32_t i = 0; i < atomic_load(&r->high_water); i++)
		if (atomic_load(&r->slots[i].tid) == tid)
			return &r->slots[i];
	return NULL;
}

static enum wait_kind model_kind(uint32_t kind, bool python)
{
	switch (kind) {
	case REG_MUTEX: return WAIT_MUTEX;
	case REG_SEMLOCK: return python ? WAIT_LOCK : WAIT_SEM;
	case REG_SEM: return WAIT_SEM;
	case REG_COND: return WAIT_COND;
	case REG_RWLOCK: return WAIT_RWLOCK;
	case REG_JOIN: return WAIT_JOIN;
	case REG_CUSTOM: return WAIT_MUTEX;	/* a program's own lock */
	}
	return WAIT_FUTEX;
}

/* The Python object some thread waits on through this native address. */
static const struct wait_info *python_wait_on(const struct process_model *pm,
					      uint64_t addr)
{
	for (int i = 0; i < pm->n_threads; i++)
		if (pm->threads[i].wait.sync_addr == addr &&
		    pm->threads[i].wait.pytype)
			return &pm->threads[i].wait;
	return NULL;
}

static void add_holds(const struct registry_slot *s, struct process_model *pm,
		      struct thread_model *tm, struct symbolizer *sym,
		      struct py_locator *loc)
{
	uint32_t n = atomic_load(&s->n_held);

	for (uint32_t k = 0; k < n && k < REGISTRY_MAX_HELD; k++) {
		uint64_t addr = atomic_load(&s->held[k].addr);
		const struct wait_info *py = python_wait_on(pm, addr);
		struct site site = { 0 };
		struct thread_model scratch = { 0 };

		/* a thread's lifetime lock, which joins wait on: not a hold */
		if (!addr || (py && py->kind == WAIT_JOIN))
			continue;
		char *py_file = NULL, *py_function = NULL;

		/* where it was acquired: the Python line; else the native
		 * call, unless that is only the interpreter's lock code */
		if (loc && s->held[k].py_code &&
		    py_code_position(loc, s->held[k].py_code, s->held[k].py_lasti,
				     &py_file, &py_function, &site.line) == 0) {
			site.file = py_file;
			site.function = py_function;
		} else if (sym && !pm->python_version && s->held[k].site) {
			symbolizer_add_frames(sym, s->held[k].site, true, &scratch);
			if (scratch.n_frames) {
				const struct frame *f = &scratch.frames[0];

				site.file = f->file;
				site.line = f->line;
				site.function = f->function;
			}
		}
		/* a Python thread's lifetime lock (what join waits on), taken
		 * by threading itself: the thread's existence, not a hold */
		if (py_function && !strcmp(py_function, "_set_tstate_lock")) {
			free(py_file);
			free(py_function);
			continue;
		}
		model_add_held(tm, py ? py->kind : model_kind(s->held[k].kind,
							       pm->python_version),
			       py ? py->id : addr, &site);
		free(py_file);
		free(py_function);
		for (int i = 0; i < scratch.n_frames; i++) {
			free(scratch.frames[i].function);
			free(scratch.frames[i].module);
			free(scratch.frames[i].file);
		}
		free(scratch.frames);
	}
}

/* The wait as the registry has it, for a thread the kernel shows running. */
static void wait_from_slot(const struct registry_slot *s, bool python,
			   struct thread_model *tm, struct symbolizer *sym)
{
	struct wait_info *w = &tm->wait;
	struct thread_model scratch = { 0 };

	if (sym && s->wait_site) {
		symbolizer_add_frames(sym, s->wait_site, true, &scratch);
		if (scratch.n_frames) {
			w->site.function = scratch.frames[0].function;
			w->site.file = scratch.frames[0].file;
			w->site.line = scratch.frames[0].line;
			scratch.frames[0].function = scratch.frames[0].file = NULL;
		}
		for (int i = 0; i < scratch.n_frames; i++) {
			free(scratch.frames[i].function);
			free(scratch.frames[i].module);
			free(scratch.frames[i].file);
		}
		free(scratch.frames);
	}

	w->kind = model_kind(atomic_load(&s->wait_kind), python);
	w->id = w->sync_addr = atomic_load(&s->wait_addr);
	w->timed = atomic_load(&s->wait_flags) & REG_WAIT_TIMED;
	if (w->kind == WAIT_JOIN && atomic_load(&s->wait_tid)) {
		w->owner_tids[0] = atomic_load(&s->wait_tid);
		w->n_owners = 1;
	}
	free(w->detail);
	w->detail = xstrdup("inside pydeadlock's shim, about to block");
	tm->state = THREAD_WAITING;
}

void registry_view_waits(const struct registry *r, struct process_model *pm,
			 struct symbolizer *sym)
{
	for (int i = 0; r && i < pm->n_threads; i++) {
		struct thread_model *tm = &pm->threads[i];
		const struct registry_slot *s = slot_of(r, tm->tid);

		if (!s || !atomic_load(&s->wait_addr))
			continue;
		if (tm->state != THREAD_WAITING)
			wait_from_slot(s, pm->python_version, tm, sym);
		/* the shim waits in timed slices that it may break: untimed */
		else if (!(atomic_load(&s->wait_flags) & REG_WAIT_TIMED))
			tm->wait.timed = false;
	}
}

void registry_view_owners(const struct registry *r, struct process_model *pm,
			  struct symbolizer *sym, struct py_locator *py)
{
	if (!r)
		return;
	pm->from_registry = true;
	for (int i = 0; i < pm->n_threads; i++) {
		struct thread_model *tm = &pm->threads[i];
		const struct registry_slot *s = slot_of(r, tm->tid);
		const struct registry_slot *holder = NULL;
		struct wait_info *w = &tm->wait;
		pid_t owner;

		if (!s)
			continue;
		add_holds(s, pm, tm, sym, py);
		if (w->kind == WAIT_NONE || w->n_owners || !w->sync_addr ||
		    w->kind == WAIT_JOIN)
			continue;
		if (registry_fact(r, w->sync_addr) & (FACT_SIGNAL | FACT_COUNTING))
			continue;	/* not a lock: a signal or a counter */
		owner = registry_owner(r, w->sync_addr, &holder);
		if (owner && holder != s) {
			w->owner_tids[0] = owner;
			w->n_owners = 1;
			w->owner_why = NULL;
		}
	}
}
