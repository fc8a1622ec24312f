#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/registry.h"
#include "tracer/attach/attach_break.h"

/* Did the thread of s leave the wait it was in (wait_addr)? */
static bool left_wait(struct registry_slot *s, uint64_t addr)
{
	for (int ms = 0; ms < BREAK_WAIT_MS; ms++) {
		struct timespec nap = { 0, 1000000 };

		if (atomic_load(&s->wait_addr) != addr)
			return true;
		nanosleep(&nap, NULL);
	}
	return false;
}

pid_t attach_break(const struct process_model *pm, char *why, size_t size)
{
	const struct deadlock *d = pm->n_deadlocks ? &pm->deadlocks[0] : NULL;
	struct registry *r;
	bool tried[REGISTRY_MAX_CYCLE] = { 0 };
	pid_t victim = -1;

	if (!d) {
		snprintf(why, size, "no deadlock to break in process %d", pm->pid);
		return -1;
	}
	r = registry_open_rw(pm->pid);
	if (!r || !atomic_load(&r->breakable)) {
		snprintf(why, size,
			 "process %d does not run under 'pydeadlock run --on-deadlock=report' or '=break': its waits cannot be failed from outside",
			 pm->pid);
		registry_close(r);
		return -1;
	}
	/* newest waiter first: its failure undoes least */
	for (int round = 0; round < d->n_tids && round < REGISTRY_MAX_CYCLE; round++) {
		struct registry_slot *best = NULL;
		int best_i = -1;

		for (int i = 0; i < d->n_tids && i < REGISTRY_MAX_CYCLE; i++) {
			struct registry_slot *s = registry_slot_of(r, d->tids[i]);

			if (tried[i] || !s || !atomic_load(&s->wait_addr))
				continue;
			if (!best || s->wait_since_ns > best->wait_since_ns) {
				best = s;
				best_i = i;
			}
		}
		if (!best)
			break;
		tried[best_i] = true;
		uint64_t addr = atomic_load(&best->wait_addr);
		pid_t tid = atomic_load(&best->tid);	/* gone once it has left */

		snprintf(best->break_why, sizeof(best->break_why),
			 "deadlock: this wait (thread %d, for 0x%llx) would never end; failed by pydeadlock attach --break",
			 (int)atomic_load(&best->tid), (unsigned long long)addr);
		atomic_store(&best->break_pending, 1);
		if (left_wait(best, addr)) {
			victim = tid;
			break;
		}
		atomic_store(&best->break_pending, 0);	/* it refused: the next */
	}
	if (victim < 0)
		snprintf(why, size,
			 "no thread of the deadlock in process %d could be made to fail its wait",
			 pm->pid);
	registry_close(r);
	return victim;
}
