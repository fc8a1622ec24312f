#include <stdlib.h>

#include "analysis/verdict.h"
#include "analysis/waitfor_graph.h"
#include "common/error.h"

/* Kinds whose owner holds the object (the owner can release it). */
static bool kind_is_owned(enum wait_kind k)
{
	return k == WAIT_LOCK || k == WAIT_RLOCK || k == WAIT_MUTEX ||
	       k == WAIT_RWLOCK || k == WAIT_SEMAPHORE || k == WAIT_GIL;
}

bool verdict_wait_in_process(const struct wait_info *w)
{
	switch (w->kind) {
	case WAIT_LOCK: case WAIT_RLOCK: case WAIT_SEMAPHORE:
	case WAIT_CONDITION: case WAIT_EVENT: case WAIT_QUEUE:
	case WAIT_JOIN: case WAIT_FUTURE: case WAIT_MUTEX:
	case WAIT_RWLOCK: case WAIT_COND: case WAIT_SEM:
		return true;
	default:
		return false;	/* the GIL is always handed on; a bare futex may be shared */
	}
}

static int thread_index(const struct process_model *pm, pid_t tid)
{
	for (int i = 0; i < pm->n_threads; i++)
		if (pm->threads[i].tid == tid)
			return i;
	return -1;
}

static void derive_holds(struct process_model *pm)
{
	for (int i = 0; i < pm->n_threads; i++) {
		const struct wait_info *w = &pm->threads[i].wait;

		if (!kind_is_owned(w->kind))
			continue;
		for (int k = 0; k < w->n_owners; k++) {
			struct thread_model *owner = model_thread(pm, w->owner_tids[k]);

			if (owner)
				model_add_held(owner, w->kind, w->id, NULL);
		}
	}
}

struct cycle_sink {
	struct process_model *pm;
	bool with_timed;	/* collecting the graph that includes timed edges */
};

/* A cycle of thread indices: turn it into TIDs and file it. */
static void cycle_found(const int *nodes, int n, void *ctx)
{
	struct cycle_sink *sink = ctx;
	struct process_model *pm = sink->pm;
	pid_t *tids = xcalloc(n, sizeof(pid_t));
	bool timed = false;

	for (int i = 0; i < n; i++) {
		tids[i] = pm->threads[nodes[i]].tid;
		timed |= pm->threads[nodes[i]].wait.timed;
	}
	if (!sink->with_timed)
		model_add_deadlock(&pm->deadlocks, &pm->n_deadlocks,
				   DEADLOCK_CYCLE, tids, n, true);
	else if (timed)	/* untimed cycles were filed by the first pass */
		model_add_deadlock(&pm->potential, &pm->n_potential,
				   DEADLOCK_CYCLE, tids, n, false);
	free(tids);
}

static int find_cycles(struct process_model *pm, bool with_timed)
{
	struct waitfor_graph *g = waitfor_graph_new(pm->n_threads);
	struct cycle_sink sink = { pm, with_timed };
	int rc;

	if (!g)
		return -1;
	for (int i = 0; i < pm->n_threads; i++) {
		const struct wait_info *w = &pm->threads[i].wait;

		if (w->kind == WAIT_NONE || (w->timed && !with_timed))
			continue;
		for (int k = 0; k < w->n_owners; k++) {
			int j = thread_index(pm, w->owner_tids[k]);

			if (j >= 0)
				waitfor_graph_add_edge(g, i, j);
		}
	}
	rc = waitfor_graph_cycles(g, cycle_found, &sink);
	waitfor_graph_free(g);
	return rc < 0 ? -1 : 0;
}

/*
 * Untimed waits on an owned object whose owner is no thread of ours.  Not
 * joins: a joined thread that has just exited is gone before glibc clears
 * its TID, and that join is about to return.
 */
static void find_orphans(struct process_model *pm)
{
	for (int i = 0; i < pm->n_threads; i++) {
		const struct thread_model *t = &pm->threads[i];
		const struct wait_info *w = &t->wait;

		if (w->timed || w->n_owners != 1 || !kind_is_owned(w->kind))
			continue;
		if (!model_thread(pm, w->owner_tids[0]))
			model_add_deadlock(&pm->deadlocks, &pm->n_deadlocks,
					   DEADLOCK_ORPHANED, &t->tid, 1, true);
	}
}

/*
 * Mark the threads the deadlocks found so far explain: those in one, and,
 * until nothing changes, those waiting untimed on an explained owner (main
 * joining a thread of the cycle is stuck because of the cycle).
 */
static void mark_explained(const struct process_model *pm, bool *explained)
{
	bool changed = true;

	for (int d = 0; d < pm->n_deadlocks; d++)
		for (int k = 0; k < pm->deadlocks[d].n_tids; k++) {
			int i = thread_index(pm, pm->deadlocks[d].tids[k]);

			if (i >= 0)
				explained[i] = true;
		}
	while (changed) {
		changed = false;
		for (int i = 0; i < pm->n_threads; i++) {
			const struct wait_info *w = &pm->threads[i].wait;
			bool all = w->n_owners > 0 && !w->timed;

			if (explained[i])
				continue;
			for (int k = 0; k < w->n_owners && all; k++) {
				int j = thread_index(pm, w->owner_tids[k]);

				all = j >= 0 && explained[j];
			}
			if (all)
				explained[i] = changed = true;
		}
	}
}

/*
 * Every thread waits, untimed, on an object of the process: no thread is
 * left to release anything.  Not filed when the deadlocks already found
 * explain every thread.
 */
static void find_all_blocked(struct process_model *pm)
{
	bool *explained, all_explained = true;
	pid_t *tids;

	if (!pm->n_threads)
		return;
	for (int i = 0; i < pm->n_threads; i++) {
		const struct thread_model *t = &pm->threads[i];

		if (t->state != THREAD_WAITING || t->wait.timed ||
		    !verdict_wait_in_process(&t->wait))
			return;
	}
	explained = xcalloc(pm->n_threads, sizeof(bool));
	mark_explained(pm, explained);
	for (int i = 0; i < pm->n_threads; i++)
		all_explained &= explained[i];
	free(explained);
	if (all_explained)
		return;
	tids = xcalloc(pm->n_threads, sizeof(pid_t));
	for (int i = 0; i < pm->n_threads; i++)
		tids[i] = pm->threads[i].tid;
	model_add_deadlock(&pm->deadlocks, &pm->n_deadlocks,
			   DEADLOCK_ALL_BLOCKED, tids, pm->n_threads, true);
	free(tids);
}

int verdict_compute(struct process_model *pm)
{
	derive_holds(pm);
	if (find_cycles(pm, false) < 0 || find_cycles(pm, true) < 0)
		return -1;
	find_orphans(pm);
	find_all_blocked(pm);
	return 0;
}
