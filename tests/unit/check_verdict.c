/*
 * Unit tests of the verdict (analysis/verdict.c): which threads are
 * proved stuck, and how the deadlock reads, for models of known shape.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/verdict.h"
#include "common/model.h"

#define PID 100		/* the process of thread 0; threads are PID+i */

/* A model of n threads of process PID, all running. */
static void model_make(struct process_model *pm, int n)
{
	memset(pm, 0, sizeof(*pm));
	pm->pid = PID;
	model_add_process(pm, PID);
	pm->threads = calloc(n, sizeof(*pm->threads));
	pm->n_threads = n;
	for (int i = 0; i < n; i++) {
		pm->threads[i].pid = PID;
		pm->threads[i].tid = PID + i;
		pm->threads[i].state = THREAD_RUNNING;
	}
}

/* Thread i waits on object id of kind, owned or not, held by owner (or
 * -1: nobody known). */
static struct wait_info *waits(struct process_model *pm, int i,
			       enum wait_kind kind, uint64_t id, bool owned,
			       int owner)
{
	struct thread_model *t = &pm->threads[i];

	t->state = THREAD_WAITING;
	t->wait.kind = kind;
	t->wait.id = id;
	t->wait.owned = owned;
	if (owner >= 0) {
		t->wait.owner_tids[0] = PID + owner;
		t->wait.n_owners = 1;
	}
	return &t->wait;
}

static int count_kind(const struct deadlock *d, int n, enum deadlock_kind kind)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += d[i].kind == kind;
	return k;
}

/* Owned waits in a loop: stuck, whatever the other threads do. */
START_TEST(test_owned_cycle_while_others_run)
{
	struct process_model pm;

	model_make(&pm, 3);
	waits(&pm, 0, WAIT_MUTEX, 0x10, true, 1);
	waits(&pm, 1, WAIT_MUTEX, 0x20, true, 0);
	/* thread 2 runs */
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 1);
	ck_assert_int_eq(pm.deadlocks[0].kind, DEADLOCK_CYCLE);
	ck_assert_int_eq(pm.deadlocks[0].n_tids, 2);
	ck_assert(pm.deadlocks[0].certain);
	/* holds are derived from the owners */
	ck_assert_int_eq(pm.threads[0].n_holds, 1);
	ck_assert_int_eq(pm.threads[0].holds[0].id, 0x20);
	model_free(&pm);
}
END_TEST

/*
 * Locks taken by acquire() in a loop: any thread could release one, so
 * with a third thread able to act there is no proof, only a potential
 * (the lock released by another thread, which is legal).
 */
START_TEST(test_unowned_cycle_with_a_live_thread)
{
	struct process_model pm;

	model_make(&pm, 3);
	waits(&pm, 0, WAIT_LOCK, 0x10, false, 1);
	waits(&pm, 1, WAIT_LOCK, 0x20, false, 0);
	pm.threads[2].state = THREAD_SLEEPING;
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 0);
	model_free(&pm);
}
END_TEST

/* ... and the same with every thread stuck (main joins) is a cycle. */
START_TEST(test_unowned_cycle_all_stuck)
{
	struct process_model pm;

	model_make(&pm, 3);
	waits(&pm, 0, WAIT_LOCK, 0x10, false, 1);
	waits(&pm, 1, WAIT_LOCK, 0x20, false, 0);
	waits(&pm, 2, WAIT_JOIN, 0x30, true, 0);
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 1);
	ck_assert_int_eq(pm.deadlocks[0].kind, DEADLOCK_CYCLE);
	ck_assert_int_eq(pm.deadlocks[0].n_tids, 2);
	model_free(&pm);
}
END_TEST

/*
 * One thread at most holds the GIL: two GIL waiters each named the
 * other's holder are a hand-over seen midway, no cycle; a GIL waiter
 * whose holder waits on a mutex the waiter holds is one; one whose
 * holder waits on a Python object is not (CPython let the GIL go).
 */
START_TEST(test_gil_handover_is_no_cycle)
{
	struct process_model pm;

	model_make(&pm, 3);
	waits(&pm, 0, WAIT_GIL, 0x10, true, 1);
	waits(&pm, 1, WAIT_GIL, 0x10, true, 0);
	waits(&pm, 2, WAIT_JOIN, 0x30, true, 0);
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 0);
	ck_assert_int_eq(pm.threads[0].wait.n_owners, 0);
	model_free(&pm);

	model_make(&pm, 2);
	waits(&pm, 0, WAIT_GIL, 0x10, true, 1);
	waits(&pm, 1, WAIT_MUTEX, 0x20, true, 0);
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 1);
	ck_assert_int_eq(pm.deadlocks[0].n_tids, 2);
	model_free(&pm);

	/* a holder in a wait on a Python object let the GIL go first */
	model_make(&pm, 3);
	waits(&pm, 0, WAIT_GIL, 0x10, true, 1);
	waits(&pm, 1, WAIT_RLOCK, 0x20, true, 0)->pytype = strdup("_thread.RLock");
	waits(&pm, 2, WAIT_JOIN, 0x30, true, 0);
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 0);
	model_free(&pm);
}
END_TEST

/* A mutex (or an RLock) waited on again by its holder. */
START_TEST(test_owned_self_wait)
{
	struct process_model pm;

	model_make(&pm, 2);
	waits(&pm, 0, WAIT_MUTEX, 0x10, true, 0);
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 1);
	ck_assert_int_eq(pm.deadlocks[0].kind, DEADLOCK_CYCLE);
	ck_assert_int_eq(pm.deadlocks[0].n_tids, 1);
	model_free(&pm);
}
END_TEST

/* A Lock waited on again by its holder, another thread running: no. */
START_TEST(test_unowned_self_wait_other_runs)
{
	struct process_model pm;

	model_make(&pm, 2);
	waits(&pm, 0, WAIT_LOCK, 0x10, false, 0);
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 0);
	model_free(&pm);
}
END_TEST

/* Conditions and futures only: stuck when every thread waits. */
START_TEST(test_all_blocked_knot)
{
	struct process_model pm;

	model_make(&pm, 3);
	waits(&pm, 0, WAIT_JOIN, 0x10, true, 1);
	waits(&pm, 1, WAIT_FUTURE, 0x20, false, -1);
	waits(&pm, 2, WAIT_CONDITION, 0x30, false, -1);
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 1);
	ck_assert_int_eq(pm.deadlocks[0].kind, DEADLOCK_ALL_BLOCKED);
	ck_assert_int_eq(pm.deadlocks[0].n_tids, 3);	/* every thread, the join too */
	model_free(&pm);
}
END_TEST

/* A timed wait anywhere: the knot is not stuck. */
START_TEST(test_knot_with_timed_wait)
{
	struct process_model pm;

	model_make(&pm, 2);
	waits(&pm, 0, WAIT_CONDITION, 0x10, false, -1);
	waits(&pm, 1, WAIT_CONDITION, 0x20, false, -1)->timed = true;
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 0);
	ck_assert_int_eq(pm.n_potential, 0);
	model_free(&pm);
}
END_TEST

/* A signal handler (outside the model) could end it: potential only. */
START_TEST(test_external_is_potential)
{
	struct process_model pm;

	model_make(&pm, 2);
	waits(&pm, 0, WAIT_JOIN, 0x10, true, 1);
	waits(&pm, 1, WAIT_EVENT, 0x20, false, -1)->external =
		strdup("process 100 handles SIGTERM");
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 0);
	ck_assert_int_eq(pm.n_potential, 1);
	ck_assert(!pm.potential[0].certain);
	ck_assert_str_eq(pm.potential[0].why, "process 100 handles SIGTERM");
	model_free(&pm);
}
END_TEST

/* An owner cycle through a timed wait: potential, the timeout ends it. */
START_TEST(test_timed_cycle_is_potential)
{
	struct process_model pm;

	model_make(&pm, 2);
	waits(&pm, 0, WAIT_MUTEX, 0x10, true, 1)->timed = true;
	waits(&pm, 1, WAIT_MUTEX, 0x20, true, 0);
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 0);
	ck_assert_int_eq(pm.n_potential, 1);
	ck_assert_int_eq(pm.potential[0].kind, DEADLOCK_CYCLE);
	model_free(&pm);
}
END_TEST

/* The owner cannot act (after a fork): orphaned. */
START_TEST(test_orphaned)
{
	struct process_model pm;

	model_make(&pm, 2);
	waits(&pm, 0, WAIT_MUTEX, 0x10, true, -1);
	pm.threads[0].wait.owner_tids[0] = 4242;
	pm.threads[0].wait.n_owners = 1;
	pm.threads[0].wait.orphaned = true;
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 1);
	ck_assert_int_eq(pm.deadlocks[0].kind, DEADLOCK_ORPHANED);
	ck_assert_int_eq(pm.deadlocks[0].tids[0], PID);
	model_free(&pm);
}
END_TEST

/* A writer waits for all readers: stuck when any one reader is. */
START_TEST(test_rwlock_readers_all_needed)
{
	struct process_model pm;
	struct wait_info *w;

	model_make(&pm, 3);
	w = waits(&pm, 0, WAIT_RWLOCK, 0x10, true, 1);
	w->owner_tids[1] = PID + 2;
	w->n_owners = 2;
	/* reader 1 waits for the writer (queued behind it), reader 2 runs */
	waits(&pm, 1, WAIT_RWLOCK, 0x10, true, 0);
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 1);
	ck_assert_int_eq(pm.deadlocks[0].kind, DEADLOCK_CYCLE);
	ck_assert_int_eq(pm.deadlocks[0].n_tids, 2);
	model_free(&pm);
}
END_TEST

/* Two processes: a parent in waitpid, its child writing a full pipe
 * that only the parent reads. */
START_TEST(test_pipe_and_waitpid)
{
	struct process_model pm;
	struct process_info *child;
	struct wait_info *w;

	model_make(&pm, 2);
	child = model_add_process(&pm, 200);
	child->ppid = PID;
	pm.threads[1].pid = 200;
	pm.threads[1].tid = 200;
	w = waits(&pm, 0, WAIT_CHILD, 200, false, -1);
	wait_add_waker(w, 200, 0);
	w = waits(&pm, 1, WAIT_PIPE, 77, false, -1);
	pm.threads[1].state = THREAD_IO;
	wait_add_waker(w, PID, 0);
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 1);
	ck_assert_int_eq(pm.deadlocks[0].kind, DEADLOCK_ALL_BLOCKED);
	ck_assert_int_eq(pm.deadlocks[0].n_tids, 2);
	model_free(&pm);
}
END_TEST

/* ... and with another thread of the parent able to read: no deadlock. */
START_TEST(test_pipe_reader_alive)
{
	struct process_model pm;
	struct wait_info *w;

	model_make(&pm, 3);
	model_add_process(&pm, 200)->ppid = PID;
	pm.threads[1].pid = 200;
	w = waits(&pm, 0, WAIT_CHILD, 200, false, -1);
	wait_add_waker(w, 200, 0);
	w = waits(&pm, 1, WAIT_PIPE, 77, false, -1);
	wait_add_waker(w, PID, 0);
	/* thread 2 of the parent runs */
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 0);
	model_free(&pm);
}
END_TEST

/* A waker in a process the model does not know can act. */
START_TEST(test_unknown_waker_can_act)
{
	struct process_model pm;
	struct wait_info *w;

	model_make(&pm, 1);
	w = waits(&pm, 0, WAIT_SEM, 0x10, false, -1);
	wait_add_waker(w, 999, 0);
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 0);
	model_free(&pm);
}
END_TEST

/* A thread being woken (its futex posted) is not blocked. */
START_TEST(test_waking_thread_acts)
{
	struct process_model pm;

	model_make(&pm, 2);
	waits(&pm, 0, WAIT_CONDITION, 0x10, false, -1);
	waits(&pm, 1, WAIT_CONDITION, 0x10, false, -1);
	pm.threads[1].waking = true;
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 0);
	model_free(&pm);
}
END_TEST

/* A cycle and a thread waiting on a condition only they could signal:
 * the cycle, and that thread explained by it. */
START_TEST(test_condition_behind_cycle)
{
	struct process_model pm;

	model_make(&pm, 3);
	waits(&pm, 0, WAIT_MUTEX, 0x10, true, 1);
	waits(&pm, 1, WAIT_MUTEX, 0x20, true, 0);
	waits(&pm, 2, WAIT_CONDITION, 0x30, false, -1);
	ck_assert_int_eq(verdict_compute(&pm), 0);
	ck_assert_int_eq(pm.n_deadlocks, 1);
	ck_assert_int_eq(count_kind(pm.deadlocks, pm.n_deadlocks,
				    DEADLOCK_CYCLE), 1);
	model_free(&pm);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("verdict");
	TCase *tc = tcase_create("verdict");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_owned_cycle_while_others_run);
	tcase_add_test(tc, test_unowned_cycle_with_a_live_thread);
	tcase_add_test(tc, test_unowned_cycle_all_stuck);
	tcase_add_test(tc, test_gil_handover_is_no_cycle);
	tcase_add_test(tc, test_owned_self_wait);
	tcase_add_test(tc, test_unowned_self_wait_other_runs);
	tcase_add_test(tc, test_all_blocked_knot);
	tcase_add_test(tc, test_knot_with_timed_wait);
	tcase_add_test(tc, test_external_is_potential);
	tcase_add_test(tc, test_timed_cycle_is_potential);
	tcase_add_test(tc, test_orphaned);
	tcase_add_test(tc, test_rwlock_readers_all_needed);
	tcase_add_test(tc, test_pipe_and_waitpid);
	tcase_add_test(tc, test_pipe_reader_alive);
	tcase_add_test(tc, test_unknown_waker_can_act);
	tcase_add_test(tc, test_waking_thread_acts);
	tcase_add_test(tc, test_condition_behind_cycle);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
