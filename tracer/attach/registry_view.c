#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/glibc_layout.h"
#include "runtime/registry.h"
#include "tracer/attach/registry_view.h"
#include "tracer/attach/target_mem.h"

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
	case REG_GIL: return WAIT_GIL;
	}
	return WAIT_FUTEX;
}

/* The Python object some thread waits on through this native address. */
static const struct wait_info *python_wait_on(const struct process_model *pm,
					      pid_t pid, uint64_t addr)
{
	const struct wait_info *other = NULL;

	/* another process waiting at the same address: a fork child,
	 * whose memory is a copy of its parent's */
	for (int i = 0; i < pm->n_threads; i++)
		if (pm->threads[i].wait.sync_addr == addr &&
		    pm->threads[i].wait.pytype) {
			if (pm->threads[i].pid == pid)
				return &pm->threads[i].wait;
			other = &pm->threads[i].wait;
		}
	return other;
}

/* Where in the program an acquisition happened: the Python line; else
 * the native call, unless that is only the interpreter's lock code. */
static void acquired_at(struct symbolizer *sym, struct py_locator *loc,
			bool python, uint64_t code, int64_t lasti, uint64_t pc,
			struct site *site)
{
	if (loc && code &&
	    py_code_position(loc, code, lasti, &site->file, &site->function,
			     &site->line) == 0)
		return;
	if (!python)
		site_of_pc(sym, pc, site);
}

/*
 * Waits that Python's own classes explain (their waiter locks are
 * signals, acquired by the waiter itself and released by a notifier).
 */
static bool python_level(enum wait_kind kind)
{
	return kind == WAIT_CONDITION || kind == WAIT_EVENT ||
	       kind == WAIT_QUEUE || kind == WAIT_FUTURE ||
	       kind == WAIT_SEMAPHORE || kind == WAIT_BARRIER ||
	       kind == WAIT_IMPORT;
}

static void add_holds(const struct registry_slot *s, struct process_model *pm,
		      struct thread_model *tm, struct symbolizer *sym,
		      struct py_locator *loc)
{
	uint32_t n = atomic_load(&s->n_held);
	bool python = model_process(pm, tm->pid) &&
		      model_process(pm, tm->pid)->python_version;

	for (uint32_t k = 0; k < n && k < REGISTRY_MAX_HELD; k++) {
		const struct registry_held *h = &s->held[k];
		uint64_t addr = atomic_load(&h->addr);
		const struct wait_info *py = python_wait_on(pm, tm->pid, addr);
		struct site site = { 0 };

		/* a Python thread's lifetime lock is what joins wait on; a
		 * condition's waiter lock is the wait itself, not a hold */
		if (!addr || (py && py->kind == WAIT_JOIN) ||
		    (addr == tm->wait.sync_addr && python_level(tm->wait.kind)))
			continue;
		acquired_at(sym, loc, python, h->py_code, h->py_lasti, h->site,
			    &site);
		/* ... taken by threading itself: the thread's existence */
		if (!site.function || strcmp(site.function, "_set_tstate_lock"))
			model_add_held(tm, py ? py->kind
					      : model_kind(h->kind, python),
				       py ? py->id : addr, h->flags & HELD_OWNED,
				       &site);
		free(site.file);
		free(site.function);
	}
}

#define SIGINT_BIT (1ull << (SIGINT - 1))

/* glibc's largest lock object, an rwlock (56 bytes): a futex within it */
#define OBJECT_FUTEX_SPAN 56

/*
 * Would a thread that has published its wait, but is not asleep in it,
 * block?  Only on an object taken now: a mutex locked by another thread,
 * a taken rwlock (a breakable wait on one tries it between naps), a
 * locked GIL, a joined thread that lives, a semaphore at 0 that it
 * sleeps for in the serial scheduler.  Otherwise a semaphore at 0 says
 * nothing: the thread may be on its way out of the wait, having taken it
 * (its slot is cleared just after), and, preempted there on a loaded
 * machine, would pass for blocked look after look.  Any other it goes
 * past, or will be seen asleep in at the next look: it can act.  Words
 * read from the process.
 */
static bool would_block(const struct registry *r, pid_t pid, pid_t tid,
			const struct registry_slot *s)
{
	uint64_t addr = atomic_load(&s->wait_addr);
	int32_t word = 0, owner = 0;

	switch (atomic_load(&s->wait_kind)) {
	case REG_SEM: case REG_SEMLOCK:
		/* run --serial: asleep in the scheduler, for this object; its
		 * value in the low half of glibc's sem_t's first word */
		return (atomic_load(&s->wait_flags) & REG_WAIT_SERIAL) &&
		       target_read(pid, addr, &word, sizeof(word)) == 0 && !word;
	case REG_MUTEX:
		/* its lock word, and the owner glibc records (0 when the
		 * mutex type keeps none) */
		return target_read(pid, addr, &word, sizeof(word)) == 0 && word &&
		       target_read(pid, addr + GLIBC_MUTEX_OWNER_OFFSET, &owner,
				   sizeof(owner)) == 0 && owner != tid;
	case REG_RWLOCK:
		/* its readers word, free at 0 */
		return target_read(pid, addr, &word, sizeof(word)) == 0 && word;
	case REG_JOIN:
		return registry_join_target(r, s) != NULL;
	case REG_CUSTOM:
		return true;	/* the program says it waits (it may spin) */
	case REG_GIL:
		return r->gil.addr &&
		       target_read(pid, r->gil.addr + r->gil.locked_off, &word,
				   sizeof(word)) == 0 && word;
	default:
		return false;
	}
}

/* The wait as the registry has it, for a thread the kernel shows running
 * or in another call (inside the shim, on its way to the wait). */
static void wait_from_slot(const struct registry *r, pid_t pid,
			   const struct registry_slot *s, bool python,
			   struct thread_model *tm, struct symbolizer *sym)
{
	struct wait_info *w = &tm->wait;

	if (!would_block(r, pid, atomic_load(&s->tid), s)) {
		tm->waking = true;	/* the object is free: it takes it */
		return;
	}

	site_of_pc(sym, s->wait_site, &w->site);
	w->kind = model_kind(atomic_load(&s->wait_kind), python);
	w->id = w->sync_addr = atomic_load(&s->wait_addr);
	w->timed = atomic_load(&s->wait_flags) & REG_WAIT_TIMED;
	free(w->detail);
	w->detail = xstrdup("inside pydeadlock's shim, about to block");
	tm->state = THREAD_WAITING;
}

/* A join: the thread waited for is its owner (its end alone ends it). */
static void join_owner(const struct registry *r, const struct registry_slot *s,
		       struct wait_info *w)
{
	const struct registry_slot *target = registry_join_target(r, s);

	if (w->n_owners || !target)
		return;
	w->owner_tids[0] = atomic_load(&target->tid);
	w->n_owners = 1;
	w->owned = true;
	w->owner_why = NULL;
}

void registry_view_waits(const struct registry *r, struct process_model *pm,
			 pid_t pid, struct symbolizer *sym)
{
	const struct process_info *proc = model_process(pm, pid);
	bool python = proc && proc->python_version;
	pid_t sched = r ? atomic_load(&r->sched_tid) : 0;

	/* run --serial's scheduler thread is pydeadlock's, not the program's */
	for (int i = 0; sched && i < pm->n_threads; i++)
		if (pm->threads[i].pid == pid && pm->threads[i].tid == sched) {
			model_drop_thread(pm, i);
			break;
		}
	for (int i = 0; r && i < pm->n_threads; i++) {
		struct thread_model *tm = &pm->threads[i];
		const struct registry_slot *s;
		uint32_t flags;

		if (tm->pid != pid || !(s = registry_slot_of(r, tm->tid)) ||
		    !atomic_load(&s->wait_addr))
			continue;
		flags = atomic_load(&s->wait_flags);
		if ((flags & REG_WAIT_SERIAL) && tm->state == THREAD_WAITING) {
			/* asleep on the scheduler's word: the wait is the slot's */
			tm->wait.kind = model_kind(atomic_load(&s->wait_kind), python);
			tm->wait.id = tm->wait.sync_addr = atomic_load(&s->wait_addr);
			tm->wait.n_owners = 0;
			tm->wait.owned = false;
			tm->wait.owner_why = NULL;
			tm->wait.timed = flags & REG_WAIT_TIMED;
			if (!tm->wait.site.file)
				site_of_pc(sym, s->wait_site, &tm->wait.site);
			free(tm->wait.detail);
			tm->wait.detail = xstrdup("in pydeadlock's serial scheduler");
		} else if (tm->state != THREAD_WAITING && !tm->waking) {
			/* the kernel knows better than the slot a thread already woken */
			wait_from_slot(r, pid, s, python, tm, sym);
		} else if (tm->state == THREAD_WAITING &&
			   tm->wait.kind == WAIT_FUTEX) {
			/* no stack told what the futex is: the slot does */
			tm->wait.kind = model_kind(atomic_load(&s->wait_kind), python);
			tm->wait.id = tm->wait.sync_addr = atomic_load(&s->wait_addr);
		} else if (tm->state == THREAD_WAITING &&
			   tm->wait.sync_addr > atomic_load(&s->wait_addr) &&
			   tm->wait.sync_addr < atomic_load(&s->wait_addr) +
						OBJECT_FUTEX_SPAN) {
			/* the futex is a word inside the object waited on (an
			 * rwlock's writers' futex): the object is the slot's */
			tm->wait.id = tm->wait.sync_addr = atomic_load(&s->wait_addr);
		}
		/* the shim waits in timed slices that it may break: untimed;
		 * CPython waits for the GIL in 5 ms rounds: untimed too */
		if (tm->state == THREAD_WAITING && !(flags & REG_WAIT_TIMED))
			tm->wait.timed = false;
		if (tm->wait.kind == WAIT_JOIN &&
		    atomic_load(&s->wait_kind) == REG_JOIN)
			join_owner(r, s, &tm->wait);
		tm->wait.shared |= flags & REG_WAIT_SHARED;
		tm->wait.parked |= flags & REG_WAIT_PARKED;
	}
}

/* The held entry of addr in slot o, or NULL. */
static const struct registry_held *held_entry(const struct registry_slot *o,
					      uint64_t addr)
{
	uint32_t n = atomic_load(&o->n_held);

	for (uint32_t k = 0; k < n && k < REGISTRY_MAX_HELD; k++)
		if (atomic_load(&o->held[k].addr) == addr)
			return &o->held[k];
	return NULL;
}

static void add_owner(struct wait_info *w, pid_t tid)
{
	for (int k = 0; k < w->n_owners; k++)
		if (w->owner_tids[k] == tid)
			return;
	if (w->n_owners < WAIT_MAX_OWNERS)
		w->owner_tids[w->n_owners++] = tid;
}

/*
 * Who holds what s waits on (addr), from the slots: its owners.  The
 * wait is owned (only they can end it) for a mutex, an rwlock, a
 * program's own lock, and a Lock its holder took with `with`.
 */
static void owners_from_slots(const struct registry *r,
			      const struct registry_slot *s,
			      struct wait_info *w)
{
	uint32_t kind = atomic_load(&s->wait_kind);
	uint32_t flags = atomic_load(&s->wait_flags);
	uint64_t addr = atomic_load(&s->wait_addr);
	uint32_t n = atomic_load(&r->high_water);
	bool owned = kind != REG_SEMLOCK;

	if (flags & (REG_WAIT_COUNTING | REG_WAIT_SIGNAL))
		return;	/* not a lock: a counter, or a signal */
	for (uint32_t i = 0; i < n && i < REGISTRY_MAX_THREADS; i++) {
		const struct registry_slot *o = &r->slots[i];
		const struct registry_held *h;

		if (!atomic_load(&o->tid) || !(h = held_entry(o, addr)))
			continue;
		if ((flags & REG_WAIT_READ) && (h->flags & HELD_READ))
			continue;	/* readers do not keep a reader out */
		add_owner(w, atomic_load(&o->tid));
		if (kind == REG_SEMLOCK)
			owned = h->flags & HELD_OWNED;
	}
	/* a reader kept out by readers alone waits behind queued writers */
	if (!w->n_owners && kind == REG_RWLOCK && (flags & REG_WAIT_READ))
		for (uint32_t i = 0; i < n && i < REGISTRY_MAX_THREADS; i++) {
			const struct registry_slot *o = &r->slots[i];

			if (o != s && atomic_load(&o->tid) &&
			    atomic_load(&o->wait_addr) == addr &&
			    atomic_load(&o->wait_kind) == REG_RWLOCK &&
			    !(atomic_load(&o->wait_flags) &
			      (REG_WAIT_READ | REG_WAIT_TIMED)))
				add_owner(w, atomic_load(&o->tid));
		}
	if (w->n_owners) {
		w->owned = owned && !(flags & REG_WAIT_SHARED);
		w->owner_why = NULL;
	}
}

/* The GIL's holder, read from the process's memory: the thread whose
 * state is the GIL's last holder while it is locked, or 0. */
static pid_t gil_holder(const struct registry *r, pid_t pid)
{
	const struct registry_gil *g = &r->gil;
	uint64_t holder = 0, ident = 0;
	int32_t locked = 0, mutex = 0;
	uint32_t n = atomic_load(&r->high_water);

	if (!g->addr ||
	    target_read(pid, g->addr + g->locked_off, &locked, sizeof(locked)) < 0 ||
	    target_read(pid, g->addr + g->holder_off, &holder, sizeof(holder)) < 0 ||
	    !locked || !holder)
		return 0;
	/* its mutex held: locked and last_holder may disagree */
	if (g->mutex_off &&
	    (target_read(pid, g->addr + g->mutex_off, &mutex, sizeof(mutex)) < 0 ||
	     mutex))
		return 0;
	if (g->ident_off)
		(void)target_read(pid, holder + g->ident_off, &ident, sizeof(ident));
	if (n > REGISTRY_MAX_THREADS)
		n = REGISTRY_MAX_THREADS;
	/* by ident first: a thread state's address may be reused */
	for (uint32_t i = 0; ident && i < n; i++)
		if (atomic_load(&r->slots[i].tid) && r->slots[i].self == ident)
			return atomic_load(&r->slots[i].tid);
	for (uint32_t i = 0; i < n; i++)
		if (atomic_load(&r->slots[i].tid) && r->slots[i].py_tstate == holder)
			return atomic_load(&r->slots[i].tid);
	return 0;
}

/* What a fork child waits on that a thread of its parent held at the
 * fork: nobody here will release it. */
static void owner_from_orphan(const struct registry *r, struct symbolizer *sym,
			      struct py_locator *loc, bool python,
			      const struct registry_slot *s, struct wait_info *w)
{
	const struct registry_orphan *o = registry_orphan_of(r, w->sync_addr);
	struct site site = { 0 };
	char note[512];

	/* a shared object: its holder in the parent may still release it */
	if (!o || (atomic_load(&s->wait_flags) & REG_WAIT_SHARED))
		return;
	acquired_at(sym, loc, python, o->py_code, o->py_lasti, o->site, &site);
	snprintf(note, sizeof(note),
		 "held at the fork by thread %d of process %d, which does not exist in this process%s%s%s%s",
		 (int)o->tid, (int)r->fork_parent,
		 site.file ? "; taken at " : "", site.file ? site.file : "",
		 site.file ? ":" : "", "");
	if (site.file && site.line)
		snprintf(note + strlen(note), sizeof(note) - strlen(note), "%d",
			 site.line);
	free(w->note);
	w->note = xstrdup(note);
	w->n_owners = 1;
	w->owner_tids[0] = o->tid;
	w->owner_why = NULL;
	/* a mutex, an RLock (the Python view knows) or a `with` Lock only
	 * its holder releases: never, now */
	w->owned |= o->kind != REG_SEMLOCK || (o->flags & HELD_OWNED);
	w->orphaned = w->owned;
	free(site.file);
	free(site.function);
}

void registry_view_owners(const struct registry *r, struct process_model *pm,
			  pid_t pid, struct symbolizer *sym,
			  struct py_locator *py)
{
	struct process_info *proc = model_process(pm, pid);
	bool python = proc && proc->python_version;
	pid_t holder = -1;	/* the GIL's, not read yet */

	if (!r)
		return;
	if (proc) {
		proc->from_registry = true;
		proc->fork_parent = r->fork_parent;
		proc->reporting = atomic_load(&r->reporting);
		/* the shim knows whether SIGINT's handler is the
		 * interpreter's own (it only interrupts) or the program's */
		proc->wake_signals = (proc->wake_signals & ~SIGINT_BIT) |
				     (atomic_load(&r->user_signals) & SIGINT_BIT);
		/* ... and which handlers are known to wake nothing */
		proc->wake_signals &= ~atomic_load(&r->harmless_signals);
		proc->python |= r->python;
	}
	if (pid == pm->pid)
		pm->from_registry = true;
	for (int i = 0; i < pm->n_threads; i++) {
		struct thread_model *tm = &pm->threads[i];
		const struct registry_slot *s;
		struct wait_info *w = &tm->wait;

		if (tm->pid != pid || !(s = registry_slot_of(r, tm->tid)))
			continue;
		add_holds(s, pm, tm, sym, py);
		if (w->kind == WAIT_GIL && !w->n_owners) {
			/* one reading for all: one holder at a time */
			if (holder < 0)
				holder = gil_holder(r, pid);
			if (holder && holder != tm->tid) {
				w->owner_tids[0] = holder;
				w->n_owners = 1;
				w->owned = true;	/* its holder alone hands it on */
				w->owner_why = NULL;
			}
			continue;
		}
		if (w->kind == WAIT_NONE || w->n_owners || !w->sync_addr ||
		    w->kind == WAIT_JOIN || w->kind == WAIT_GIL ||
		    python_level(w->kind) ||
		    atomic_load(&s->wait_addr) != w->sync_addr)
			continue;
		owners_from_slots(r, s, w);
		if (!w->n_owners)
			owner_from_orphan(r, sym, py, python, s, w);
	}
}
