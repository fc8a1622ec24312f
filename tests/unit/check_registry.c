/*
 * Unit tests of the runtime's registry (runtime/registry.c): its memory,
 * the slots, the fact table, forgetting an address while its holder
 * squeezes its list, the owners of a wait, and the cycle walk.
 *
 * Each test has a registry of its own (registry_create(getpid())) and
 * fills slots by hand: threads are TIDs of our choosing, which need not
 * exist for the walk.
 */
#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/registry.h"

/* a thread's pthread_t, made up */
#define SELF(tid) (0x7f0000000000ull + (uint64_t)(tid) * 0x1000)
#define STRESS_MS 300		/* a stress test runs at least this long, */
#define STRESS_MAX_MS 1500	/* and on a loaded machine at most this long */

static struct registry *reg;
static long page_size;

static void reg_setup(void)
{
	page_size = sysconf(_SC_PAGESIZE);
	reg = registry_create(getpid());
	ck_assert_ptr_nonnull(reg);
}

static void reg_teardown(void)
{
	registry_destroy(reg);
	reg = NULL;
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Is a stress test that began at start over?  Once it has run
 * STRESS_MS and done enough; or after STRESS_MAX_MS whatever it did. */
static bool stress_over(uint64_t start, bool enough)
{
	uint64_t ran = now_ms() - start;

	return ran >= STRESS_MAX_MS || (ran >= STRESS_MS && enough);
}

/* A small generator of our own: the stress tests are the same each run
 * but for the scheduling. */
static uint32_t rnd(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

/* The slot of a new thread tid (its pthread_t is SELF(tid)). */
static struct registry_slot *thread_new(pid_t tid)
{
	struct registry_slot *s = registry_slot_take(reg, tid, SELF(tid));

	ck_assert_ptr_nonnull(s);
	return s;
}

/* Thread s holds addr: one more entry on top of its list, by hand. */
static void hold(struct registry_slot *s, uint64_t addr, uint32_t kind,
		 uint32_t flags)
{
	uint32_t n = atomic_load(&s->n_held);

	ck_assert_uint_lt(n, REGISTRY_MAX_HELD);
	s->held[n].kind = kind;
	s->held[n].flags = flags;
	atomic_store(&s->held[n].addr, addr);
	atomic_store(&s->n_held, n + 1);
}

/* The address of entry k of s's held list (0: a hole). */
static uint64_t entry_addr(const struct registry_slot *s, int k)
{
	return atomic_load(&s->held[k].addr);
}

/* Thread s waits on addr, published as the shim's wait_begin does. */
static void wait_on(struct registry_slot *s, uint64_t addr, uint32_t kind,
		    uint32_t flags)
{
	atomic_store(&s->wait_kind, kind);
	atomic_store(&s->wait_flags, flags);
	atomic_store(&s->wait_tid, 0);
	atomic_store(&s->wait_addr, addr);
	atomic_fetch_add(&s->gen, 1);
}

/* Thread s joins thread tid (0: known only by its pthread_t, self). */
static void wait_join(struct registry_slot *s, pid_t tid, uint64_t self)
{
	atomic_store(&s->wait_kind, REG_JOIN);
	atomic_store(&s->wait_flags, 0);
	atomic_store(&s->wait_tid, tid);
	atomic_store(&s->wait_addr, self);
	atomic_fetch_add(&s->gen, 1);
}

/* A cycle of owned waits through s (a proof), or 0. */
static int cycle_of(const struct registry_slot *s, pid_t *tids)
{
	return registry_find_cycle(reg, s, false, tids, REGISTRY_MAX_CYCLE);
}

/* A cycle through s where Locks' holders count as owners (a lead). */
static int lead_of(const struct registry_slot *s, pid_t *tids)
{
	return registry_find_cycle(reg, s, true, tids, REGISTRY_MAX_CYCLE);
}

/* The walk from s, holders counted or not, reports exactly the n
 * threads of want, in that order. */
static void assert_walk(const struct registry_slot *s, bool holders, int n,
			const pid_t *want)
{
	pid_t tids[REGISTRY_MAX_CYCLE];

	ck_assert_int_eq(registry_find_cycle(reg, s, holders, tids,
					     REGISTRY_MAX_CYCLE), n);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(tids[i], want[i]);
}

/* A cycle of owned waits (a proof, and a lead as well). */
static void assert_cycle(const struct registry_slot *s, int n,
			 const pid_t *want)
{
	assert_walk(s, false, n, want);
	assert_walk(s, true, n, want);
}

/* ---- creation ---- */

/* How many descriptors this process has open. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Is the mapping at p named name in /proc/self/maps? */
static bool mapped_as(const void *p, const char *name)
{
	char line[512], start[32];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	ck_assert_ptr_nonnull(f);
	snprintf(start, sizeof(start), "%lx-", (unsigned long)(uintptr_t)p);
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, start, strlen(start)) &&
			strstr(line, name);
	fclose(f);
	return found;
}

/* The header says what the registry is; the rest is zero; the memfd is
 * named for readers and its descriptor closed. */
START_TEST(test_create_header)
{
	int fds = open_fds();
	struct registry *r = registry_create(getpid());
	char name[64];

	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->magic, REGISTRY_MAGIC);
	ck_assert_uint_eq(r->version, REGISTRY_VERSION);
	ck_assert_uint_eq(r->max_threads, REGISTRY_MAX_THREADS);
	ck_assert_int_eq(r->pid, getpid());
	ck_assert_int_eq(r->fork_parent, 0);
	ck_assert_uint_eq(r->high_water, 0);
	ck_assert_uint_eq(r->n_orphans, 0);
	ck_assert_uint_eq(r->gil.addr, 0);
	ck_assert_int_eq(r->slots[0].tid, 0);
	ck_assert_int_eq(r->slots[REGISTRY_MAX_THREADS - 1].tid, 0);
	ck_assert_uint_eq(r->facts[REGISTRY_FACTS - 1].addr, 0);
	ck_assert_int_eq(open_fds(), fds);
	snprintf(name, sizeof(name), "/memfd:" REGISTRY_NAME_FMT, getpid());
	ck_assert(mapped_as(r, name));
	registry_destroy(r);
	ck_assert(!mapped_as(r, name));
}
END_TEST

/*
 * Private memory: a fork child finds what the parent wrote before the
 * fork, and what the child writes never reaches the parent's copy (the
 * child stays alive while the parent looks).
 */
START_TEST(test_create_private_after_fork)
{
	int to_parent[2], to_child[2], status;
	pid_t child;
	char c;

	thread_new(101);
	ck_assert_int_eq(pipe(to_parent), 0);
	ck_assert_int_eq(pipe(to_child), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		bool bad = false;

		close(to_parent[0]);
		close(to_child[1]);
		bad |= registry_slot_of(reg, 101) != &reg->slots[0];
		bad |= registry_slot_take(reg, 202, SELF(202)) !=
		       &reg->slots[1];
		bad |= registry_fact_set(reg, 0x1000, FACT_COUNTING) != 0;
		atomic_store(&reg->slots[0].wait_addr, 0x2000);
		reg->pid = getpid();
		c = bad ? 'n' : 'y';
		if (write(to_parent[1], &c, 1) != 1)
			_exit(2);
		/* until the parent has looked */
		if (read(to_child[0], &c, 1) < 0)
			_exit(2);
		_exit(bad);
	}
	close(to_parent[1]);
	close(to_child[0]);
	ck_assert_int_eq(read(to_parent[0], &c, 1), 1);
	ck_assert_int_eq(c, 'y');
	ck_assert_int_eq(reg->pid, getpid());
	ck_assert_ptr_null(registry_slot_of(reg, 202));
	ck_assert_int_eq(reg->slots[1].tid, 0);
	ck_assert_uint_eq(reg->high_water, 1);
	ck_assert_uint_eq(registry_fact(reg, 0x1000), 0);
	ck_assert_uint_eq(reg->slots[0].wait_addr, 0);
	ck_assert_int_eq(write(to_child[1], "x", 1), 1);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* ---- slots ---- */

/* Slots are taken lowest first, found by TID, released and taken again
 * clean; high_water counts slots ever used. */
START_TEST(test_slot_take_release_of)
{
	struct registry_slot *a = thread_new(101), *b = thread_new(102);
	struct registry_slot *c = thread_new(103), *d;
	uint64_t gen;

	ck_assert_ptr_eq(a, &reg->slots[0]);
	ck_assert_ptr_eq(b, &reg->slots[1]);
	ck_assert_ptr_eq(c, &reg->slots[2]);
	ck_assert_uint_eq(b->self, SELF(102));
	ck_assert_uint_eq(reg->high_water, 3);
	ck_assert_ptr_eq(registry_slot_of(reg, 101), a);
	ck_assert_ptr_eq(registry_slot_of(reg, 102), b);
	ck_assert_ptr_eq(registry_slot_of(reg, 103), c);
	ck_assert_ptr_null(registry_slot_of(reg, 999));
	ck_assert_ptr_null(registry_slot_of(reg, 0));

	/* a thread that leaves dirt behind */
	hold(b, 0x10, REG_MUTEX, HELD_OWNED);
	wait_join(b, 101, SELF(101));
	atomic_store(&b->break_pending, 1);
	b->py_tstate = 0x1234;
	b->held_truncated = 1;
	b->breaks_in_a_row = 3;
	gen = atomic_load(&b->gen);
	registry_slot_release(b);
	ck_assert_uint_gt(b->gen, gen);
	ck_assert_ptr_null(registry_slot_of(reg, 102));
	ck_assert_ptr_null(registry_slot_of(reg, 0));	/* b is free */
	ck_assert_int_eq(registry_owner(reg, 0x10, NULL, NULL), 0);
	ck_assert_uint_eq(reg->high_water, 3);

	gen = atomic_load(&b->gen);
	d = thread_new(104);
	ck_assert_ptr_eq(d, b);
	ck_assert_uint_gt(d->gen, gen);
	ck_assert_uint_eq(d->self, SELF(104));
	ck_assert_uint_eq(d->n_held, 0);
	ck_assert_uint_eq(d->wait_addr, 0);
	ck_assert_int_eq(d->wait_tid, 0);
	ck_assert_uint_eq(d->break_pending, 0);
	ck_assert_uint_eq(d->py_tstate, 0);
	ck_assert_uint_eq(d->held_truncated, 0);
	ck_assert_uint_eq(d->breaks_in_a_row, 0);
	ck_assert_ptr_eq(registry_slot_of(reg, 104), d);
	ck_assert_uint_eq(reg->high_water, 3);
}
END_TEST

/* Lookups stop at high_water: a slot past it is not looked at. */
START_TEST(test_slot_of_stops_at_high_water)
{
	thread_new(101);
	atomic_store(&reg->slots[5].tid, 106);
	ck_assert_ptr_null(registry_slot_of(reg, 106));
	atomic_store(&reg->high_water, 6);
	ck_assert_ptr_eq(registry_slot_of(reg, 106), &reg->slots[5]);
}
END_TEST

/* A full registry gives no slot; a released one is given again. */
START_TEST(test_slot_full)
{
	struct registry_slot *last;

	for (int i = 0; i < REGISTRY_MAX_THREADS - 1; i++)
		atomic_store(&reg->slots[i].tid, 1000 + i);
	last = thread_new(99);
	ck_assert_ptr_eq(last, &reg->slots[REGISTRY_MAX_THREADS - 1]);
	ck_assert_uint_eq(reg->high_water, REGISTRY_MAX_THREADS);
	ck_assert_ptr_null(registry_slot_take(reg, 100, SELF(100)));
	ck_assert_ptr_eq(registry_slot_of(reg, 99), last);

	registry_slot_release(&reg->slots[5]);
	ck_assert_ptr_eq(registry_slot_take(reg, 100, SELF(100)),
			 &reg->slots[5]);
	ck_assert_ptr_null(registry_slot_take(reg, 101, SELF(101)));
	ck_assert_uint_eq(reg->high_water, REGISTRY_MAX_THREADS);
}
END_TEST

#define TAKERS 8
#define TAKES 64

struct taker {
	pthread_barrier_t *start;
	pid_t tid0;		/* its threads are tid0 .. tid0 + TAKES - 1 */
	struct registry_slot *got[TAKES];
};

static void *taker_run(void *arg)
{
	struct taker *t = arg;

	pthread_barrier_wait(t->start);
	for (int i = 0; i < TAKES; i++)
		t->got[i] = registry_slot_take(reg, t->tid0 + i,
					       SELF(t->tid0 + i));
	return NULL;
}

/* Threads taking slots together never get the same slot twice. */
START_TEST(test_slot_concurrent_takes)
{
	static struct taker t[TAKERS];
	pthread_t th[TAKERS];
	pthread_barrier_t start;
	char *seen = calloc(REGISTRY_MAX_THREADS, 1);

	ck_assert_ptr_nonnull(seen);
	pthread_barrier_init(&start, NULL, TAKERS);
	for (int i = 0; i < TAKERS; i++) {
		t[i].start = &start;
		t[i].tid0 = 1000 + i * TAKES;
		ck_assert_int_eq(pthread_create(&th[i], NULL, taker_run, &t[i]),
				 0);
	}
	for (int i = 0; i < TAKERS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < TAKERS; i++)
		for (int k = 0; k < TAKES; k++) {
			struct registry_slot *s = t[i].got[k];
			long at;

			ck_assert_ptr_nonnull(s);
			at = s - reg->slots;
			ck_assert_int_lt(at, TAKERS * TAKES);
			ck_assert_int_eq(seen[at], 0);
			seen[at] = 1;
			ck_assert_int_eq(s->tid, t[i].tid0 + k);
			ck_assert_uint_eq(s->self, SELF(t[i].tid0 + k));
		}
	ck_assert_uint_eq(reg->high_water, TAKERS * TAKES);
	pthread_barrier_destroy(&start);
	free(seen);
}
END_TEST

/* ---- facts ---- */

/*
 * The fact table's hash, as fact_hash in runtime/registry.c computes it:
 * the tests need addresses that collide.  test_fact_hash_formula checks
 * this copy against the table.
 */
static uint32_t fact_hash_copy(uint64_t addr)
{
	return (uint32_t)((addr * 0x9e3779b97f4a7c15ull) >> 40) &
	       (REGISTRY_FACTS - 1);
}

/* n 8-aligned addresses whose hash is h, by brute force. */
static void colliding(uint32_t h, uint64_t *out, int n)
{
	for (uint64_t a = 0x10000; n > 0; a += 8)
		if (fact_hash_copy(a) == h) {
			*out++ = a;
			n--;
		}
}

/* How many entries of addr the whole table has. */
static int fact_entries(uint64_t addr)
{
	int n = 0;

	for (int i = 0; i < REGISTRY_FACTS; i++)
		n += atomic_load(&reg->facts[i].addr) == addr;
	return n;
}

/* The tests' copy of the hash is the table's: a lone fact sits there. */
START_TEST(test_fact_hash_formula)
{
	uint64_t a = 0x55d0c0de1230;

	ck_assert_int_eq(registry_fact_set(reg, a, FACT_SHARED), 0);
	ck_assert_uint_eq(reg->facts[fact_hash_copy(a)].addr, a);
	ck_assert_uint_eq(reg->facts[fact_hash_copy(a)].flags, FACT_SHARED);
}
END_TEST

/* Unknown objects have no fact; a second set adds flags; clear drops. */
START_TEST(test_fact_set_or_clear)
{
	ck_assert_uint_eq(registry_fact(reg, 0x1000), 0);
	ck_assert_int_eq(registry_fact_set(reg, 0x1000, FACT_COUNTING), 0);
	ck_assert_uint_eq(registry_fact(reg, 0x1000), FACT_COUNTING);
	ck_assert_int_eq(registry_fact_set(reg, 0x1000, FACT_SHARED), 0);
	ck_assert_uint_eq(registry_fact(reg, 0x1000),
			  FACT_COUNTING | FACT_SHARED);
	ck_assert_int_eq(fact_entries(0x1000), 1);
	ck_assert_uint_eq(registry_fact(reg, 0x2000), 0);
	registry_fact_clear(reg, 0x1000);
	ck_assert_uint_eq(registry_fact(reg, 0x1000), 0);
	ck_assert_int_eq(fact_entries(0x1000), 0);
	registry_fact_clear(reg, 0x3000);	/* never set: nothing happens */
	ck_assert_uint_eq(registry_fact(reg, 0x3000), 0);
}
END_TEST

/*
 * The reported bug: set y, set x, clear y, set x, clear x left x set.
 * The second set of x must find x's entry past y's deleted one (not make
 * a second entry in y's place), and clear must drop every entry of x.
 */
START_TEST(test_fact_reset_past_deleted)
{
	uint64_t a[2], x, y;

	colliding(fact_hash_copy(0x7f1234567000), a, 2);
	y = a[0];
	x = a[1];
	ck_assert_int_eq(registry_fact_set(reg, y, FACT_SHARED), 0);
	ck_assert_int_eq(registry_fact_set(reg, x, FACT_COUNTING), 0);
	registry_fact_clear(reg, y);
	ck_assert_uint_eq(registry_fact(reg, y), 0);
	ck_assert_uint_eq(registry_fact(reg, x), FACT_COUNTING);
	ck_assert_int_eq(registry_fact_set(reg, x, FACT_SIGNAL), 0);
	ck_assert_int_eq(fact_entries(x), 1);
	ck_assert_uint_eq(registry_fact(reg, x), FACT_COUNTING | FACT_SIGNAL);
	registry_fact_clear(reg, x);
	ck_assert_uint_eq(registry_fact(reg, x), 0);
	ck_assert_int_eq(fact_entries(x), 0);
	ck_assert_uint_eq(registry_fact(reg, y), 0);
}
END_TEST

/* Clear drops every entry of its address (two threads may have set the
 * same new address together), and nothing else. */
START_TEST(test_fact_clear_all_matches)
{
	uint64_t a[4];
	uint32_t h;

	colliding(fact_hash_copy(0x7f7654321000), a, 4);
	h = fact_hash_copy(a[0]);
	ck_assert_int_eq(registry_fact_set(reg, a[0], FACT_COUNTING), 0);
	ck_assert_int_eq(registry_fact_set(reg, a[1], FACT_SIGNAL), 0);
	ck_assert_int_eq(registry_fact_set(reg, a[2], FACT_SHARED), 0);
	/* a duplicate of a[0] past the others, as a race leaves it */
	atomic_store(&reg->facts[(h + 3) & (REGISTRY_FACTS - 1)].flags,
		     FACT_COUNTING);
	atomic_store(&reg->facts[(h + 3) & (REGISTRY_FACTS - 1)].addr, a[0]);
	registry_fact_clear(reg, a[0]);
	ck_assert_int_eq(fact_entries(a[0]), 0);
	ck_assert_uint_eq(registry_fact(reg, a[0]), 0);
	ck_assert_uint_eq(registry_fact(reg, a[1]), FACT_SIGNAL);
	ck_assert_uint_eq(registry_fact(reg, a[2]), FACT_SHARED);
	ck_assert_uint_eq(registry_fact(reg, a[3]), 0);
}
END_TEST

/*
 * Colliding addresses take the next entries, wrapping at the table's
 * end; a full neighbourhood refuses a new fact (-1) and keeps the old
 * ones; a deleted entry makes room again, and those past it still read.
 */
START_TEST(test_fact_collisions_probe_limit)
{
	uint64_t a[REGISTRY_FACT_PROBES + 1];
	uint32_t h = REGISTRY_FACTS - 5;	/* the neighbourhood wraps */
	int last = REGISTRY_FACT_PROBES;

	colliding(h, a, REGISTRY_FACT_PROBES + 1);
	for (int i = 0; i < REGISTRY_FACT_PROBES; i++)
		ck_assert_int_eq(registry_fact_set(reg, a[i], 1u << (i % 3)),
				 0);
	ck_assert_uint_eq(reg->facts[h].addr, a[0]);
	ck_assert_uint_eq(reg->facts[0].addr, a[5]);
	for (int i = 0; i < REGISTRY_FACT_PROBES; i++)
		ck_assert_uint_eq(registry_fact(reg, a[i]), 1u << (i % 3));

	ck_assert_int_eq(registry_fact_set(reg, a[last], FACT_SHARED), -1);
	ck_assert_uint_eq(registry_fact(reg, a[last]), 0);
	ck_assert_int_eq(fact_entries(a[last]), 0);
	/* an existing one still takes flags */
	ck_assert_int_eq(registry_fact_set(reg, a[20], FACT_SHARED), 0);
	ck_assert_uint_eq(registry_fact(reg, a[20]),
			  (1u << (20 % 3)) | FACT_SHARED);

	registry_fact_clear(reg, a[7]);
	ck_assert_uint_eq(registry_fact(reg, a[7]), 0);
	for (int i = 8; i < REGISTRY_FACT_PROBES; i++)
		ck_assert_uint_ne(registry_fact(reg, a[i]), 0);
	ck_assert_int_eq(registry_fact_set(reg, a[last], FACT_SHARED), 0);
	ck_assert_uint_eq(registry_fact(reg, a[last]), FACT_SHARED);
	ck_assert_uint_eq(reg->facts[(h + 7) & (REGISTRY_FACTS - 1)].addr,
			  a[last]);
}
END_TEST

/* ---- forgetting an address ---- */

/* Forget clears every entry of the address in every thread, bumps the
 * generation of those that had one, and leaves other entries alone. */
START_TEST(test_forget_every_slot)
{
	struct registry_slot *a = thread_new(101), *b = thread_new(102);
	struct registry_slot *c = thread_new(103);
	uint64_t ga, gb, gc;

	hold(a, 0x10, REG_MUTEX, HELD_OWNED);
	hold(b, 0x10, REG_RWLOCK, HELD_READ);
	hold(b, 0x10, REG_RWLOCK, HELD_READ);	/* a recursive read */
	hold(c, 0x20, REG_MUTEX, HELD_OWNED);
	hold(c, 0x10, REG_RWLOCK, HELD_READ);
	hold(c, 0x30, REG_MUTEX, HELD_OWNED);
	ga = atomic_load(&a->gen);
	gb = atomic_load(&b->gen);
	gc = atomic_load(&c->gen);
	registry_forget(reg, NULL, 0x10);
	ck_assert_int_eq(registry_owner(reg, 0x10, NULL, NULL), 0);
	ck_assert_uint_eq(entry_addr(b, 1), 0);
	ck_assert_uint_eq(entry_addr(c, 0), 0x20);
	ck_assert_uint_eq(entry_addr(c, 2), 0x30);
	ck_assert_uint_gt(a->gen, ga);
	ck_assert_uint_gt(b->gen, gb);
	ck_assert_uint_gt(c->gen, gc);
	/* nothing of it anywhere: no generation moves */
	gc = atomic_load(&c->gen);
	registry_forget(reg, NULL, 0x40);
	ck_assert_uint_eq(c->gen, gc);
	ck_assert_int_eq(registry_owner(reg, 0x20, NULL, NULL), 103);
}
END_TEST

/*
 * The caller's own slot is looked at first, and the others still are:
 * a destroyer that held the object (a reader of an rwlock, a thread of
 * a counting semaphore) does not leave other holders' entries behind.
 */
START_TEST(test_forget_own_slot_first)
{
	struct registry_slot *me = thread_new(101), *other = thread_new(102);
	struct registry_slot *idle = thread_new(103);

	hold(me, 0x10, REG_RWLOCK, HELD_READ);
	hold(me, 0x10, REG_RWLOCK, HELD_READ);
	hold(other, 0x10, REG_RWLOCK, HELD_READ);
	hold(other, 0x20, REG_MUTEX, HELD_OWNED);
	registry_forget(reg, me, 0x10);
	ck_assert_uint_eq(entry_addr(me, 0), 0);
	ck_assert_uint_eq(entry_addr(me, 1), 0);
	ck_assert_uint_eq(entry_addr(other, 0), 0);
	ck_assert_int_eq(registry_owner(reg, 0x10, NULL, NULL), 0);
	ck_assert_int_eq(registry_owner(reg, 0x20, NULL, NULL), 102);

	/* a caller that did not hold it: the others are searched */
	hold(other, 0x30, REG_MUTEX, HELD_OWNED);
	registry_forget(reg, idle, 0x30);
	ck_assert_int_eq(registry_owner(reg, 0x30, NULL, NULL), 0);
}
END_TEST

/* The orphans of a fork parent's threads: every record of the address
 * goes, the others stay. */
START_TEST(test_forget_orphans)
{
	struct registry_slot *me = thread_new(101);

	reg->orphans[0].addr = 0x10;
	reg->orphans[0].tid = 7;
	reg->orphans[1].addr = 0x20;
	reg->orphans[1].tid = 8;
	reg->orphans[2].addr = 0x10;
	reg->orphans[2].tid = 9;
	atomic_store(&reg->n_orphans, 3);
	ck_assert_ptr_eq(registry_orphan_of(reg, 0x10), &reg->orphans[0]);
	ck_assert_ptr_eq(registry_orphan_of(reg, 0x20), &reg->orphans[1]);
	ck_assert_ptr_null(registry_orphan_of(reg, 0x30));
	ck_assert_ptr_null(registry_orphan_of(reg, 0));
	/* the caller held it too: the orphans are still looked at */
	hold(me, 0x10, REG_MUTEX, HELD_OWNED);
	registry_forget(reg, me, 0x10);
	ck_assert_ptr_null(registry_orphan_of(reg, 0x10));
	ck_assert_uint_eq(reg->orphans[2].addr, 0);
	ck_assert_ptr_eq(registry_orphan_of(reg, 0x20), &reg->orphans[1]);
	ck_assert_int_eq(registry_orphan_of(reg, 0x20)->tid, 8);
	registry_forget(reg, NULL, 0x20);
	ck_assert_ptr_null(registry_orphan_of(reg, 0x20));
	/* past n_orphans: not a record */
	reg->orphans[3].addr = 0x40;
	ck_assert_ptr_null(registry_orphan_of(reg, 0x40));
}
END_TEST

/*
 * The shim's held_push: the runtime's writers, which it calls, minus its
 * signal guard, progress count and Python site.  registry_forget is
 * tested against them (and registry_held_drop, held_pop's own).
 */
static bool shim_held_push(struct registry_slot *s, uint64_t addr,
			   uint32_t kind, uint32_t flags)
{
	struct registry_held *h;
	uint32_t n;

	if (!(h = registry_held_claim(s, &n)))
		return false;
	h->site = 0;
	h->kind = kind;
	h->flags = flags;
	h->py_code = 0;
	registry_held_publish(s, h, addr, n);
	return true;
}

/* The shim's wait_begin and wait_end, as far as the slot goes. */
static void shim_wait_begin(struct registry_slot *s, uint64_t addr,
			    uint32_t kind, uint32_t flags)
{
	atomic_store(&s->wait_kind, kind);
	atomic_store(&s->wait_flags, flags);
	atomic_store(&s->wait_tid, 0);
	atomic_store(&s->wait_addr, addr);
	atomic_fetch_add(&s->gen, 1);
}

static void shim_wait_end(struct registry_slot *s)
{
	atomic_store(&s->wait_addr, 0);
	atomic_fetch_add(&s->gen, 1);
}

/*
 * Traps: another thread's step made at a chosen point inside a call,
 * every time, without counting on two threads running at once.  The
 * registry's page at a trap is made inaccessible; the call's first read
 * there faults, and the handler gives the page back, arms the next trap
 * (they take turns), and runs the step before the read goes on.  The
 * step must not touch an armed page.
 */
#define TRAPS 2

static struct {
	uintptr_t page[TRAPS];
	int n, armed;		/* traps set; the one armed, or -1 */
	void (*step)(int at);	/* run at a fault on trap at */
	int faults;
} trap = { .armed = -1 };

static uintptr_t page_of(const void *p)
{
	return (uintptr_t)p & ~(uintptr_t)(page_size - 1);
}

static void trap_fault(int sig, siginfo_t *si, void *ctx)
{
	int at = trap.armed;

	if (at < 0 || page_of(si->si_addr) != trap.page[at]) {
		signal(SIGSEGV, SIG_DFL);	/* a real fault: die of it */
		return;
	}
	mprotect((void *)trap.page[at], page_size, PROT_READ | PROT_WRITE);
	trap.faults++;
	trap.armed = trap.n > 1 ? (at + 1) % trap.n : -1;
	if (trap.armed >= 0)
		mprotect((void *)trap.page[trap.armed], page_size, PROT_NONE);
	trap.step(at);
}

/* Traps at the pages of p[0 .. n-1], the first one armed. */
static void traps_set(void *const *p, int n, void (*step)(int at))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = trap_fault;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGSEGV, &sa, NULL), 0);
	trap.n = n;
	trap.step = step;
	trap.faults = 0;
	for (int i = 0; i < n; i++)
		trap.page[i] = page_of(p[i]);
	trap.armed = 0;
	ck_assert_int_eq(mprotect((void *)trap.page[0], page_size,
				  PROT_NONE), 0);
}

static void traps_clear(void)
{
	if (trap.armed >= 0)
		mprotect((void *)trap.page[trap.armed], page_size,
			 PROT_READ | PROT_WRITE);
	trap.armed = -1;
	signal(SIGSEGV, SIG_DFL);
}

#define FORGETTERS 3
#define FORGETS_WANTED 5000	/* forgets (and compactions) a run does */
#define FORGETS_MIN 200		/* fewer: the race was not run */
#define KEEP_ADDRS 48		/* the owner's own objects, never forgotten */
#define KEEP_LIVE_MAX 24	/* with those in flight: room once compacted */
#define KEEP_BASE 0x5a0000000000ull
/* handed to a forgetter, never pushed again */
#define DOOMED_BASE 0x7d0000000000ull

enum stress_fault {
	FAULT_NONE,
	FAULT_LEFT_BEHIND,	/* a forgotten address still held */
	FAULT_KEEP_LOST,	/* another address was cleared */
	FAULT_STRANGER,		/* an entry nobody pushed */
	FAULT_TRUNCATED,	/* the test's own limits were wrong */
};

struct forget_stress {
	struct registry_slot *owner;
	struct registry_slot *forgetter[FORGETTERS];
	/* the address handed to forgetter j and not yet forgotten, or 0 */
	_Atomic uint64_t mailbox[FORGETTERS];
	_Atomic int stop;
	_Atomic int fault;
	_Atomic uint64_t fault_addr;
	_Atomic unsigned long forgets;
};

static void stress_fail(struct forget_stress *fs, enum stress_fault f,
			uint64_t addr)
{
	int none = FAULT_NONE;

	if (atomic_compare_exchange_strong(&fs->fault, &none, f))
		atomic_store(&fs->fault_addr, addr);
	atomic_store(&fs->stop, 1);
}

/* Which forgetter a doomed address went to (addresses encode it). */
static int doomed_forgetter(uint64_t a)
{
	return (int)(((a - DOOMED_BASE) >> 4) % FORGETTERS);
}

struct forgetter_arg {
	struct forget_stress *fs;
	int j;
};

/* Forget what the owner hands over, then look: it must be gone. */
static void *forgetter_run(void *arg)
{
	struct forgetter_arg *fa = arg;
	struct forget_stress *fs = fa->fs;
	struct registry_slot *me = fs->forgetter[fa->j];
	unsigned long n = 0;

	while (!atomic_load(&fs->stop)) {
		uint64_t d = atomic_load(&fs->mailbox[fa->j]);

		if (!d) {
			sched_yield();
			continue;
		}
		registry_forget(reg, (n++ & 1) ? me : NULL, d);
		for (int k = 0; k < REGISTRY_MAX_HELD; k++)
			if (atomic_load(&fs->owner->held[k].addr) == d)
				stress_fail(fs, FAULT_LEFT_BEHIND, d);
		atomic_fetch_add(&fs->forgets, 1);
		atomic_store(&fs->mailbox[fa->j], 0);
	}
	return NULL;
}

/*
 * The owner's check of its own list between two of its steps: every
 * live object of its own once, nothing a forgetter is done with (the
 * mailboxes are read first: an address handed back before the look must
 * be gone), nothing else.
 */
static void owner_check(struct forget_stress *fs, const bool *live)
{
	uint64_t box[FORGETTERS];
	int count[KEEP_ADDRS] = { 0 };

	for (int j = 0; j < FORGETTERS; j++)
		box[j] = atomic_load(&fs->mailbox[j]);
	for (int k = 0; k < REGISTRY_MAX_HELD; k++) {
		uint64_t a = atomic_load(&fs->owner->held[k].addr);

		if (!a)
			continue;
		if (a >= DOOMED_BASE) {
			if (box[doomed_forgetter(a)] != a)
				stress_fail(fs, FAULT_LEFT_BEHIND, a);
		} else if (a >= KEEP_BASE && a < KEEP_BASE + KEEP_ADDRS * 16) {
			count[(a - KEEP_BASE) / 16]++;
		} else {
			stress_fail(fs, FAULT_STRANGER, a);
		}
	}
	for (int i = 0; i < KEEP_ADDRS; i++)
		if (count[i] != (live[i] ? 1 : 0))
			stress_fail(fs, count[i] ? FAULT_STRANGER :
				    FAULT_KEEP_LOST, KEEP_BASE + i * 16);
}

/*
 * Forgets from several threads while the owner pushes, pops (leaving
 * holes) and compacts: a forgotten address is never left behind, and no
 * other address is ever cleared.
 */
START_TEST(test_forget_while_compacting)
{
	static struct forget_stress fs;
	struct forgetter_arg fa[FORGETTERS];
	pthread_t th[FORGETTERS];
	bool live[KEEP_ADDRS] = { false };
	uint64_t start = now_ms(), seq = 0;
	uint32_t seed = 2463534242u;
	unsigned long steps = 0;
	int n_live = 0;

	fs.owner = thread_new(100);
	for (int j = 0; j < FORGETTERS; j++) {
		fs.forgetter[j] = thread_new(200 + j);
		fa[j].fs = &fs;
		fa[j].j = j;
		ck_assert_int_eq(pthread_create(&th[j], NULL, forgetter_run,
						&fa[j]), 0);
	}
	while (!atomic_load(&fs.stop)) {
		uint32_t x = rnd(&seed);

		for (int j = 0; j < FORGETTERS; j++) {
			uint64_t d;

			if (atomic_load(&fs.mailbox[j]))
				continue;
			d = DOOMED_BASE + ((seq++ * FORGETTERS + j) << 4);
			if (!shim_held_push(fs.owner, d, REG_MUTEX, HELD_OWNED))
				stress_fail(&fs, FAULT_TRUNCATED, d);
			atomic_store(&fs.mailbox[j], d);
		}
		if (n_live < KEEP_LIVE_MAX && (!n_live || (x & 1))) {
			int i = (x >> 1) % KEEP_ADDRS;

			while (live[i])
				i = (i + 1) % KEEP_ADDRS;
			if (!shim_held_push(fs.owner, KEEP_BASE + i * 16,
					    REG_MUTEX, HELD_OWNED))
				stress_fail(&fs, FAULT_TRUNCATED, KEEP_BASE);
			live[i] = true;
			n_live++;
		} else {
			int i = (x >> 1) % KEEP_ADDRS;

			while (!live[i])
				i = (i + 1) % KEEP_ADDRS;
			if (!registry_held_drop(fs.owner, KEEP_BASE + i * 16))
				stress_fail(&fs, FAULT_KEEP_LOST,
					    KEEP_BASE + i * 16);
			live[i] = false;
			n_live--;
		}
		owner_check(&fs, live);
		if (!(++steps & 255) &&
		    stress_over(start, fs.forgets >= FORGETS_WANTED &&
				       fs.owner->compactions / 2 >=
				       FORGETS_WANTED))
			atomic_store(&fs.stop, 1);
	}
	for (int j = 0; j < FORGETTERS; j++)
		pthread_join(th[j], NULL);
	ck_assert_msg(fs.fault == FAULT_NONE,
		      "fault %d at address %#llx", fs.fault,
		      (unsigned long long)fs.fault_addr);
	/* the race was run: many forgets, many compactions */
	ck_assert_uint_ge(fs.forgets, FORGETS_MIN);
	ck_assert_uint_ge(fs.owner->compactions / 2, FORGETS_MIN);
}
END_TEST

static struct registry_slot *squeezed;

/* The owner's step: it squeezes the holes out of its list. */
static void squeeze(int at)
{
	registry_held_compact(squeezed, atomic_load(&squeezed->n_held));
}

/*
 * A forget meets a compaction, made certain: the forget's scan of the
 * owner's list faults on the page where entry k begins, and there the
 * owner squeezes its list, moving the address below k, where the scan
 * has been.  The forget must look again (the compaction count moved).
 */
START_TEST(test_forget_during_compaction)
{
	const uint64_t d = 0xd0, keep = 0x1000;
	void *at;
	int i, k = 0;

	/* a slot whose entry k (not the first two) begins a page */
	for (i = 0; !k; i++)
		for (int j = 2; j < REGISTRY_MAX_HELD - 1 && !k; j++)
			if (page_of(&reg->slots[i].held[j].addr) !=
			    page_of(&reg->slots[i].held[j - 1].addr))
				k = j;
	for (int s = 0; s < i; s++)
		squeezed = thread_new(100 + s);
	/* a hole, k - 1 entries of its own, and d at k */
	hold(squeezed, 0, REG_NONE, 0);
	for (int j = 1; j < k; j++)
		hold(squeezed, keep + j * 16, REG_MUTEX, HELD_OWNED);
	hold(squeezed, d, REG_MUTEX, HELD_OWNED);
	at = &squeezed->held[k].addr;
	traps_set(&at, 1, squeeze);
	registry_forget(reg, NULL, d);
	traps_clear();
	ck_assert_int_eq(trap.faults, 1);
	ck_assert_uint_eq(squeezed->compactions, 2);
	ck_assert_int_eq(registry_owner(reg, d, NULL, NULL), 0);
	for (int j = 0; j < REGISTRY_MAX_HELD; j++)
		ck_assert_uint_ne(entry_addr(squeezed, j), d);
	for (int j = 1; j < k; j++)
		ck_assert_uint_eq(entry_addr(squeezed, j - 1), keep + j * 16);
}
END_TEST

/* ---- owners ---- */

/* The holder of an address: the first live slot with an entry of it
 * below its count; its slot and entry. */
START_TEST(test_owner)
{
	struct registry_slot *a = thread_new(101), *b = thread_new(102);
	const struct registry_slot *slot = NULL;
	const struct registry_held *entry = NULL;

	hold(a, 0x10, REG_MUTEX, HELD_OWNED);
	hold(b, 0x20, REG_MUTEX, HELD_OWNED);
	hold(b, 0, REG_NONE, 0);	/* a hole */
	hold(b, 0x30, REG_CUSTOM, HELD_OWNED);
	ck_assert_int_eq(registry_owner(reg, 0x30, &slot, &entry), 102);
	ck_assert_ptr_eq(slot, b);
	ck_assert_ptr_eq(entry, &b->held[2]);
	ck_assert_uint_eq(entry->kind, REG_CUSTOM);
	ck_assert_int_eq(registry_owner(reg, 0x10, NULL, NULL), 101);
	/* nobody holds it: slot and entry untouched */
	ck_assert_int_eq(registry_owner(reg, 0x40, &slot, &entry), 0);
	ck_assert_ptr_eq(slot, b);
	/* 0 is a hole, never an object */
	ck_assert_int_eq(registry_owner(reg, 0, NULL, NULL), 0);
	/* an entry past the count is not held */
	atomic_store(&b->held[5].addr, 0x50);
	ck_assert_int_eq(registry_owner(reg, 0x50, NULL, NULL), 0);
	/* a count past the list is read as the whole list */
	atomic_store(&b->held[REGISTRY_MAX_HELD - 1].addr, 0x60);
	atomic_store(&b->n_held, REGISTRY_MAX_HELD + 100);
	ck_assert_int_eq(registry_owner(reg, 0x60, NULL, NULL), 102);
	/* a free slot holds nothing (what it left is not read) */
	atomic_store(&a->tid, 0);
	slot = NULL;
	entry = NULL;
	ck_assert_int_eq(registry_owner(reg, 0x10, &slot, &entry), 0);
	ck_assert_ptr_null(slot);
	ck_assert_ptr_null(entry);
}
END_TEST

/* The thread a join waits for: by TID, or by pthread_t without one. */
START_TEST(test_join_target)
{
	struct registry_slot *a = thread_new(101), *b = thread_new(102);
	struct registry_slot *c = thread_new(103);

	wait_join(a, 102, SELF(102));
	ck_assert_ptr_eq(registry_join_target(reg, a), b);
	wait_join(a, 102, SELF(103));	/* the TID decides */
	ck_assert_ptr_eq(registry_join_target(reg, a), b);
	wait_join(a, 0, SELF(103));
	ck_assert_ptr_eq(registry_join_target(reg, a), c);
	wait_join(a, 104, SELF(104));	/* gone, or never registered */
	ck_assert_ptr_null(registry_join_target(reg, a));
	wait_join(a, 0, SELF(104));
	ck_assert_ptr_null(registry_join_target(reg, a));
	/* a free slot that was that thread's is not it */
	wait_join(a, 0, SELF(103));
	registry_slot_release(c);
	ck_assert_ptr_null(registry_join_target(reg, a));
	wait_join(a, 0, 0);
	ck_assert_ptr_null(registry_join_target(reg, a));
}
END_TEST

/* CPython's GIL state and a thread state, faked at known offsets. */
struct fake_gil {
	uint64_t interval;
	_Atomic int locked;
	int switch_number;
	_Atomic uint64_t last_holder;
	char cond[48];
	_Atomic int mutex;		/* a pthread mutex's lock word */
	char mutex_rest[36];
};

struct fake_tstate {
	uint64_t prev, next, interp;
	uint64_t thread_id;		/* pthread_self() */
};

/* The registry knows the GIL is g (and the offset of a state's ident, or
 * not). */
static void gil_known(struct fake_gil *g, bool with_ident)
{
	reg->gil.locked_off = offsetof(struct fake_gil, locked);
	reg->gil.holder_off = offsetof(struct fake_gil, last_holder);
	reg->gil.size = sizeof(*g);
	reg->gil.mutex_off = offsetof(struct fake_gil, mutex);
	reg->gil.ident_off = with_ident ? offsetof(struct fake_tstate,
						   thread_id) : 0;
	reg->gil.addr = (uint64_t)(uintptr_t)g;
}

/* The GIL's holder: by the holder state's ident first, else by the
 * state; none when free, handed over (no holder) or unknown. */
START_TEST(test_gil_holder)
{
	static struct fake_gil g;
	static struct fake_tstate ta, tb;
	struct registry_slot *a = thread_new(101), *b = thread_new(102);

	ck_assert_ptr_null(registry_gil_holder(reg));
	ta.thread_id = SELF(101);
	tb.thread_id = SELF(102);
	gil_known(&g, true);
	ck_assert_ptr_null(registry_gil_holder(reg));	/* free */
	atomic_store(&g.last_holder, (uint64_t)(uintptr_t)&tb);
	ck_assert_ptr_null(registry_gil_holder(reg));	/* released */
	atomic_store(&g.locked, 1);
	/* b's state not seen yet: by its ident */
	ck_assert_ptr_eq(registry_gil_holder(reg), b);
	/* by its state */
	a->py_tstate = (uint64_t)(uintptr_t)&ta;
	atomic_store(&g.last_holder, (uint64_t)(uintptr_t)&ta);
	ta.thread_id = SELF(999);
	ck_assert_ptr_eq(registry_gil_holder(reg), a);
	/* without the ident's offset, only by state (nothing read at
	 * offset 0 of the state, whatever it holds) */
	atomic_store(&g.last_holder, (uint64_t)(uintptr_t)&tb);
	tb.prev = SELF(102);
	gil_known(&g, false);
	ck_assert_ptr_null(registry_gil_holder(reg));
	b->py_tstate = (uint64_t)(uintptr_t)&tb;
	ck_assert_ptr_eq(registry_gil_holder(reg), b);
	/* a state's address reused: its ident (b's) decides, not the
	 * slot that had a state there before (a's) */
	gil_known(&g, true);
	tb.thread_id = SELF(102);
	a->py_tstate = (uint64_t)(uintptr_t)&tb;
	ck_assert_ptr_eq(registry_gil_holder(reg), b);
	/* its mutex held: a taker between setting locked and last_holder */
	atomic_store(&g.mutex, 1);
	ck_assert_ptr_null(registry_gil_holder(reg));
	atomic_store(&g.mutex, 0);
	ck_assert_ptr_eq(registry_gil_holder(reg), b);
	atomic_store(&g.last_holder, 0);	/* being handed over */
	ck_assert_ptr_null(registry_gil_holder(reg));
}
END_TEST

/* ---- cycles ---- */

/* Mutexes in a loop of two and of three threads; every thread of the
 * loop reports it, starting from itself, in wait order. */
START_TEST(test_cycle_mutexes)
{
	struct registry_slot *a = thread_new(101), *b = thread_new(102);
	struct registry_slot *c = thread_new(103), *d = thread_new(104);
	struct registry_slot *e = thread_new(105);
	pid_t tids[REGISTRY_MAX_CYCLE];

	hold(a, 0xa, REG_MUTEX, HELD_OWNED);
	hold(b, 0xb, REG_MUTEX, HELD_OWNED);
	wait_on(a, 0xb, REG_MUTEX, 0);
	ck_assert_int_eq(cycle_of(a, tids), 0);	/* b runs */
	wait_on(b, 0xa, REG_MUTEX, 0);
	assert_cycle(a, 2, (pid_t[]){ 101, 102 });
	assert_cycle(b, 2, (pid_t[]){ 102, 101 });

	/* c -> d -> e -> c, one of them a program's own lock */
	hold(c, 0xc, REG_MUTEX, HELD_OWNED);
	hold(d, 0xd, REG_CUSTOM, HELD_OWNED);
	hold(e, 0xe, REG_MUTEX, HELD_OWNED);
	wait_on(c, 0xd, REG_CUSTOM, 0);
	wait_on(d, 0xe, REG_MUTEX, 0);
	ck_assert_int_eq(cycle_of(c, tids), 0);
	wait_on(e, 0xc, REG_MUTEX, 0);
	assert_cycle(c, 3, (pid_t[]){ 103, 104, 105 });
	assert_cycle(d, 3, (pid_t[]){ 104, 105, 103 });
	/* a thread not waiting is on no cycle */
	wait_on(e, 0, REG_NONE, 0);
	ck_assert_int_eq(cycle_of(c, tids), 0);
	ck_assert_int_eq(cycle_of(e, tids), 0);
}
END_TEST

/*
 * A semaphore Lock's holder is no owner (any thread may release a Lock):
 * a cycle it closes is no proof, only a lead, whether or not a `with`
 * block took it.  A self-wait on a Lock is a lead of one.
 */
START_TEST(test_cycle_semlock)
{
	struct registry_slot *a = thread_new(101), *b = thread_new(102);
	struct registry_slot *c = thread_new(103), *d = thread_new(104);
	pid_t tids[REGISTRY_MAX_CYCLE];

	hold(a, 0xa, REG_SEMLOCK, HELD_WITH);
	hold(b, 0xb, REG_SEMLOCK, 0);		/* taken by acquire() */
	wait_on(a, 0xb, REG_SEMLOCK, 0);
	wait_on(b, 0xa, REG_SEMLOCK, 0);
	ck_assert_int_eq(cycle_of(a, tids), 0);
	ck_assert_int_eq(cycle_of(b, tids), 0);
	assert_walk(a, true, 2, (pid_t[]){ 101, 102 });
	assert_walk(b, true, 2, (pid_t[]){ 102, 101 });

	/* one Lock in a ring of mutexes: still only a lead */
	hold(c, 0xc, REG_MUTEX, HELD_OWNED);
	hold(d, 0xd, REG_SEMLOCK, HELD_WITH);
	wait_on(c, 0xd, REG_SEMLOCK, 0);
	wait_on(d, 0xc, REG_MUTEX, 0);
	ck_assert_int_eq(cycle_of(c, tids), 0);
	ck_assert_int_eq(cycle_of(d, tids), 0);
	assert_walk(d, true, 2, (pid_t[]){ 104, 103 });
	/* a Lock known as a signal, or a timed wait: not even a lead */
	ck_assert_int_eq(registry_fact_set(reg, 0xd, FACT_SIGNAL), 0);
	ck_assert_int_eq(lead_of(c, tids), 0);
	registry_fact_clear(reg, 0xd);
	wait_on(c, 0xd, REG_SEMLOCK, REG_WAIT_TIMED);
	ck_assert_int_eq(lead_of(c, tids), 0);
	ck_assert_int_eq(lead_of(d, tids), 0);

	/* a thread waiting for a Lock it holds */
	wait_on(c, 0, REG_NONE, 0);
	wait_on(d, 0xd, REG_SEMLOCK, 0);
	ck_assert_int_eq(cycle_of(d, tids), 0);
	assert_walk(d, true, 1, (pid_t[]){ 104 });
}
END_TEST

/* A mutex relocked by its holder: a cycle of one. */
START_TEST(test_cycle_self_mutex)
{
	struct registry_slot *a = thread_new(101);

	hold(a, 0xa, REG_MUTEX, HELD_OWNED);
	wait_on(a, 0xa, REG_MUTEX, 0);
	assert_cycle(a, 1, (pid_t[]){ 101 });
}
END_TEST

/* Waits that something else may end break a cycle, even a lead: timed,
 * process-shared, objects known as counting, signal or shared, and kinds
 * with no owner (counting semaphores, conditions). */
START_TEST(test_cycle_broken_by_wait)
{
	static const struct {
		uint32_t kind, flags, fact;
	} breaks[] = {
		{ REG_MUTEX, REG_WAIT_TIMED, 0 },
		{ REG_MUTEX, REG_WAIT_SHARED, 0 },
		{ REG_MUTEX, 0, FACT_SHARED },
		{ REG_SEMLOCK, 0, FACT_COUNTING },
		{ REG_SEMLOCK, 0, FACT_SIGNAL },
		{ REG_SEMLOCK, REG_WAIT_TIMED | REG_WAIT_SIGNAL, FACT_SIGNAL },
		{ REG_SEM, 0, 0 },
		{ REG_COND, 0, 0 },
	};
	struct registry_slot *a = thread_new(101), *b = thread_new(102);
	pid_t tids[REGISTRY_MAX_CYCLE];

	hold(a, 0xa, REG_MUTEX, HELD_OWNED);
	wait_on(b, 0xa, REG_MUTEX, 0);
	for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
		/* b holds 0xb0 of the case's kind; first a plain wait */
		atomic_store(&b->n_held, 0);
		hold(b, 0xb0, breaks[i].kind,
		     breaks[i].kind == REG_SEMLOCK ? HELD_WITH : HELD_OWNED);
		wait_on(a, 0xb0, breaks[i].kind, 0);
		ck_assert_int_eq(lead_of(a, tids),
				 breaks[i].kind == REG_SEM ||
				 breaks[i].kind == REG_COND ? 0 : 2);
		wait_on(a, 0xb0, breaks[i].kind, breaks[i].flags);
		if (breaks[i].fact)
			ck_assert_int_eq(registry_fact_set(reg, 0xb0,
							   breaks[i].fact), 0);
		ck_assert_msg(lead_of(a, tids) == 0, "case %zu", i);
		ck_assert_msg(lead_of(b, tids) == 0, "case %zu", i);
		ck_assert_msg(cycle_of(a, tids) == 0, "case %zu", i);
		registry_fact_clear(reg, 0xb0);
	}
}
END_TEST

/* A writer waits for every reader (a fan-out): a cycle through the
 * second reader is found. */
START_TEST(test_cycle_rwlock_writer_fanout)
{
	struct registry_slot *r1 = thread_new(101), *r2 = thread_new(102);
	struct registry_slot *r3 = thread_new(103), *w = thread_new(104);
	pid_t tids[REGISTRY_MAX_CYCLE];

	hold(r1, 0x1, REG_RWLOCK, HELD_READ);
	hold(r2, 0x1, REG_RWLOCK, HELD_READ);
	hold(r3, 0x1, REG_RWLOCK, HELD_READ);
	hold(w, 0x2, REG_MUTEX, HELD_OWNED);
	wait_on(w, 0x1, REG_RWLOCK, 0);
	wait_on(r1, 0x3, REG_MUTEX, 0);		/* nobody holds it */
	ck_assert_int_eq(cycle_of(w, tids), 0);
	wait_on(r2, 0x2, REG_MUTEX, 0);
	assert_cycle(w, 2, (pid_t[]){ 104, 102 });
	assert_cycle(r2, 2, (pid_t[]){ 102, 104 });
	/* a reader does not wait for readers */
	wait_on(w, 0x1, REG_RWLOCK, REG_WAIT_READ);
	ck_assert_int_eq(cycle_of(w, tids), 0);
	ck_assert_int_eq(cycle_of(r2, tids), 0);
}
END_TEST

/*
 * A reader kept out only by readers waits behind a queued writer (glibc
 * prefers writers when asked to); with no writer queued, or a timed one,
 * there is no cycle.  A reader waits for a writer that holds.
 */
START_TEST(test_cycle_rwlock_reader_behind_writer)
{
	struct registry_slot *r1 = thread_new(101), *w = thread_new(102);
	struct registry_slot *rd = thread_new(103), *h = thread_new(104);
	pid_t tids[REGISTRY_MAX_CYCLE];

	hold(r1, 0x1, REG_RWLOCK, HELD_READ);
	hold(rd, 0x2, REG_MUTEX, HELD_OWNED);
	wait_on(r1, 0x2, REG_MUTEX, 0);
	wait_on(rd, 0x1, REG_RWLOCK, REG_WAIT_READ);
	ck_assert_int_eq(cycle_of(rd, tids), 0);	/* readers only */
	wait_on(w, 0x1, REG_RWLOCK, 0);
	assert_cycle(rd, 3, (pid_t[]){ 103, 102, 101 });
	assert_cycle(w, 3, (pid_t[]){ 102, 101, 103 });
	wait_on(w, 0x1, REG_RWLOCK, REG_WAIT_TIMED);
	ck_assert_int_eq(cycle_of(rd, tids), 0);
	wait_on(w, 0x1, REG_RWLOCK, REG_WAIT_READ);	/* a reader queued */
	ck_assert_int_eq(cycle_of(rd, tids), 0);

	/* a writer holds: the reader waits for it */
	wait_on(w, 0, REG_NONE, 0);
	hold(h, 0x4, REG_RWLOCK, HELD_OWNED);
	hold(rd, 0x5, REG_MUTEX, HELD_OWNED);
	wait_on(rd, 0x4, REG_RWLOCK, REG_WAIT_READ);
	wait_on(h, 0x5, REG_MUTEX, 0);
	assert_cycle(rd, 2, (pid_t[]){ 103, 104 });
}
END_TEST

/* A join is an edge to the joined thread, found by TID or pthread_t. */
START_TEST(test_cycle_join)
{
	struct registry_slot *a = thread_new(101), *b = thread_new(102);
	pid_t tids[REGISTRY_MAX_CYCLE];

	hold(a, 0xa, REG_MUTEX, HELD_OWNED);
	wait_on(b, 0xa, REG_MUTEX, 0);
	wait_join(a, 102, SELF(102));
	assert_cycle(a, 2, (pid_t[]){ 101, 102 });
	assert_cycle(b, 2, (pid_t[]){ 102, 101 });
	wait_join(a, 0, SELF(102));
	assert_cycle(a, 2, (pid_t[]){ 101, 102 });
	wait_join(a, 105, SELF(105));	/* already gone: the join ends */
	ck_assert_int_eq(cycle_of(a, tids), 0);
	ck_assert_int_eq(cycle_of(b, tids), 0);
}
END_TEST

/* A thread waiting for the GIL waits for its holder; the holder waits
 * for a mutex the first one owns. */
START_TEST(test_cycle_gil)
{
	static struct fake_gil g;
	static struct fake_tstate tb;
	struct registry_slot *a = thread_new(101), *b = thread_new(102);
	pid_t tids[REGISTRY_MAX_CYCLE];

	gil_known(&g, true);
	tb.thread_id = SELF(102);
	b->py_tstate = (uint64_t)(uintptr_t)&tb;
	atomic_store(&g.last_holder, (uint64_t)(uintptr_t)&tb);
	atomic_store(&g.locked, 1);
	hold(a, 0xa, REG_MUTEX, HELD_OWNED);
	wait_on(b, 0xa, REG_MUTEX, 0);
	wait_on(a, reg->gil.addr, REG_GIL, 0);
	assert_cycle(a, 2, (pid_t[]){ 101, 102 });
	assert_cycle(b, 2, (pid_t[]){ 102, 101 });
	atomic_store(&g.locked, 0);	/* dropped: a takes it next */
	ck_assert_int_eq(cycle_of(a, tids), 0);
	atomic_store(&g.locked, 1);
	/* a waiting for a GIL it holds itself: no edge */
	tb.thread_id = SELF(101);
	b->py_tstate = 0;
	ck_assert_int_eq(cycle_of(a, tids), 0);
}
END_TEST

/* A cycle the caller only waits on (not through it) is its own threads'
 * to report. */
START_TEST(test_cycle_not_through_caller)
{
	struct registry_slot *a = thread_new(101), *b = thread_new(102);
	struct registry_slot *c = thread_new(103);
	pid_t tids[REGISTRY_MAX_CYCLE];

	hold(b, 0xb, REG_MUTEX, HELD_OWNED);
	hold(c, 0xc, REG_MUTEX, HELD_OWNED);
	wait_on(b, 0xc, REG_MUTEX, 0);
	wait_on(c, 0xb, REG_MUTEX, 0);
	wait_on(a, 0xb, REG_MUTEX, 0);
	ck_assert_int_eq(cycle_of(a, tids), 0);
	assert_cycle(b, 2, (pid_t[]){ 102, 103 });
}
END_TEST

/* Threads base .. base+n-1 in a ring: each waits for the next's mutex,
 * the last for the first's. */
static void ring(pid_t base, int n, struct registry_slot **s)
{
	for (int i = 0; i < n; i++) {
		s[i] = thread_new(base + i);
		hold(s[i], 0x1000 + (uint64_t)(base + i) * 16, REG_MUTEX,
		     HELD_OWNED);
	}
	for (int i = 0; i < n; i++)
		wait_on(s[i], 0x1000 + (uint64_t)(base + (i + 1) % n) * 16,
			REG_MUTEX, 0);
}

/* Rings up to REGISTRY_MAX_CYCLE threads are found whole, in order;
 * longer ones, or longer than the caller's max, are not followed. */
START_TEST(test_cycle_long)
{
	struct registry_slot *s[REGISTRY_MAX_CYCLE + 1];
	struct registry_slot *t[REGISTRY_MAX_CYCLE + 1];
	pid_t tids[REGISTRY_MAX_CYCLE], want[REGISTRY_MAX_CYCLE];

	ring(1000, REGISTRY_MAX_CYCLE, s);
	for (int i = 0; i < REGISTRY_MAX_CYCLE; i++)
		want[i] = 1000 + i;
	assert_cycle(s[0], REGISTRY_MAX_CYCLE, want);
	ck_assert_int_eq(registry_find_cycle(reg, s[0], false, tids,
					     REGISTRY_MAX_CYCLE - 1), 0);
	ck_assert_int_eq(registry_find_cycle(reg, s[0], false, tids,
					     REGISTRY_MAX_CYCLE + 10),
			 REGISTRY_MAX_CYCLE);

	ring(2000, REGISTRY_MAX_CYCLE + 1, t);
	ck_assert_int_eq(cycle_of(t[0], tids), 0);
	/* opened: a chain of REGISTRY_MAX_CYCLE is no cycle */
	wait_on(s[REGISTRY_MAX_CYCLE - 1], 0x5, REG_MUTEX, 0);
	ck_assert_int_eq(cycle_of(s[0], tids), 0);
}
END_TEST

/*
 * A thread first reached at the depth limit, by a long chain, is not
 * written off: a short cycle through it is still found.  me writes an
 * rwlock read by p[1] (first in slot order) and b; p[1] .. p[62] wait in
 * a chain ending at x (depth 63); x waits for y, y for me.  me -> b ->
 * x -> y -> me is a deadlock of four.
 */
START_TEST(test_cycle_short_past_depth_limit)
{
	struct registry_slot *me = thread_new(100), *p[REGISTRY_MAX_CYCLE];
	struct registry_slot *b, *x, *y;
	const int chain = REGISTRY_MAX_CYCLE - 2;	/* p[1] .. p[62] */

	for (int i = 1; i <= chain; i++)
		p[i] = thread_new(100 + i);
	b = thread_new(200);
	x = thread_new(300);
	y = thread_new(400);
	hold(p[1], 0x1, REG_RWLOCK, HELD_READ);
	hold(b, 0x1, REG_RWLOCK, HELD_READ);
	hold(me, 0x2, REG_MUTEX, HELD_OWNED);
	hold(x, 0x3, REG_MUTEX, HELD_OWNED);
	hold(y, 0x4, REG_MUTEX, HELD_OWNED);
	for (int i = 2; i <= chain; i++)
		hold(p[i], 0x1000 + i, REG_MUTEX, HELD_OWNED);
	for (int i = 1; i < chain; i++)
		wait_on(p[i], 0x1000 + i + 1, REG_MUTEX, 0);
	wait_on(p[chain], 0x3, REG_MUTEX, 0);
	wait_on(b, 0x3, REG_MUTEX, 0);
	wait_on(x, 0x4, REG_MUTEX, 0);
	wait_on(y, 0x2, REG_MUTEX, 0);
	wait_on(me, 0x1, REG_RWLOCK, 0);
	assert_cycle(me, 4, (pid_t[]){ 100, 200, 300, 400 });
}
END_TEST

struct flipper {
	struct registry_slot *s;
	uint64_t x, y;
	_Atomic int stop;
	_Atomic unsigned long flips;
};

/* Holds x, or waits for y, never both (as the shim writes the slot). */
static void *flipper_run(void *arg)
{
	struct flipper *f = arg;

	while (!atomic_load(&f->stop)) {
		shim_held_push(f->s, f->x, REG_MUTEX, HELD_OWNED);
		registry_held_drop(f->s, f->x);
		shim_wait_begin(f->s, f->y, REG_MUTEX, 0);
		shim_wait_end(f->s);
		atomic_fetch_add(&f->flips, 1);
	}
	return NULL;
}

#define CONFIRM_IDLE 256	/* idle threads scanned between two reads */
#define WALKS_WANTED 20000	/* walks (and turns of the other) a run does */
#define WALKS_MIN 500		/* fewer: the race was not run */

/*
 * The confirming walk: me holds y and waits for x; another thread by
 * turns holds x or waits for y, never both, so there is never a cycle.
 * A single walk that reads the other's hold in one turn and its wait in
 * the next sees one (idle threads after it in slot order widen the gap);
 * comparing two walks' generations must reject it.
 */
START_TEST(test_cycle_confirm_walk)
{
	static struct flipper f;
	struct registry_slot *me = thread_new(101);
	uint64_t start = now_ms();
	pid_t tids[REGISTRY_MAX_CYCLE];
	unsigned long walks = 0, found = 0;
	pthread_t th;

	f.s = thread_new(102);
	for (int i = 0; i < CONFIRM_IDLE; i++)
		thread_new(1000 + i);
	f.x = 0x10;
	f.y = 0x20;
	hold(me, f.y, REG_MUTEX, HELD_OWNED);
	wait_on(me, f.x, REG_MUTEX, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, flipper_run, &f), 0);
	while (!stress_over(start, walks >= WALKS_WANTED &&
				   f.flips >= WALKS_WANTED))
		for (int i = 0; i < 64; i++, walks++)
			found += cycle_of(me, tids) != 0;
	atomic_store(&f.stop, 1);
	pthread_join(th, NULL);
	ck_assert_msg(found == 0, "%lu false cycles in %lu walks", found,
		      walks);
	ck_assert_uint_ge(f.flips, WALKS_MIN);
	ck_assert_uint_ge(walks, WALKS_MIN);
}
END_TEST

static struct registry_slot *turner;

/* The other thread's turn, at each fault of the first trap: it stops
 * holding 0x10 and waits for 0x20, or stops waiting and holds 0x10. */
static void turn(int at)
{
	if (at != 0)
		return;
	if (atomic_load(&turner->wait_addr)) {
		shim_wait_end(turner);
		shim_held_push(turner, 0x10, REG_MUTEX, HELD_OWNED);
	} else {
		registry_held_drop(turner, 0x10);
		shim_wait_begin(turner, 0x20, REG_MUTEX, 0);
	}
}

/*
 * The confirming walk, made certain: me holds 0x20 and waits for 0x10;
 * the other holds 0x10 and takes a turn each time a walk scans the idle
 * threads after it.  Each walk alone reads the other's hold before the
 * turn and its wait after it: a cycle that never was.  The second walk
 * finds the other's generation moved, and nothing is reported.
 */
START_TEST(test_cycle_confirm_walk_trapped)
{
	struct registry_slot *me = thread_new(101);
	pid_t tids[REGISTRY_MAX_CYCLE];
	int found[10];
	void *at[2];

	turner = thread_new(102);
	for (int i = 0; i < CONFIRM_IDLE; i++)
		thread_new(1000 + i);
	hold(me, 0x20, REG_MUTEX, HELD_OWNED);
	wait_on(me, 0x10, REG_MUTEX, 0);
	shim_held_push(turner, 0x10, REG_MUTEX, HELD_OWNED);
	at[0] = &reg->slots[2 + CONFIRM_IDLE / 4].tid;
	at[1] = &reg->slots[2 + 3 * CONFIRM_IDLE / 4].tid;
	ck_assert_uint_gt(page_of(at[0]), page_of(&turner[1]));
	ck_assert_uint_gt(page_of(at[1]), page_of(at[0]));
	traps_set(at, 2, turn);
	for (int i = 0; i < 10; i++)
		found[i] = cycle_of(me, tids);
	traps_clear();
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(found[i], 0);
	/* every call saw the other turn at least once */
	ck_assert_int_ge(trap.faults, 10 * 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("registry");
	TCase *tc_create = tcase_create("create");
	TCase *tc_slots = tcase_create("slots");
	TCase *tc_facts = tcase_create("facts");
	TCase *tc_forget = tcase_create("forget");
	TCase *tc_owners = tcase_create("owners");
	TCase *tc_cycles = tcase_create("cycles");
	TCase *all[] = { tc_create, tc_slots, tc_facts, tc_forget, tc_owners,
			 tc_cycles };
	SRunner *sr;
	int failed;

	tcase_add_test(tc_create, test_create_header);
	tcase_add_test(tc_create, test_create_private_after_fork);
	tcase_add_test(tc_slots, test_slot_take_release_of);
	tcase_add_test(tc_slots, test_slot_of_stops_at_high_water);
	tcase_add_test(tc_slots, test_slot_full);
	tcase_add_test(tc_slots, test_slot_concurrent_takes);
	tcase_add_test(tc_facts, test_fact_hash_formula);
	tcase_add_test(tc_facts, test_fact_set_or_clear);
	tcase_add_test(tc_facts, test_fact_reset_past_deleted);
	tcase_add_test(tc_facts, test_fact_clear_all_matches);
	tcase_add_test(tc_facts, test_fact_collisions_probe_limit);
	tcase_add_test(tc_forget, test_forget_every_slot);
	tcase_add_test(tc_forget, test_forget_own_slot_first);
	tcase_add_test(tc_forget, test_forget_orphans);
	tcase_add_test(tc_forget, test_forget_while_compacting);
	tcase_add_test(tc_forget, test_forget_during_compaction);
	tcase_add_test(tc_owners, test_owner);
	tcase_add_test(tc_owners, test_join_target);
	tcase_add_test(tc_owners, test_gil_holder);
	tcase_add_test(tc_cycles, test_cycle_mutexes);
	tcase_add_test(tc_cycles, test_cycle_semlock);
	tcase_add_test(tc_cycles, test_cycle_self_mutex);
	tcase_add_test(tc_cycles, test_cycle_broken_by_wait);
	tcase_add_test(tc_cycles, test_cycle_rwlock_writer_fanout);
	tcase_add_test(tc_cycles, test_cycle_rwlock_reader_behind_writer);
	tcase_add_test(tc_cycles, test_cycle_join);
	tcase_add_test(tc_cycles, test_cycle_gil);
	tcase_add_test(tc_cycles, test_cycle_not_through_caller);
	tcase_add_test(tc_cycles, test_cycle_long);
	tcase_add_test(tc_cycles, test_cycle_short_past_depth_limit);
	tcase_add_test(tc_cycles, test_cycle_confirm_walk);
	tcase_add_test(tc_cycles, test_cycle_confirm_walk_trapped);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], reg_setup, reg_teardown);
		suite_add_tcase(s, all[i]);
	}
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
