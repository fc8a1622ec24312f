/*
 * The runtime's registry: every thread of a process, what it holds and
 * what it waits for, in memory private to the process (a private mapping
 * of a memfd named "pydeadlock-PID", so that /proc/PID/maps shows where it
 * is; the descriptor is closed at once).  The process writes it; readers
 * outside (attach, run's supervisor) copy it with process_vm_readv and
 * set a victim's break flag with process_vm_writev.
 *
 * Private, not shared: a fork child's writes before it has a registry of
 * its own go to its copy, never to its parent's, and the child finds in
 * its copy what every thread of the parent held at the fork.
 *
 * Each thread writes only its own slot, so the fast path (an acquire that
 * does not block) touches no shared cache line and takes no lock.  A
 * thread about to block publishes its wait first, then looks for a cycle
 * of waits that only their owners can end; finding an owner scans the
 * slots, which is the slow path's cost.
 */
#ifndef PD_REGISTRY_H
#define PD_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define REGISTRY_MAGIC 0x314c444b50445950ull	/* "PYDPKDL1" */
#define REGISTRY_VERSION 8
#define REGISTRY_MAX_THREADS 16384	/* more threads run untracked (said once) */
#define REGISTRY_MAX_HELD 32		/* deeper nests are reported as truncated */
#define REGISTRY_MAX_CYCLE 64		/* longer owner chains are not followed */
#define REGISTRY_FACTS 65536		/* objects with special semantics; power of 2 */
#define REGISTRY_FACT_PROBES 32		/* a fuller neighbourhood: the fact is dropped */
#define REGISTRY_MAX_ORPHANS 256	/* holds of a fork parent's other threads kept */
#define REGISTRY_NAME_FMT "pydeadlock-%d"	/* memfd name: /memfd:pydeadlock-PID */

/* What a thread holds or waits on (the runtime's own kinds). */
enum registry_kind {
	REG_NONE = 0,
	REG_MUTEX,	/* pthread mutex */
	REG_SEMLOCK,	/* semaphore of initial value 1 (every Python Lock
			 * up to 3.13.0); owned only when taken by `with` */
	REG_SEM,	/* counting semaphore: no owner */
	REG_COND,	/* condition variable: no owner */
	REG_RWLOCK,	/* rwlock */
	REG_JOIN,	/* pthread_join: waits for a thread's exit */
	REG_CUSTOM,	/* a program's own lock (include/pydeadlock.h): owned */
	REG_GIL,	/* CPython's GIL: its holder alone hands it on */
};

/* A wait's flags */
#define REG_WAIT_TIMED 1	/* gives up by itself: never a deadlock edge */
#define REG_WAIT_SHARED 2	/* a process-shared object: other processes may end it */
#define REG_WAIT_READ 4		/* an rwlock's read side */
#define REG_WAIT_COUNTING 8	/* a counting semaphore: no owner */
#define REG_WAIT_SIGNAL 16	/* a lock posted by non-holders: a signal */
#define REG_WAIT_FIRM 32	/* cannot be made to fail: the interpreter's own */
#define REG_WAIT_PARKED 64	/* 3.13.1+ parked on a Lock's PyMutex: its
				 * holder is not in the registry */
#define REG_WAIT_SERIAL 128	/* run --serial: asleep in the scheduler, not
				 * in the object; the slot says what it waits for */

/* A hold's flags */
#define HELD_OWNED 1		/* only this thread will release it: a mutex, a
				 * writer's rwlock, a program's own lock */
#define HELD_READ 2		/* an rwlock's read side */
#define HELD_SHARED 4		/* process-shared */
#define HELD_WITH 8		/* a Lock taken by a `with` block: its holder
				 * means to release it, but any thread may */

struct registry_held {
	_Atomic uint64_t addr;	/* 0: a hole (released, or forgotten) */
	uint64_t site;		/* return address of the acquiring call */
	uint64_t py_code;	/* Python acquirer: its code object, or 0 */
	int64_t py_lasti;	/* ... and bytecode offset (bytes) there */
	uint32_t kind;		/* a recursive acquisition is an entry of its own */
	uint32_t flags;		/* HELD_* */
};

struct registry_slot {
	_Atomic int32_t tid;	/* 0: free */
	_Atomic uint32_t n_held;	/* entries in use, holes included */
	_Atomic uint64_t gen;	/* bumped on every change: confirms walks */
	uint64_t self;		/* pthread_self() */
	uint64_t py_tstate;	/* its PyThreadState once seen, 0 before */
	_Atomic uint64_t wait_addr;	/* 0: not waiting */
	_Atomic uint32_t wait_kind;
	_Atomic uint32_t wait_flags;	/* REG_WAIT_* */
	_Atomic int32_t wait_tid;	/* join: the thread waited for */
	uint32_t held_truncated;
	uint64_t wait_site;
	uint64_t wait_since_ns;	/* CLOCK_MONOTONIC when the wait began */
	/* odd while the thread squeezes holes out of its held list: a
	 * forget from another thread looks again afterwards */
	_Atomic uint32_t compactions;
	/* breaking: set by whoever chose this thread as the victim; the
	 * thread's wait then fails (EDEADLK, or DeadlockError in Python) */
	_Atomic uint32_t break_pending;
	/* in the deadlock being reported: its wait's end ends the report
	 * (under --on-deadlock=report, the next deadlock is reported too) */
	_Atomic uint32_t in_report;
	uint64_t acquired;		/* acquisitions: progress, for livelocks */
	uint32_t breaks_in_a_row;	/* with no progress between: a livelock */
	/* failed waits that reached the program (EDEADLK returned, or
	 * DeadlockError raised): a victim that came back to the same wait
	 * has left it all the same; one whose caller retried has not */
	_Atomic uint32_t breaks_taken;
	uint64_t last_break_addr, last_break_progress;
	char break_why[192];	/* the DeadlockError's message */
	struct registry_held held[REGISTRY_MAX_HELD];
};

/* A fact about one object: a counting semaphore, a signal-style lock, or
 * an object shared with other processes. */
#define FACT_COUNTING 1
#define FACT_SIGNAL 2
#define FACT_SHARED 4
struct registry_fact {
	_Atomic uint64_t addr;	/* 0: empty; ~0: deleted */
	_Atomic uint32_t flags;
	uint32_t pad;
};

/* Something a thread of the fork parent held at the fork: in the child
 * that thread does not exist, so nobody will release it. */
struct registry_orphan {
	uint64_t addr;
	int32_t tid;		/* the parent's thread that held it */
	uint32_t kind, flags;
	uint32_t pad;
	uint64_t site, py_code;
	int64_t py_lasti;
};

/* Where CPython's GIL state is and how to read its holder (the shim
 * fills this once Python runs; readers use it on the process's memory). */
struct registry_gil {
	uint64_t addr;		/* struct _gil_runtime_state, 0: none known */
	uint32_t locked_off;	/* int locked */
	uint32_t holder_off;	/* PyThreadState *last_holder */
	uint32_t size;		/* the struct's size: a futex inside is a GIL wait */
	uint32_t ident_off;	/* PyThreadState's thread_id: pthread_self() */
	uint32_t mutex_off;	/* its pthread mutex: held while it changes hands */
};

struct registry {
	uint64_t magic;
	uint32_t version, max_threads;
	int32_t pid;
	int32_t fork_parent;	/* the process this one was forked from, 0 */
	_Atomic uint32_t high_water;	/* slots ever used: scans stop here */
	_Atomic uint32_t reporting;	/* a deadlock report is under way */
	_Atomic uint32_t said;		/* one bit per message said once */
	_Atomic uint32_t breakable;	/* waits poll break_pending (break, report) */
	_Atomic uint32_t n_orphans;
	/* a statically linked Python: only its main thread's lock waits
	 * can be made to raise (the others keep waiting when chosen) */
	uint32_t raise_main_only;
	uint32_t python;	/* a CPython the shim can read */
	/* run --serial: the scheduler's own thread, not the program's */
	_Atomic int32_t sched_tid;
	/* signals with a handler the program installed itself (bit sig-1):
	 * a handler may end any wait of the process */
	_Atomic uint64_t user_signals;
	/* ... of which those whose handler is known to end no wait
	 * (readline's SIGWINCH handler) */
	_Atomic uint64_t harmless_signals;
	struct registry_gil gil;
	/* a report asked of the supervisor (pydeadlock run): the shim bumps
	 * report_seq; the supervisor sets report_ack to it once its
	 * snapshot is taken, and report_done once the report is written */
	_Atomic uint32_t report_seq, report_ack, report_done;
	/* ... and with report_done, whether its full view proved it */
	_Atomic uint32_t report_proved;
	struct registry_orphan orphans[REGISTRY_MAX_ORPHANS];
	struct registry_slot slots[REGISTRY_MAX_THREADS];
	/* last: a reader copying the header and the slots in use skips it */
	struct registry_fact facts[REGISTRY_FACTS];
};

/*
 * Create and map the registry of this process; NULL on failure (errno).
 * The memory is private to the process and freed with it.
 */
struct registry *registry_create(pid_t pid);
/* Unmap a registry (a fork child lets its parent's copy go). */
void registry_destroy(struct registry *r);

/* A free slot for thread tid, or NULL when all are taken. */
struct registry_slot *registry_slot_take(struct registry *r, pid_t tid,
					 uint64_t self);
void registry_slot_release(struct registry_slot *s);

/* The slot of thread tid, or NULL (const-safe: the caller's r decides). */
struct registry_slot *registry_slot_of(const struct registry *r, pid_t tid);

/*
 * Drop addr from every thread's held list and from the orphans: the
 * object was destroyed or initialised again, so its address may be
 * reused.  Threads other than the holder may call it; me (may be NULL)
 * is the caller's slot, looked at first.
 */
void registry_forget(struct registry *r, struct registry_slot *me,
		     uint64_t addr);

/*
 * The writers of a slot's held list, for its own thread only (the shim;
 * and the unit tests, which race registry_forget against them).
 * registry_held_claim gives the entry to fill for a new acquisition,
 * squeezing the holes out of a full list first (registry_held_compact),
 * or NULL when it is still full (the slot is marked truncated);
 * registry_held_publish then makes it visible.  registry_held_drop
 * forgets the topmost entry of addr: it becomes a hole (entries never
 * move here, so a forget from another thread cannot miss one), and the
 * holes at the top go.  False when the thread did not hold addr.
 */
uint32_t registry_held_compact(struct registry_slot *s, uint32_t n);

static inline struct registry_held *registry_held_claim(struct registry_slot *s,
							uint32_t *n)
{
	*n = atomic_load_explicit(&s->n_held, memory_order_relaxed);
	if (__builtin_expect(*n == REGISTRY_MAX_HELD, 0)) {
		*n = registry_held_compact(s, *n);
		if (*n == REGISTRY_MAX_HELD) {
			s->held_truncated = 1;
			return NULL;
		}
	}
	return &s->held[*n];
}

static inline void registry_held_publish(struct registry_slot *s,
					 struct registry_held *h, uint64_t addr,
					 uint32_t n)
{
	atomic_store_explicit(&h->addr, addr, memory_order_relaxed);
	/* release: a walker that sees the count sees the entry */
	atomic_store_explicit(&s->n_held, n + 1, memory_order_release);
}

static inline bool registry_held_drop(struct registry_slot *s, uint64_t addr)
{
	uint32_t n = atomic_load_explicit(&s->n_held, memory_order_relaxed);

	for (uint32_t i = n; i-- > 0;) {
		if (atomic_load_explicit(&s->held[i].addr, memory_order_relaxed) != addr)
			continue;
		atomic_store_explicit(&s->held[i].addr, 0, memory_order_relaxed);
		while (n && !atomic_load_explicit(&s->held[n - 1].addr,
						  memory_order_relaxed))
			n--;
		atomic_store_explicit(&s->n_held, n, memory_order_release);
		return true;
	}
	return false;
}

/*
 * The deadlocks already told in full, each known by the objects its
 * threads wait on (a program that retries after a break meets the same
 * one again): the shim's, and the supervisor's.  A key starts at 0 and
 * takes each object with registry_key_add, in any order.
 */
#define REGISTRY_SEEN_MAX 64	/* remembered; later ones are told in full */

struct registry_seen {
	uint64_t keys[REGISTRY_SEEN_MAX];
	unsigned n;
};

static inline uint64_t registry_key_add(uint64_t key, uint64_t addr)
{
	return key + ((addr ^ (addr >> 29)) * 0x9e3779b97f4a7c15ull | 1);
}

static inline bool registry_seen_has(const struct registry_seen *seen,
				     uint64_t key)
{
	for (unsigned i = 0; i < seen->n; i++)
		if (seen->keys[i] == key)
			return true;
	return false;
}

static inline void registry_seen_add(struct registry_seen *seen, uint64_t key)
{
	if (seen->n < REGISTRY_SEEN_MAX && !registry_seen_has(seen, key))
		seen->keys[seen->n++] = key;
}

/* The holder of addr (the TID), or 0; its slot and entry if not NULL. */
pid_t registry_owner(const struct registry *r, uint64_t addr,
		     const struct registry_slot **slot,
		     const struct registry_held **entry);

/* The orphan record of addr (held at the fork by a parent's thread). */
const struct registry_orphan *registry_orphan_of(const struct registry *r,
						 uint64_t addr);

uint32_t registry_fact(const struct registry *r, uint64_t addr);
/* Returns -1 when the table has no room near addr (the fact is lost). */
int registry_fact_set(struct registry *r, uint64_t addr, uint32_t flags);
void registry_fact_clear(struct registry *r, uint64_t addr);

/* The thread a join of slot s waits for (by TID, or by its pthread_t
 * when it had no slot yet at the join), or NULL. */
const struct registry_slot *registry_join_target(const struct registry *r,
						 const struct registry_slot *s);

/* The holder of the GIL by its thread state, or NULL (in-process). */
const struct registry_slot *registry_gil_holder(const struct registry *r);

/* Whose wait a broken deadlock fails (run --victim). */
enum registry_victim { VICTIM_NEWEST, VICTIM_OLDEST, VICTIM_FEWEST_LOCKS };
extern const char *const registry_victim_names[];	/* "the newest waiter" */

/* The policy named name (newest, oldest, fewest-locks), or newest. */
enum registry_victim registry_victim_parse(const char *name);
/* Is a (waiting) a better victim than b (or is b NULL) by policy v? */
bool registry_victim_better(enum registry_victim v,
			    const struct registry_slot *a,
			    const struct registry_slot *b);

/*
 * Called by the thread of slot me after publishing that it waits: is
 * there a cycle of untimed waits through it that only their owners can
 * end (mutexes, rwlocks, joins, the GIL, a program's own locks)?  With
 * holders, a Lock's holder counts as its owner too: such a cycle is no
 * proof (any thread may release a Lock), only worth a closer look.
 * Walks twice and compares the slots' generations, so a graph that
 * changed under the walk is not reported.  Fills tids (me first, in wait
 * order) and returns the cycle's length, or 0.  In-process only: it
 * reads the objects' memory (the GIL).
 */
int registry_find_cycle(const struct registry *r,
			const struct registry_slot *me, bool holders,
			pid_t *tids, int max);

/*
 * Does every other thread with a slot wait, untimed, right now?  A hint
 * for the thread of me that has just begun a wait whose holder it cannot
 * know (3.13.1+ Locks): then the whole program may be stuck, worth a look
 * at once.  Threads without a slot are not seen.
 */
bool registry_all_waiting(const struct registry *r,
			  const struct registry_slot *me);

#endif
