#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tracer/attach/attach_break.h"
#include "tracer/attach/registry_remote.h"

/*
 * Did thread tid of pid leave the wait it was in (addr)?  Yes when the
 * failure reached the program (its breaks_taken moved past taken): a
 * victim that raised and retried may be back in a wait on the same lock
 * by the first look; no when the failed wait was retried where the
 * program never saw it (CPython's own locks, taken without intr_flag).
 */
static bool left_wait(pid_t pid, uint64_t reg, pid_t tid, uint64_t addr,
		      uint32_t taken)
{
	for (int ms = 0; ms < BREAK_WAIT_MS; ms++) {
		struct timespec nap = { 0, 1000000 };
		struct registry *r = registry_read(pid, NULL);
		const struct registry_slot *s = r ? registry_slot_of(r, tid) : NULL;
		bool left = !s || atomic_load(&s->wait_addr) != addr ||
			    atomic_load(&s->breaks_taken) != taken;

		registry_copy_free(r);
		if (left || !reg)
			return left;
		nanosleep(&nap, NULL);
	}
	return false;
}

/* Can the wait of slot s be failed?  Never a condition's, the GIL's or
 * one of the interpreter's own. */
static bool breakable_wait(const struct registry_slot *s)
{
	uint32_t kind = atomic_load(&s->wait_kind);

	return atomic_load(&s->wait_addr) && kind != REG_COND &&
	       kind != REG_GIL &&
	       !(atomic_load(&s->wait_flags) & (REG_WAIT_TIMED | REG_WAIT_FIRM));
}

pid_t attach_break_deadlock(const struct process_model *pm,
			    const struct deadlock *d, enum registry_victim policy,
			    const char *how, char *why, size_t size)
{
	bool tried[REGISTRY_MAX_CYCLE] = { 0 };
	bool any_registry = false, static_python = false, unbreakable = false;
	bool untracked = false;	/* a wait the shim does not hold: a syscall's */

	/* by the policy; the next best should one refuse */
	for (int round = 0; round < d->n_tids && round < REGISTRY_MAX_CYCLE; round++) {
		struct registry *best_r = NULL;
		const struct registry_slot *best = NULL;
		uint64_t best_addr = 0;
		pid_t best_pid = 0;
		int best_i = -1;

		for (int i = 0; i < d->n_tids && i < REGISTRY_MAX_CYCLE; i++) {
			const struct thread_model *t =
				model_thread((struct process_model *)pm, d->tids[i]);
			struct registry *r;
			const struct registry_slot *s;
			uint64_t addr;

			if (tried[i] || !t || !(r = registry_read(t->pid, &addr)))
				continue;
			any_registry |= atomic_load(&r->breakable);
			s = registry_slot_of(r, d->tids[i]);
			/* a static Python's other threads keep waiting */
			if (s && r->raise_main_only && d->tids[i] != t->pid &&
			    atomic_load(&s->wait_kind) == REG_SEMLOCK) {
				static_python = true;
				s = NULL;
			}
			unbreakable |= s && !breakable_wait(s);
			untracked |= !s || !atomic_load(&s->wait_addr);
			if (!atomic_load(&r->breakable) || !s || !breakable_wait(s) ||
			    !registry_victim_better(policy, s, best)) {
				registry_copy_free(r);
				continue;
			}
			registry_copy_free(best_r);
			best_r = r;
			best = s;
			best_addr = addr;
			best_pid = t->pid;
			best_i = i;
		}
		if (!best)
			break;
		tried[best_i] = true;
		uint64_t waited = atomic_load(&best->wait_addr);
		uint32_t taken = atomic_load(&best->breaks_taken);
		pid_t tid = atomic_load(&best->tid);
		char msg[192];

		if (d->certain)
			snprintf(msg, sizeof(msg),
				 "deadlock: this wait (thread %d, for 0x%llx) would never end; failed by %s",
				 (int)tid, (unsigned long long)waited, how);
		else
			snprintf(msg, sizeof(msg),
				 "potential deadlock: this wait (thread %d, for 0x%llx) and the others of its loop stayed unchanged; failed by %s",
				 (int)tid, (unsigned long long)waited, how);
		if (registry_break_thread(best_pid, best_addr,
					  (uint32_t)(best - best_r->slots), msg) == 0 &&
		    left_wait(best_pid, best_addr, tid, waited, taken)) {
			registry_copy_free(best_r);
			return tid;
		}
		registry_copy_free(best_r);
	}
	if (!any_registry)
		snprintf(why, size,
			 "process %d does not run under 'pydeadlock run --on-deadlock=report' or '=break': its waits cannot be failed from outside",
			 pm->pid);
	else
		snprintf(why, size,
			 "no thread of the deadlock in process %d could be made to fail its wait%s%s%s",
			 pm->pid, static_python || unbreakable || untracked ? " (" : "",
			 static_python ? "only the main thread of a statically linked Python can raise in a lock wait"
			 : unbreakable ? "a condition's, the GIL's or the interpreter's own wait cannot fail"
			 : untracked ? "a wait in a system call, for a child process or a pipe, is not the shim's to fail"
			 : "",
			 static_python || unbreakable || untracked ? ")" : "");
	return -1;
}

pid_t attach_break(const struct process_model *pm, char *why, size_t size)
{
	if (!pm->n_deadlocks) {
		snprintf(why, size, "no deadlock to break in process %d", pm->pid);
		return -1;
	}
	return attach_break_deadlock(pm, &pm->deadlocks[0], VICTIM_NEWEST,
				     "pydeadlock attach --break", why, size);
}
