/*
 * Lock order (pydeadlock run --lock-order): which locks each thread took
 * while it held others.  A run that never deadlocked still shows the
 * orders that could: A then B in one place, B then A in another.  Locks
 * are grouped by class, as Linux's lockdep groups them: where the lock
 * was made (its Python line, or the native call that initialised it), so
 * that locks made in a loop count as one.  Locks of one class taken
 * inside each other (two accounts, five forks) are followed lock by lock
 * instead, or every program that orders its instances would be accused.
 *
 * Everything lives in memory private to the process and is written by
 * every thread without a lock: open addressing, a compare-exchange on an
 * empty key, a state word while a new entry is filled.  Nothing is ever
 * removed from the tables, so a reader (the end-of-run analysis, or the
 * check made when a new order appears) never meets a half-gone entry.
 */
#ifndef PD_LOCKORDER_H
#define PD_LOCKORDER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LO_INSTANCES (1u << 20)	/* addresses of locks; more go untracked */
#define LO_CLASSES (1u << 14)	/* creation sites; more go untracked */
#define LO_EDGES (1u << 15)	/* orders of each kind; more are dropped */
#define LO_PROBES 64		/* a fuller neighbourhood counts as full */
#define LO_GATES 4		/* other locks remembered as always held */
#define LO_ARENA (8u << 20)	/* the text of sites and stacks */
#define LO_MAX_CYCLES 32	/* reported per process and kind */
#define LO_MAX_LOOP 8		/* locks in one reported loop */
#define LO_SUPPRESSIONS_MAX (256 * 1024)	/* the suppressions file read */

/* A class's flags */
#define LO_CLASS_SIGNAL 1	/* released by threads that did not take it,
				 * or taken again by its holder: an event,
				 * not a lock (a Condition's waiter lock) */
#define LO_CLASS_OWN 2		/* the interpreter's own: not the program's */

struct lo_instance {
	_Atomic uint64_t addr;	/* 0: empty; an address keeps its entry */
	_Atomic uint64_t val;	/* id << 32 | class; 0: no live lock here */
};

struct lo_class {
	_Atomic uint32_t state;	/* 0 empty, 1 being filled, 2 ready */
	_Atomic uint32_t flags;	/* LO_CLASS_* */
	uint64_t k1, k2;	/* its key: a code object and an offset, a
				 * native site, or a static lock's address */
	uint32_t name;		/* text: "lock made at app.py:5 in <module>" */
	uint32_t site;		/* text: "app.py:5", what suppressions name */
};

/* One order: a thread held `from` when it took `to`. */
struct lo_edge {
	_Atomic uint64_t key;	/* from and to, + 1 each; 0: empty */
	_Atomic uint32_t state;	/* 0 empty, 1 being filled, 2 ready */
	int32_t tid;		/* the first thread seen doing it */
	uint32_t from, to;	/* classes, or instance ids (lo->same) */
	uint32_t from_class, to_class;
	/* other locks (instance ids) held every time it was seen: a gate
	 * common to all the orders of a loop keeps them apart */
	_Atomic uint32_t gates[LO_GATES];
	uint32_t held_at;	/* text: where `from` was taken (Python) */
	uint32_t taken_at;	/* text: the stack where `to` was taken */
	uint64_t held_pc, taken_pc;	/* the native callers of both */
};

struct lockorder {
	_Atomic uint32_t next_id;	/* instance ids, from 1 */
	_Atomic uint32_t arena_used;
	_Atomic uint32_t full;		/* a table was full: some orders lost */
	_Atomic uint64_t generation;	/* bumped as locks are made or gone */
	struct lo_instance inst[LO_INSTANCES];
	struct lo_class classes[LO_CLASSES];
	struct lo_edge edges[LO_EDGES];	/* between classes */
	struct lo_edge same[LO_EDGES];	/* between instances of one class */
	char arena[LO_ARENA];
};

/* Map the tables (private, touched as used); NULL on failure. */
struct lockorder *lockorder_create(void);

/* A lock is (re)made at addr, of class cls: a new instance id. */
uint32_t lockorder_instance_new(struct lockorder *lo, uint64_t addr,
				uint32_t cls);
/* The live lock at addr: its id and class; false when unknown. */
bool lockorder_instance(const struct lockorder *lo, uint64_t addr,
			uint32_t *id, uint32_t *cls);
/* The lock at addr is gone (destroyed): its address may be reused. */
void lockorder_instance_end(struct lockorder *lo, uint64_t addr);

/*
 * The class of key (k1, k2), made when new: then *fresh is set and the
 * caller names it with lockorder_class_ready.  -1 when the table is full.
 */
int lockorder_class(struct lockorder *lo, uint64_t k1, uint64_t k2,
		    bool *fresh);
void lockorder_class_ready(struct lockorder *lo, int cls, const char *name,
			   const char *site);

/* Keep text s in the arena: its offset, or 0 (none) when full. */
uint32_t lockorder_text(struct lockorder *lo, const char *s);
static inline const char *lockorder_str(const struct lockorder *lo,
					uint32_t off)
{
	return off ? lo->arena + off : "";
}

/*
 * The order from -> to (between classes, or with same between instances
 * of one class), made when new: then *fresh is set, the gates are
 * held[0..n), and the caller fills the sites and calls
 * lockorder_edge_ready.  Otherwise the gates become those also in held.
 * NULL when the table is full.
 */
struct lo_edge *lockorder_edge(struct lockorder *lo, bool same, uint32_t from,
			       uint32_t to, const uint32_t *held, int n,
			       bool *fresh);
void lockorder_edge_ready(struct lo_edge *e);

/*
 * Loops of orders, each given to found (edges in order, n of them) once:
 * through the new edge e only (at once), or all (e NULL, at the end).
 * Classes marked as signals take no part; a loop whose orders all held a
 * common gate is left out.  Returns the loops given.  Allocates (mmap):
 * call it outside the lock paths.
 */
typedef void (*lockorder_found_fn)(const struct lockorder *lo, bool same,
				   const struct lo_edge *const *loop, int n,
				   void *arg);
int lockorder_loops(const struct lockorder *lo, bool same,
		    const struct lo_edge *e, lockorder_found_fn found, void *arg);

/*
 * Suppressions: a file of lines "lock-order SITE SITE...", '#' comments
 * and blank lines.  lockorder_suppressions_check says whether the text is
 * well formed: 0, or the number of the first bad line (err says why).
 * lockorder_suppressed: does a line of text name exactly the sites of a
 * loop (each SITE matching the end of one, at a '/' or whole)?
 */
int lockorder_suppressions_check(const char *text, char *err, size_t size);
bool lockorder_suppressed(const char *text, const char *const *sites, int n);

#endif
