/*
 * The runtime's registry: every thread of a process, what it holds and
 * what it waits for, in a memfd ("pydeadlock-PID", reachable only through
 * the process's /proc/PID/fd, like its memory) that the process writes and
 * pydeadlock attach reads.
 *
 * Each thread writes only its own slot, so the fast path (an acquire that
 * does not block) touches no shared cache line and takes no lock.  A
 * thread about to block publishes its wait first, then walks the owner
 * edges; finding an owner scans the slots, which is the slow path's cost.
 */
#ifndef PD_REGISTRY_H
#define PD_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define REGISTRY_MAGIC 0x314c444b50445950ull	/* "PYDPKDL1" */
#define REGISTRY_VERSION 4
#define REGISTRY_MAX_THREADS 16384	/* more threads run untracked (said once) */
#define REGISTRY_MAX_HELD 32		/* deeper nests are reported as truncated */
#define REGISTRY_MAX_CYCLE 64		/* longer owner chains are not followed */
#define REGISTRY_FACTS 65536		/* objects with special semantics; power of 2 */
#define REGISTRY_FACT_PROBES 32		/* a fuller neighbourhood: the fact is dropped */
#define REGISTRY_MEMFD_FMT "pydeadlock-%d"	/* memfd name of a process */
#define REGISTRY_FD_MIN 900	/* the registry's descriptor, when the limit allows */

/* What a thread holds or waits on (the runtime's own kinds). */
enum registry_kind {
	REG_NONE = 0,
	REG_MUTEX,	/* pthread mutex: owned */
	REG_SEMLOCK,	/* semaphore used as a lock (initial value 1): owned */
	REG_SEM,	/* counting semaphore: no owner */
	REG_COND,	/* condition variable: no owner */
	REG_RWLOCK,	/* rwlock: writer owns */
	REG_JOIN,	/* pthread_join: waits for a thread's exit */
	REG_CUSTOM,	/* a program's own lock (include/pydeadlock.h): owned */
};

#define REG_WAIT_TIMED 1	/* gives up by itself: never a deadlock edge */

struct registry_held {
	_Atomic uint64_t addr;	/* 0: a hole (forgotten by another thread) */
	uint64_t site;		/* return address of the acquiring call */
	uint64_t py_code;	/* Python acquirer: its code object, or 0 */
	int64_t py_lasti;	/* ... and bytecode offset (bytes) there */
	uint32_t kind;		/* a recursive acquisition is an entry of its own */
	uint32_t pad;
};

struct registry_slot {
	_Atomic int32_t tid;	/* 0: free */
	_Atomic uint32_t n_held;
	_Atomic uint64_t gen;	/* bumped on every change: confirms walks */
	uint64_t self;		/* pthread_self() */
	_Atomic uint64_t wait_addr;	/* 0: not waiting */
	_Atomic uint32_t wait_kind;
	_Atomic uint32_t wait_flags;
	_Atomic int32_t wait_tid;	/* join: the thread waited for */
	uint32_t held_truncated;
	uint64_t wait_site;
	uint64_t wait_since_ns;	/* CLOCK_MONOTONIC when the wait began */
	/* breaking: set by whoever chose this thread as the victim; the
	 * thread's wait then fails (EDEADLK, or DeadlockError in Python) */
	_Atomic uint32_t break_pending;
	uint64_t acquired;		/* acquisitions: progress, for livelocks */
	uint32_t breaks_in_a_row;	/* with no progress between: a livelock */
	uint64_t last_break_addr, last_break_progress;
	char break_why[192];	/* the DeadlockError's message */
	struct registry_held held[REGISTRY_MAX_HELD];
};

/* A fact about one object: a counting semaphore, or a signal-style lock. */
#define FACT_COUNTING 1
#define FACT_SIGNAL 2
struct registry_fact {
	_Atomic uint64_t addr;	/* 0: empty; ~0: deleted */
	_Atomic uint32_t flags;
	uint32_t pad;
};

struct registry {
	uint64_t magic;
	uint32_t version, max_threads;
	int32_t pid;
	_Atomic uint32_t high_water;	/* slots ever used: scans stop here */
	_Atomic uint32_t reporting;	/* a deadlock report is under way */
	_Atomic uint32_t full_said;	/* limits reached, said once */
	_Atomic uint32_t breakable;	/* waits poll break_pending (break, report) */
	struct registry_fact facts[REGISTRY_FACTS];
	struct registry_slot slots[REGISTRY_MAX_THREADS];
};

/*
 * Create and map the registry of this process; NULL on failure.  It is a
 * memfd: its descriptor (*fd) keeps it findable while the process lives,
 * and the kernel frees it when the process ends.
 */
struct registry *registry_create(pid_t pid, int *fd);
/* Map another process's registry read-only; NULL when it has none. */
const struct registry *registry_open(pid_t pid);
/* The same, writable: for pydeadlock attach --break. */
struct registry *registry_open_rw(pid_t pid);
void registry_close(const struct registry *r);

/*
 * A private copy of r as it is now (header, facts, the slots in use), for
 * a reader that stops the process: what it reads later stays consistent
 * with the stop.  Free with registry_copy_free(); NULL when out of memory.
 */
struct registry *registry_copy(const struct registry *r);
void registry_copy_free(struct registry *copy);

/* A free slot for thread tid, or NULL when all are taken. */
struct registry_slot *registry_slot_take(struct registry *r, pid_t tid,
					 uint64_t self);
void registry_slot_release(struct registry_slot *s);

/* The slot of thread tid, or NULL (const-safe: the caller's r decides). */
struct registry_slot *registry_slot_of(const struct registry *r, pid_t tid);

/*
 * Drop addr from every thread's held list: the object was destroyed, so
 * its address may be reused (threads other than the holder may destroy).
 */
void registry_forget(struct registry *r, uint64_t addr);

/* The holder of addr (the TID), or 0; its slot in *slot if not NULL. */
pid_t registry_owner(const struct registry *r, uint64_t addr,
		     const struct registry_slot **slot);

uint32_t registry_fact(const struct registry *r, uint64_t addr);
/* Returns -1 when the table has no room near addr (the fact is lost). */
int registry_fact_set(struct registry *r, uint64_t addr, uint32_t flags);
void registry_fact_clear(struct registry *r, uint64_t addr);

/*
 * Called by the thread of slot me after publishing that it waits: is
 * there a cycle of untimed waits through it?  Walks owner edges twice
 * and compares the slots' generations, so a graph that changed under the
 * walk is not reported.  Fills tids (me first, in wait order) and returns
 * the cycle's length, or 0.
 */
int registry_find_cycle(const struct registry *r,
			const struct registry_slot *me, pid_t *tids, int max);

#endif
