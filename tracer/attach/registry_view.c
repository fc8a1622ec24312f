#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runtime/registry.h"
#include "tracer/attach/registry_view.h"

/*
 * The place of a return address (the innermost of its inline levels),
 * into site; its strings are allocated.  False when nothing is known.
 */
static bool site_of_pc(struct symbolizer *sym, uint64_t pc, struct site *site)
{
	struct thread_model scratch = { 0 };
	bool found = false;

	if (sym && pc)
		symbolizer_add_frames(sym, pc, true, &scratch);
	for (int i = 0; i < scratch.n_frames; i++) {
		struct frame *f = &scratch.frames[i];

		if (i == 0) {
			site->file = f->file;
			site->function = f->function;
			site->line = f->line;
			f->file = f->function = NULL;
			found = true;
		}
		free(f->function);
		free(f->module);
		free(f->file);
	}
	free(scratch.frames);
	return found;
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

		/* a Python thread's lifetime lock is what joins wait on */
		if (!addr || (py && py->kind == WAIT_JOIN))
			continue;
		/* where it was acquired: the Python line; else the native
		 * call, unless that is only the interpreter's lock code */
		if (!(loc && s->held[k].py_code &&
		      py_code_position(loc, s->held[k].py_code,
				       s->held[k].py_lasti, &site.file,
				       &site.function, &site.line) == 0) &&
		    !pm->python_version)
			site_of_pc(sym, s->held[k].site, &site);
		/* ... taken by threading itself: the thread's existence */
		if (!site.function || strcmp(site.function, "_set_tstate_lock"))
			model_add_held(tm, py ? py->kind
					      : model_kind(s->held[k].kind,
							   pm->python_version),
				       py ? py->id : addr, &site);
		free(site.file);
		free(site.function);
	}
}

/* The wait as the registry has it, for a thread the kernel shows running. */
static void wait_from_slot(const struct registry_slot *s, bool python,
			   struct thread_model *tm, struct symbolizer *sym)
{
	struct wait_info *w = &tm->wait;

	site_of_pc(sym, s->wait_site, &w->site);
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
		const struct registry_slot *s = registry_slot_of(r, tm->tid);

		if (!s || !atomic_load(&s->wait_addr))
			continue;
		/* the kernel knows better than the slot a thread already woken */
		if (tm->state != THREAD_WAITING && !tm->waking)
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
		const struct registry_slot *s = registry_slot_of(r, tm->tid);
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
