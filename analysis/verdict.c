/*
 * The verdict.  A thread is stuck when it can be proved never to run
 * again, from the model alone:
 *
 *   - a thread not blocked (running, sleeping, in I/O or another call,
 *     unknown), or in a timed wait, or in a wait that something outside
 *     the model could end (a signal handler, another process, a
 *     terminal) can act;
 *   - a thread in an owned wait (a mutex, an RLock, a join, the GIL)
 *     can act once all its owners can; one whose owner can never act
 *     (gone, or holding a private copy in another process after a fork)
 *     is stuck;
 *   - a thread in any other wait (a plain Lock, however it was taken:
 *     any thread may release one; a condition, a semaphore, a queue, a
 *     future, a pipe, a child) can act once any of its wakers can: the
 *     threads or processes named, by default every thread of its own
 *     process.
 *
 * The threads that cannot be shown able to act (the complement of the
 * least fixpoint of "can act") are stuck: a certain deadlock.  The same
 * computation with nothing outside the model able to act gives the
 * potential ones; loops of holders among waiting threads that a timeout
 * or another thread could still undo are potential too.  Stuck threads
 * are then told as cycles (owner edges, or who holds what, closing a
 * loop), orphans, and the rest, all-blocked.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/verdict.h"
#include "analysis/waitfor_graph.h"
#include "common/error.h"

static int thread_index(const struct process_model *pm, pid_t tid)
{
	for (int i = 0; i < pm->n_threads; i++)
		if (pm->threads[i].tid == tid)
			return i;
	return -1;
}

/*
 * Is t in a wait the model describes?  A pipe or a child is waited for
 * in I/O or another system call; anything else in a blocking wait.
 */
static bool blocked(const struct thread_model *t)
{
	if (t->wait.kind == WAIT_NONE || t->waking)
		return false;
	/* the GIL free, or being handed over: it takes it */
	if (t->wait.kind == WAIT_GIL && !t->wait.n_owners)
		return false;
	if (t->wait.kind == WAIT_PIPE || t->wait.kind == WAIT_CHILD)
		return t->state == THREAD_IO || t->state == THREAD_SYSCALL ||
		       t->state == THREAD_WAITING;
	return t->state == THREAD_WAITING;
}

/* Can any thread of process pid act?  A process not in the model can. */
static bool process_can_act(const struct process_model *pm, pid_t pid,
			    const bool *live)
{
	bool known = false;

	for (int i = 0; i < pm->n_threads; i++) {
		if (pm->threads[i].pid != pid)
			continue;
		known = true;
		if (live[i])
			return true;
	}
	return !known && !model_process((struct process_model *)pm, pid);
}

/* Can a thread named as a waker act?  One not in the model may. */
static bool waker_can_act(const struct process_model *pm,
			  const struct waker *k, const bool *live)
{
	int j;

	if (!k->tid)
		return process_can_act(pm, k->pid, live);
	j = thread_index(pm, k->tid);
	return j < 0 || live[j];
}

/* Given who can act, can the blocked thread t act once they do? */
static bool wait_can_end(const struct process_model *pm,
			 const struct thread_model *t, const bool *live)
{
	const struct wait_info *w = &t->wait;

	if (w->owned && w->orphaned)
		return false;
	if (w->owned && w->n_owners) {
		for (int k = 0; k < w->n_owners; k++) {
			int j = thread_index(pm, w->owner_tids[k]);

			if (j >= 0 && !live[j])
				return false;
		}
		return true;
	}
	if (w->n_wakers) {
		for (int k = 0; k < w->n_wakers; k++)
			if (waker_can_act(pm, &w->wakers[k], live))
				return true;
		return false;
	}
	return process_can_act(pm, t->pid, live);
}

/* stuck[i]: thread i can be proved never to act again. */
static void find_stuck(const struct process_model *pm, bool outside_counts,
		       bool *stuck)
{
	bool *live = xcalloc(pm->n_threads + 1, sizeof(bool));
	bool changed = true;

	for (int i = 0; i < pm->n_threads; i++) {
		const struct thread_model *t = &pm->threads[i];

		live[i] = !blocked(t) || t->wait.timed ||
			  (outside_counts && t->wait.external);
	}
	while (changed) {
		changed = false;
		for (int i = 0; i < pm->n_threads; i++)
			if (!live[i] && wait_can_end(pm, &pm->threads[i], live))
				live[i] = changed = true;
	}
	for (int i = 0; i < pm->n_threads; i++)
		stuck[i] = !live[i];
	free(live);
}

/*
 * At one moment one thread at most holds the GIL, and CPython lets it go
 * before any wait of a Python object (a Lock, a Condition, a Queue...).
 * A GIL waiter whose named holder waits for the GIL too, or in such a
 * wait, saw the GIL change hands (read while it moved, or its holder
 * read at another moment than its wait): nobody owns that wait.  A
 * holder that keeps it in a native wait (a C library's mutex) does own
 * it.
 */
static void gil_handovers(struct process_model *pm)
{
	for (int i = 0; i < pm->n_threads; i++) {
		struct wait_info *w = &pm->threads[i].wait;
		const struct thread_model *o;

		if (w->kind != WAIT_GIL || w->n_owners != 1 ||
		    !(o = model_thread(pm, w->owner_tids[0])) ||
		    (o->wait.kind != WAIT_GIL && !(blocked(o) && o->wait.pytype)))
			continue;
		w->n_owners = 0;
		w->owned = false;
		w->owner_why = "the GIL is being handed from one thread to another";
	}
}

/* Thread states tell holds: what an owner holds is what others wait on. */
static void derive_holds(struct process_model *pm)
{
	for (int i = 0; i < pm->n_threads; i++) {
		const struct wait_info *w = &pm->threads[i].wait;

		/* an rwlock reader's owners may be writers queued before it,
		 * who hold nothing yet */
		if (w->kind == WAIT_JOIN || w->kind == WAIT_CHILD ||
		    w->kind == WAIT_PIPE || w->kind == WAIT_GIL ||
		    w->kind == WAIT_RWLOCK)
			continue;
		for (int k = 0; k < w->n_owners; k++) {
			struct thread_model *owner = model_thread(pm, w->owner_tids[k]);

			if (owner)
				model_add_held(owner, w->kind, w->id, w->owned, NULL);
		}
	}
}

struct cycle_sink {
	struct process_model *pm;
	bool *explained;
	struct deadlock **list;
	int *n;
	bool certain;
	const char *why;
	bool potential;		/* blocked threads able to act: say what could */
};

#define WHY_TIMED "a timed wait in it gives up when its timeout expires"
#define WHY_LIVE "another thread could still release a lock in it (any thread may release a Lock) or notify it"
#define WHY_OUTSIDE "something outside the program could end a wait in it"


/* A cycle of thread indices: turn it into TIDs and file it. */
static void cycle_found(const int *nodes, int n, void *ctx)
{
	struct cycle_sink *sink = ctx;
	struct process_model *pm = sink->pm;
	pid_t *tids = xcalloc(n, sizeof(pid_t));
	bool timed = false;

	const char *why = sink->why;

	for (int i = 0; i < n; i++) {
		tids[i] = pm->threads[nodes[i]].tid;
		timed |= pm->threads[nodes[i]].wait.timed;
		if (sink->potential && !why && pm->threads[nodes[i]].wait.external)
			why = pm->threads[nodes[i]].wait.external;
	}
	if (sink->potential)
		why = timed ? WHY_TIMED : why ? why : WHY_LIVE;
	model_add_deadlock(sink->list, sink->n, DEADLOCK_CYCLE, tids, n,
			   sink->certain, why);
	for (int i = 0; i < n && sink->explained; i++)
		sink->explained[nodes[i]] = true;
	free(tids);
}

/*
 * Owner cycles among the threads in set (who holds what, owned or not):
 * for stuck threads, how their deadlock reads; for waiting threads that
 * could still act (sink->potential), a loop only a timeout or another
 * thread could undo, filed with what could.
 */
static int find_cycles(struct process_model *pm, const bool *set,
		       struct cycle_sink *sink)
{
	struct waitfor_graph *g = waitfor_graph_new(pm->n_threads);
	int rc;

	if (!g)
		return -1;
	for (int i = 0; i < pm->n_threads; i++) {
		const struct wait_info *w = &pm->threads[i].wait;

		if (!set[i] || w->kind == WAIT_NONE)
			continue;
		for (int k = 0; k < w->n_owners; k++) {
			int j = thread_index(pm, w->owner_tids[k]);

			if (j >= 0 && set[j])
				waitfor_graph_add_edge(g, i, j);
		}
	}
	rc = waitfor_graph_cycles(g, cycle_found, sink);
	waitfor_graph_free(g);
	return rc < 0 ? -1 : 0;
}

/* Stuck threads whose owner can never act: each an orphaned deadlock. */
static void find_orphans(struct process_model *pm, const bool *set,
			 struct cycle_sink *sink)
{
	for (int i = 0; i < pm->n_threads; i++) {
		const struct thread_model *t = &pm->threads[i];

		if (!set[i] || sink->explained[i] || !t->wait.orphaned)
			continue;
		model_add_deadlock(sink->list, sink->n, DEADLOCK_ORPHANED,
				   &t->tid, 1, sink->certain, sink->why);
		sink->explained[i] = true;
	}
}

/*
 * Is every other thread that could end i's wait explained (in a cycle,
 * orphaned, or stuck because of those)?  Then i is stuck because of
 * them too.
 */
static bool enders_explained(const struct process_model *pm, int i,
			     const bool *explained)
{
	const struct thread_model *t = &pm->threads[i];
	const struct wait_info *w = &t->wait;
	bool any = false;

	if (w->n_owners && (w->owned || !w->n_wakers)) {
		for (int k = 0; k < w->n_owners; k++) {
			int j = thread_index(pm, w->owner_tids[k]);

			if (j < 0 || !explained[j])
				return false;
		}
		if (w->owned)
			return true;
		any = true;
	}
	for (int j = 0; j < pm->n_threads; j++) {
		const struct thread_model *o = &pm->threads[j];
		bool ender = false;

		if (j == i)
			continue;
		if (w->n_wakers)
			for (int k = 0; k < w->n_wakers && !ender; k++)
				ender = w->wakers[k].tid ? w->wakers[k].tid == o->tid
							 : w->wakers[k].pid == o->pid;
		else
			ender = o->pid == t->pid;
		if (ender && !explained[j])
			return false;
		any |= ender;
	}
	return any;
}

/*
 * Tell the threads of set: cycles, orphans, and those stuck only because
 * of them; the others together are all-blocked.
 */
static int classify(struct process_model *pm, const bool *set,
		    struct deadlock **list, int *n, bool certain,
		    const char *why)
{
	bool *explained = xcalloc(pm->n_threads + 1, sizeof(bool));
	struct cycle_sink sink = { pm, explained, list, n, certain, why, false };
	pid_t *tids = xcalloc(pm->n_threads + 1, sizeof(pid_t));
	bool changed = true;
	int n_left = 0, rc;

	rc = find_cycles(pm, set, &sink);
	find_orphans(pm, set, &sink);
	while (changed) {
		changed = false;
		for (int i = 0; i < pm->n_threads; i++)
			if (set[i] && !explained[i] &&
			    enders_explained(pm, i, explained))
				explained[i] = changed = true;
	}
	for (int i = 0; i < pm->n_threads; i++)
		if (set[i] && !explained[i])
			tids[n_left++] = pm->threads[i].tid;
	if (n_left)
		model_add_deadlock(list, n, DEADLOCK_ALL_BLOCKED, tids, n_left,
				   certain, why);
	free(tids);
	free(explained);
	return rc;
}

/* The first reason from outside among the threads of set. */
static const char *outside_reason(const struct process_model *pm,
				  const bool *set)
{
	for (int i = 0; i < pm->n_threads; i++)
		if (set[i] && pm->threads[i].wait.external)
			return pm->threads[i].wait.external;
	return WHY_OUTSIDE;
}

int verdict_compute(struct process_model *pm)
{
	int n = pm->n_threads;
	bool *stuck = xcalloc(n + 1, sizeof(bool));
	bool *maybe = xcalloc(n + 1, sizeof(bool));
	bool *waiting = xcalloc(n + 1, sizeof(bool));
	bool any_maybe = false;
	struct cycle_sink loops = { pm, NULL, &pm->potential, &pm->n_potential,
				    false, NULL, true };
	int rc;

	gil_handovers(pm);
	derive_holds(pm);
	find_stuck(pm, true, stuck);
	rc = classify(pm, stuck, &pm->deadlocks, &pm->n_deadlocks, true, NULL);
	/* potential: stuck unless something outside acts */
	find_stuck(pm, false, maybe);
	for (int i = 0; i < n; i++) {
		maybe[i] &= !stuck[i];
		any_maybe |= maybe[i];
		waiting[i] = blocked(&pm->threads[i]) && !stuck[i];
		pm->threads[i].stuck = stuck[i];
		pm->threads[i].stuck_unless_outside = maybe[i];
	}
	if (any_maybe && classify(pm, maybe, &pm->potential, &pm->n_potential,
				  false, outside_reason(pm, maybe)) < 0)
		rc = -1;
	/* potential: loops of holders among waiting threads that could still
	 * be ended (a timeout, another thread releasing a Lock) */
	for (int i = 0; i < n; i++)
		waiting[i] &= !maybe[i];
	if (find_cycles(pm, waiting, &loops) < 0)
		rc = -1;
	free(stuck);
	free(maybe);
	free(waiting);
	return rc;
}
