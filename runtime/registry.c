#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/registry.h"

#define FACT_DELETED (~(uint64_t)0)
#define CYCLE_FANOUT 8		/* owners followed per wait (an rwlock's readers) */
#define CYCLE_DONE_MAX 256	/* threads remembered as leading nowhere */

/*
 * Nothing here allocates or locks: the shim calls it from inside the
 * intercepted calls, where malloc or a lock could re-enter us.
 */

struct registry *registry_create(pid_t pid)
{
	char name[64];
	struct registry *r;
	int fd, err;

	/*
	 * A memfd mapped privately: its name shows in /proc/PID/maps (how
	 * readers find it), its descriptor is closed at once (nothing of
	 * ours in the program's descriptor table), the pages are the
	 * process's own (copied, not shared, by fork) and go with it.
	 * MAP_NORESERVE: only the pages threads touch count.
	 */
	snprintf(name, sizeof(name), REGISTRY_NAME_FMT, (int)pid);
	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, sizeof(struct registry)) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return NULL;
	}
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_NORESERVE, fd, 0);
	err = errno;
	close(fd);
	if (r == MAP_FAILED) {
		errno = err;
		return NULL;
	}
	/* the pages are zero: only the header needs writing */
	r->version = REGISTRY_VERSION;
	r->max_threads = REGISTRY_MAX_THREADS;
	r->pid = pid;
	atomic_thread_fence(memory_order_release);
	r->magic = REGISTRY_MAGIC;
	return r;
}

void registry_destroy(struct registry *r)
{
	if (r)
		munmap(r, sizeof(*r));
}

struct registry_slot *registry_slot_take(struct registry *r, pid_t tid,
					 uint64_t self)
{
	for (uint32_t i = 0; i < REGISTRY_MAX_THREADS; i++) {
		struct registry_slot *s = &r->slots[i];
		int32_t free_tid = 0;

		if (atomic_load_explicit(&s->tid, memory_order_relaxed) ||
		    !atomic_compare_exchange_strong(&s->tid, &free_tid, tid))
			continue;
		atomic_store(&s->n_held, 0);
		atomic_store(&s->wait_addr, 0);
		atomic_store(&s->wait_tid, 0);
		atomic_store(&s->break_pending, 0);
		atomic_store(&s->in_report, 0);
		s->breaks_in_a_row = 0;
		atomic_store(&s->breaks_taken, 0);
		s->self = self;
		s->py_tstate = 0;
		s->held_truncated = 0;
		atomic_fetch_add(&s->gen, 1);
		uint32_t hw = atomic_load(&r->high_water);
		while (hw < i + 1 &&
		       !atomic_compare_exchange_weak(&r->high_water, &hw, i + 1))
			;
		return s;
	}
	return NULL;
}

void registry_slot_release(struct registry_slot *s)
{
	atomic_store(&s->n_held, 0);
	atomic_store(&s->wait_addr, 0);
	atomic_fetch_add(&s->gen, 1);
	atomic_store(&s->tid, 0);
}

struct registry_slot *registry_slot_of(const struct registry *r, pid_t tid)
{
	uint32_t n = atomic_load(&r->high_water);

	if (n > REGISTRY_MAX_THREADS)
		n = REGISTRY_MAX_THREADS;
	for (uint32_t i = 0; tid && i < n; i++)
		if (atomic_load(&r->slots[i].tid) == tid)
			return (struct registry_slot *)&r->slots[i];
	return NULL;
}

static uint32_t held_count(const struct registry_slot *s)
{
	uint32_t n = atomic_load_explicit(&s->n_held, memory_order_acquire);

	return n < REGISTRY_MAX_HELD ? n : REGISTRY_MAX_HELD;
}

/* Clear addr in one slot; true when an entry was cleared.  *shared:
 * one of them a read hold, which others may have too. */
static bool forget_in(struct registry_slot *s, uint64_t addr, bool *shared)
{
	bool found = false;
	uint32_t c;

	/*
	 * The owner may be squeezing its list (compactions odd): entries
	 * move, and one could pass behind us.  Look again until a whole
	 * look saw no compaction.
	 */
	do {
		while ((c = atomic_load(&s->compactions)) & 1)
			;
		for (uint32_t k = 0, n = held_count(s); k < n; k++) {
			uint64_t a = addr;
			uint32_t flags = s->held[k].flags;

			if (atomic_load_explicit(&s->held[k].addr,
						 memory_order_relaxed) == addr &&
			    atomic_compare_exchange_strong(&s->held[k].addr, &a, 0)) {
				found = true;
				*shared |= flags & HELD_READ;
			}
		}
	} while (atomic_load(&s->compactions) != c);
	if (found)
		atomic_fetch_add(&s->gen, 1);
	return found;
}

void registry_forget(struct registry *r, struct registry_slot *me,
		     uint64_t addr)
{
	uint32_t n = atomic_load(&r->high_water);
	bool shared = false;

	/* the common case: the destroyer held it alone (a Condition's
	 * waiter lock); readers and a counting semaphore's takers are many */
	if (me && forget_in(me, addr, &shared) && !shared &&
	    !(registry_fact(r, addr) & FACT_COUNTING))
		goto orphans;
	if (n > REGISTRY_MAX_THREADS)
		n = REGISTRY_MAX_THREADS;
	for (uint32_t i = 0; i < n; i++) {
		struct registry_slot *s = &r->slots[i];

		if (s != me && atomic_load_explicit(&s->tid, memory_order_relaxed))
			forget_in(s, addr, &shared);
	}
orphans:
	for (uint32_t i = 0, k = atomic_load(&r->n_orphans);
	     i < k && i < REGISTRY_MAX_ORPHANS; i++)
		if (r->orphans[i].addr == addr)
			r->orphans[i].addr = 0;
}

pid_t registry_owner(const struct registry *r, uint64_t addr,
		     const struct registry_slot **slot,
		     const struct registry_held **entry)
{
	uint32_t n = atomic_load(&r->high_water);

	if (n > REGISTRY_MAX_THREADS)
		n = REGISTRY_MAX_THREADS;
	for (uint32_t i = 0; addr && i < n; i++) {
		const struct registry_slot *s = &r->slots[i];
		pid_t tid = atomic_load(&s->tid);

		if (!tid)
			continue;
		for (uint32_t k = 0, held = held_count(s); k < held; k++)
			if (atomic_load(&s->held[k].addr) == addr) {
				if (slot)
					*slot = s;
				if (entry)
					*entry = &s->held[k];
				return tid;
			}
	}
	return 0;
}

const struct registry_orphan *registry_orphan_of(const struct registry *r,
						 uint64_t addr)
{
	uint32_t n = atomic_load(&r->n_orphans);

	for (uint32_t i = 0; addr && i < n && i < REGISTRY_MAX_ORPHANS; i++)
		if (r->orphans[i].addr == addr)
			return &r->orphans[i];
	return NULL;
}

static uint32_t fact_hash(uint64_t addr)
{
	return (uint32_t)((addr * 0x9e3779b97f4a7c15ull) >> 40) &
	       (REGISTRY_FACTS - 1);
}

static struct registry_fact *fact_at(const struct registry *r, uint32_t h,
				     uint32_t i)
{
	return (struct registry_fact *)&r->facts[(h + i) & (REGISTRY_FACTS - 1)];
}

uint32_t registry_fact(const struct registry *r, uint64_t addr)
{
	for (uint32_t i = 0, h = fact_hash(addr); i < REGISTRY_FACT_PROBES; i++) {
		const struct registry_fact *f = fact_at(r, h, i);
		uint64_t a = atomic_load(&f->addr);

		if (a == addr)
			return atomic_load(&f->flags);
		if (!a)
			return 0;
	}
	return 0;
}

int registry_fact_set(struct registry *r, uint64_t addr, uint32_t flags)
{
	uint32_t h = fact_hash(addr);

	if (!addr)
		return -1;	/* 0 marks an empty entry */
	/* an entry of addr may lie past a deleted one: look it up first */
	for (uint32_t i = 0; i < REGISTRY_FACT_PROBES; i++) {
		struct registry_fact *f = fact_at(r, h, i);
		uint64_t a = atomic_load(&f->addr);

		if (a == addr) {
			atomic_fetch_or(&f->flags, flags);
			return 0;
		}
		if (!a)
			break;
	}
	for (uint32_t i = 0; i < REGISTRY_FACT_PROBES; i++) {
		struct registry_fact *f = fact_at(r, h, i);
		uint64_t a = atomic_load(&f->addr);

		if ((!a || a == FACT_DELETED) &&
		    atomic_compare_exchange_strong(&f->addr, &a, addr)) {
			atomic_store(&f->flags, flags);
			return 0;
		}
	}
	return -1;	/* the object keeps default semantics */
}

void registry_fact_clear(struct registry *r, uint64_t addr)
{
	for (uint32_t i = 0, h = fact_hash(addr); i < REGISTRY_FACT_PROBES; i++) {
		struct registry_fact *f = fact_at(r, h, i);
		uint64_t a = atomic_load(&f->addr);

		if (a == addr) {
			atomic_store(&f->flags, 0);
			atomic_store(&f->addr, FACT_DELETED);
		} else if (!a) {
			return;
		}
	}
}

const struct registry_slot *registry_join_target(const struct registry *r,
						 const struct registry_slot *s)
{
	uint32_t n = atomic_load(&r->high_water);
	uint64_t thread = atomic_load(&s->wait_addr);
	pid_t tid = atomic_load(&s->wait_tid);

	if (tid)
		return registry_slot_of(r, tid);
	if (n > REGISTRY_MAX_THREADS)
		n = REGISTRY_MAX_THREADS;
	for (uint32_t i = 0; thread && i < n; i++)	/* by its pthread_t */
		if (atomic_load(&r->slots[i].tid) && r->slots[i].self == thread)
			return &r->slots[i];
	return NULL;
}

const char *const registry_victim_names[] = {
	[VICTIM_NEWEST] = "the newest waiter",
	[VICTIM_OLDEST] = "the oldest waiter",
	[VICTIM_FEWEST_LOCKS] = "the one holding the fewest locks",
};

enum registry_victim registry_victim_parse(const char *name)
{
	if (name && !strcmp(name, "oldest"))
		return VICTIM_OLDEST;
	if (name && !strcmp(name, "fewest-locks"))
		return VICTIM_FEWEST_LOCKS;
	return VICTIM_NEWEST;
}

bool registry_victim_better(enum registry_victim v,
			    const struct registry_slot *a,
			    const struct registry_slot *b)
{
	if (!b)
		return true;
	switch (v) {
	case VICTIM_OLDEST:
		return a->wait_since_ns < b->wait_since_ns;
	case VICTIM_FEWEST_LOCKS:
		return atomic_load(&a->n_held) < atomic_load(&b->n_held);
	default:
		return a->wait_since_ns > b->wait_since_ns;
	}
}

const struct registry_slot *registry_gil_holder(const struct registry *r)
{
	const struct registry_gil *g = &r->gil;
	uint32_t n = atomic_load(&r->high_water);
	uint64_t holder, ident;
	int locked;

	if (!g->addr)
		return NULL;
	locked = atomic_load((_Atomic int *)(uintptr_t)(g->addr + g->locked_off));
	holder = atomic_load((_Atomic uint64_t *)(uintptr_t)(g->addr + g->holder_off));
	if (!locked || !holder)
		return NULL;	/* free, or being handed over */
	/* its mutex held: locked and last_holder may disagree */
	if (g->mutex_off &&
	    atomic_load((_Atomic int *)(uintptr_t)(g->addr + g->mutex_off)))
		return NULL;
	/* its thread by its state, or by its ident (pthread_self()) */
	ident = g->ident_off ? *(const uint64_t *)(uintptr_t)(holder + g->ident_off)
			     : 0;
	if (n > REGISTRY_MAX_THREADS)
		n = REGISTRY_MAX_THREADS;
	/* by ident first: a thread state's address may be reused */
	for (uint32_t i = 0; ident && i < n; i++)
		if (atomic_load(&r->slots[i].tid) && r->slots[i].self == ident)
			return &r->slots[i];
	for (uint32_t i = 0; i < n; i++)
		if (atomic_load(&r->slots[i].tid) &&
		    r->slots[i].py_tstate == holder)
			return &r->slots[i];
	return NULL;
}

/*
 * The threads whose action alone can end the wait of s (its owners),
 * into next; their count.  None for waits anyone may end (conditions,
 * counting semaphores, signals, shared objects).  With holders, a Lock's
 * holder too, though any thread may release a Lock: a lead, no proof.
 */
static int wait_owners(const struct registry *r, const struct registry_slot *s,
		       bool holders, const struct registry_slot **next)
{
	uint64_t addr = atomic_load(&s->wait_addr);
	uint32_t kind = atomic_load(&s->wait_kind);
	uint32_t flags = atomic_load(&s->wait_flags);
	uint32_t n_slots = atomic_load(&r->high_water);
	const struct registry_slot *o;
	int n = 0;

	if (!addr || (flags & (REG_WAIT_TIMED | REG_WAIT_SHARED |
			       REG_WAIT_COUNTING | REG_WAIT_SIGNAL)))
		return 0;
	if (n_slots > REGISTRY_MAX_THREADS)
		n_slots = REGISTRY_MAX_THREADS;
	switch (kind) {
	case REG_JOIN:
		o = registry_join_target(r, s);
		if (o)
			next[n++] = o;
		return n;
	case REG_GIL:
		/* a holder waiting for the GIL: a hand-over, midway */
		o = registry_gil_holder(r);
		if (o && o != s && !(atomic_load(&o->wait_addr) &&
					 atomic_load(&o->wait_kind) == REG_GIL))
			next[n++] = o;
		return n;
	case REG_MUTEX: case REG_SEMLOCK: case REG_RWLOCK: case REG_CUSTOM:
		break;
	default:
		return 0;
	}
	if (registry_fact(r, addr) & (FACT_SIGNAL | FACT_COUNTING | FACT_SHARED))
		return 0;
	/* every holder: a writer waits for all readers to leave */
	for (uint32_t i = 0; i < n_slots && n < CYCLE_FANOUT; i++) {
		o = &r->slots[i];
		if (!atomic_load(&o->tid))
			continue;
		for (uint32_t k = 0, held = held_count(o); k < held; k++) {
			const struct registry_held *h = &o->held[k];

			if (atomic_load(&h->addr) != addr)
				continue;
			/* any thread may release a Lock: its holder is no
			 * proof, only a lead */
			if (kind == REG_SEMLOCK && !holders)
				return 0;
			/* readers do not block readers */
			if ((flags & REG_WAIT_READ) && (h->flags & HELD_READ))
				continue;
			next[n++] = o;
			break;
		}
	}
	/* a reader kept out by readers alone waits behind a queued writer */
	if (!n && kind == REG_RWLOCK && (flags & REG_WAIT_READ))
		for (uint32_t i = 0; i < n_slots && n < CYCLE_FANOUT; i++) {
			o = &r->slots[i];
			if (o != s && atomic_load(&o->tid) &&
			    atomic_load(&o->wait_addr) == addr &&
			    atomic_load(&o->wait_kind) == REG_RWLOCK &&
			    !(atomic_load(&o->wait_flags) &
			      (REG_WAIT_READ | REG_WAIT_TIMED)))
				next[n++] = o;
		}
	return n;
}

/*
 * One depth-first walk of the owner edges from me, looking for a way
 * back to me; the path's TIDs and generations, its length or 0.
 */
static int walk(const struct registry *r, const struct registry_slot *me,
		bool holders, pid_t *tids, uint64_t *gens, uint64_t *addrs,
		int max)
{
	const struct registry_slot *path[REGISTRY_MAX_CYCLE];
	const struct registry_slot *next[REGISTRY_MAX_CYCLE][CYCLE_FANOUT];
	int n_next[REGISTRY_MAX_CYCLE], at[REGISTRY_MAX_CYCLE];
	bool cut[REGISTRY_MAX_CYCLE];	/* the depth limit hid some of it */
	/* explored without finding me: not worth a second look (keeps the
	 * walk linear when many waiters share owners), unless the depth
	 * limit cut it short and it is met nearer me */
	const struct registry_slot *done[CYCLE_DONE_MAX];
	int done_depth[CYCLE_DONE_MAX];
	int depth = 0, n_done = 0;

	/* each slot's generation before what it says: a change under the
	 * walk shows in the second walk's generations */
	path[0] = me;
	gens[0] = atomic_load(&me->gen);
	tids[0] = atomic_load(&me->tid);
	addrs[0] = atomic_load(&me->wait_addr);
	n_next[0] = wait_owners(r, me, holders, next[0]);
	at[0] = 0;
	cut[0] = false;
	while (depth >= 0) {
		const struct registry_slot *o;
		bool on_path = false;

		if (at[depth] == n_next[depth]) {
			if (n_done < CYCLE_DONE_MAX) {
				done_depth[n_done] = cut[depth] ? depth : 0;
				done[n_done++] = path[depth];
			}
			if (depth > 0)
				cut[depth - 1] |= cut[depth];
			depth--;
			continue;
		}
		o = next[depth][at[depth]++];
		if (o == me)
			return depth + 1;
		for (int k = 0; k <= depth; k++)
			on_path |= path[k] == o;
		for (int k = 0; k < n_done && !on_path; k++)
			on_path = done[k] == o && done_depth[k] <= depth + 1;
		/* a loop not through me is its own thread's to report */
		if (on_path)
			continue;
		if (depth + 1 >= max) {
			cut[depth] = true;
			continue;
		}
		depth++;
		path[depth] = o;
		gens[depth] = atomic_load(&o->gen);
		tids[depth] = atomic_load(&o->tid);
		addrs[depth] = atomic_load(&o->wait_addr);
		n_next[depth] = wait_owners(r, o, holders, next[depth]);
		at[depth] = 0;
		cut[depth] = false;
	}
	return 0;
}

int registry_find_cycle(const struct registry *r,
			const struct registry_slot *me, bool holders,
			pid_t *tids, int max)
{
	pid_t tids2[REGISTRY_MAX_CYCLE];
	uint64_t gens[REGISTRY_MAX_CYCLE], gens2[REGISTRY_MAX_CYCLE];
	uint64_t addrs[REGISTRY_MAX_CYCLE], addrs2[REGISTRY_MAX_CYCLE];
	int n, n2;

	if (max > REGISTRY_MAX_CYCLE)
		max = REGISTRY_MAX_CYCLE;
	n = walk(r, me, holders, tids, gens, addrs, max);
	if (!n)
		return 0;
	/* confirm: the same cycle on the same objects, and no slot on it
	 * changed meanwhile */
	n2 = walk(r, me, holders, tids2, gens2, addrs2, max);
	if (n2 != n || memcmp(tids, tids2, n * sizeof(pid_t)) ||
	    memcmp(gens, gens2, n * sizeof(uint64_t)) ||
	    memcmp(addrs, addrs2, n * sizeof(uint64_t)))
		return 0;
	return n;
}

bool registry_all_waiting(const struct registry *r,
			  const struct registry_slot *me)
{
	uint32_t n = atomic_load(&r->high_water);

	for (uint32_t i = 0; i < n && i < REGISTRY_MAX_THREADS; i++) {
		const struct registry_slot *s = &r->slots[i];

		if (s == me || !atomic_load(&s->tid))
			continue;
		if (!atomic_load(&s->wait_addr) ||
		    (atomic_load(&s->wait_flags) & REG_WAIT_TIMED))
			return false;
	}
	return true;
}

/*
 * Squeeze the holes out of a full held list, keeping the order.  Another
 * thread forgetting an entry meanwhile sees compactions odd and looks
 * again once it is even.  Returns the new count.
 */
uint32_t registry_held_compact(struct registry_slot *s, uint32_t n)
{
	uint32_t k = 0;

	atomic_fetch_add(&s->compactions, 1);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = atomic_load(&s->held[i].addr);

		if (!a)
			continue;
		if (i != k) {
			s->held[k].site = s->held[i].site;
			s->held[k].py_code = s->held[i].py_code;
			s->held[k].py_lasti = s->held[i].py_lasti;
			s->held[k].kind = s->held[i].kind;
			s->held[k].flags = s->held[i].flags;
			atomic_store(&s->held[k].addr, a);
			atomic_store(&s->held[i].addr, 0);
		}
		k++;
	}
	atomic_store(&s->n_held, k);
	atomic_fetch_add(&s->compactions, 1);
	atomic_fetch_add(&s->gen, 1);
	return k;
}
