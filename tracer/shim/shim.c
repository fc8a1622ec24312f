/*
 * The interposers: pthread mutexes, rwlocks, condition variables,
 * semaphores (every Python Lock up to 3.13.0 is a sem_t initialised to 1)
 * and pthread_join, each mapped onto the calling thread's registry slot.
 *
 * Fast path (the acquire succeeds at once): the real try-variant, then a
 * push onto the thread's own slot: no shared write, no lock, no
 * allocation.  Slow path (it would block): publish the wait, walk the
 * owner edges for a cycle, then block in the real call.
 *
 * Nothing here may allocate or lock on the way through: malloc and the
 * dynamic loader take locks that could re-enter us.  Every interposer
 * leaves errno as the real call left it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/glibc_layout.h"
#include "include/pydeadlock.h"
#include "runtime/sched.h"
#include "tracer/python/py_reader.h"
#include "tracer/shim/shim.h"
#include "tracer/shim/shim_env.h"

#define TLS __thread __attribute__((tls_model("initial-exec")))
#define SITE() ((uint64_t)(uintptr_t)__builtin_return_address(0))
#define EXPORT __attribute__((visibility("default")))

struct registry *shim_registry;
static pthread_key_t slot_key;
static TLS struct registry_slot *my_slot;
static TLS bool my_untracked;	/* no slot was free: never look again */
static TLS int in_shim;		/* our own calls into libc pass through */
/* an absolute deadline long past: a timed call that only tries */
static const struct timespec expired = { 0, 0 };

bool shim_inside(void)
{
	return in_shim != 0;
}

/* The real functions, found with dlsym(RTLD_NEXT) at start-up. */
static int (*real_mutex_lock)(pthread_mutex_t *);
static int (*real_mutex_trylock)(pthread_mutex_t *);
static int (*real_mutex_timedlock)(pthread_mutex_t *, const struct timespec *);
static int (*real_mutex_clocklock)(pthread_mutex_t *, clockid_t,
				   const struct timespec *);
static int (*real_mutex_unlock)(pthread_mutex_t *);
static int (*real_mutex_init)(pthread_mutex_t *, const pthread_mutexattr_t *);
static int (*real_mutex_destroy)(pthread_mutex_t *);
static int (*real_cond_wait)(pthread_cond_t *, pthread_mutex_t *);
static int (*real_cond_timedwait)(pthread_cond_t *, pthread_mutex_t *,
				  const struct timespec *);
static int (*real_cond_clockwait)(pthread_cond_t *, pthread_mutex_t *,
				  clockid_t, const struct timespec *);
static int (*real_rwlock_rdlock)(pthread_rwlock_t *);
static int (*real_rwlock_wrlock)(pthread_rwlock_t *);
static int (*real_rwlock_tryrdlock)(pthread_rwlock_t *);
static int (*real_rwlock_trywrlock)(pthread_rwlock_t *);
static int (*real_rwlock_timedrdlock)(pthread_rwlock_t *, const struct timespec *);
static int (*real_rwlock_timedwrlock)(pthread_rwlock_t *, const struct timespec *);
static int (*real_rwlock_unlock)(pthread_rwlock_t *);
static int (*real_rwlock_destroy)(pthread_rwlock_t *);
static int (*real_rwlock_clockrdlock)(pthread_rwlock_t *, clockid_t,
				      const struct timespec *);
static int (*real_rwlock_clockwrlock)(pthread_rwlock_t *, clockid_t,
				      const struct timespec *);
static int (*real_clockjoin)(pthread_t, void **, clockid_t,
			     const struct timespec *);
static int (*real_sem_init)(sem_t *, int, unsigned int);
static int (*real_sem_destroy)(sem_t *);
static sem_t *(*real_sem_open)(const char *, int, ...);
static int (*real_sem_close)(sem_t *);
static int (*real_sem_wait)(sem_t *);
static int (*real_sem_trywait)(sem_t *);
static int (*real_sem_timedwait)(sem_t *, const struct timespec *);
static int (*real_sem_clockwait)(sem_t *, clockid_t, const struct timespec *);
static int (*real_sem_post)(sem_t *);
static int (*real_join)(pthread_t, void **);
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);
static void (*real_exit)(int);
static sighandler_t (*real_signal)(int, sighandler_t);

/*
 * glibc from 2.30 has the clock variants that slice a wait on the
 * monotonic clock; without them waits are not breakable.
 */
static bool slicing;

/* glibc's own aliases: what a lock call made during dlsym() can use */
extern int __pthread_mutex_lock(pthread_mutex_t *);
extern int __pthread_mutex_unlock(pthread_mutex_t *);
extern int __pthread_mutex_trylock(pthread_mutex_t *);

#define RESOLVE(var, name) (var = (__typeof__(var))dlsym(RTLD_NEXT, name))

static void release_slot(void *slot)
{
	shim_profile_thread_ends();
	registry_slot_release(slot);
	my_slot = NULL;
}

static void after_fork_child(void);

static _Atomic int resolved;

static void resolve_slow(void);

/* The real functions found, once: one load on every call after. */
static inline void resolve_all(void)
{
	if (__builtin_expect(!atomic_load_explicit(&resolved, memory_order_acquire), 0))
		resolve_slow();
}

static void resolve_slow(void)
{
	if (atomic_load(&resolved))
		return;
	in_shim++;
	RESOLVE(real_mutex_lock, "pthread_mutex_lock");
	RESOLVE(real_mutex_trylock, "pthread_mutex_trylock");
	RESOLVE(real_mutex_timedlock, "pthread_mutex_timedlock");
	RESOLVE(real_mutex_clocklock, "pthread_mutex_clocklock");
	RESOLVE(real_mutex_unlock, "pthread_mutex_unlock");
	RESOLVE(real_mutex_init, "pthread_mutex_init");
	RESOLVE(real_mutex_destroy, "pthread_mutex_destroy");
	RESOLVE(real_cond_wait, "pthread_cond_wait");
	RESOLVE(real_cond_timedwait, "pthread_cond_timedwait");
	RESOLVE(real_cond_clockwait, "pthread_cond_clockwait");
	RESOLVE(real_rwlock_rdlock, "pthread_rwlock_rdlock");
	RESOLVE(real_rwlock_wrlock, "pthread_rwlock_wrlock");
	RESOLVE(real_rwlock_tryrdlock, "pthread_rwlock_tryrdlock");
	RESOLVE(real_rwlock_trywrlock, "pthread_rwlock_trywrlock");
	RESOLVE(real_rwlock_timedrdlock, "pthread_rwlock_timedrdlock");
	RESOLVE(real_rwlock_timedwrlock, "pthread_rwlock_timedwrlock");
	RESOLVE(real_rwlock_unlock, "pthread_rwlock_unlock");
	RESOLVE(real_rwlock_destroy, "pthread_rwlock_destroy");
	RESOLVE(real_rwlock_clockrdlock, "pthread_rwlock_clockrdlock");
	RESOLVE(real_rwlock_clockwrlock, "pthread_rwlock_clockwrlock");
	RESOLVE(real_clockjoin, "pthread_clockjoin_np");
	RESOLVE(real_sem_init, "sem_init");
	RESOLVE(real_sem_destroy, "sem_destroy");
	RESOLVE(real_sem_open, "sem_open");
	RESOLVE(real_sem_close, "sem_close");
	RESOLVE(real_sem_wait, "sem_wait");
	RESOLVE(real_sem_trywait, "sem_trywait");
	RESOLVE(real_sem_timedwait, "sem_timedwait");
	RESOLVE(real_sem_clockwait, "sem_clockwait");
	RESOLVE(real_sem_post, "sem_post");
	RESOLVE(real_join, "pthread_join");
	RESOLVE(real_sigaction, "sigaction");
	RESOLVE(real_signal, "signal");
	RESOLVE(real_exit, "_exit");
	slicing = real_mutex_clocklock && real_cond_clockwait &&
		  real_rwlock_clockrdlock && real_rwlock_clockwrlock &&
		  real_clockjoin && real_sem_clockwait;
	in_shim--;
	atomic_store(&resolved, 1);
}

static void sem_layout_check(void);

__attribute__((constructor(101))) static void shim_init(void)
{
	shim_env_init();
	resolve_all();
	if (shim_env_get("PYDEADLOCK_DISABLE"))
		return;
	/* made first: a key below 32 costs pthread_setspecific no malloc */
	if (pthread_key_create(&slot_key, release_slot) != 0)
		return;
	shim_report_init();
	shim_python_init();
	sem_layout_check();
	pthread_atfork(NULL, NULL, after_fork_child);
	shim_registry = registry_create(getpid());
	if (!shim_registry) {
		shim_say_once(NOTE_NO_REGISTRY,
			      "cannot create its registry (memfd); running untracked");
		return;
	}
	atomic_store(&shim_registry->breakable, shim_report_breakable() && slicing);
	shim_registry->raise_main_only = !shim_python_can_fail(0);
	shim_registry->python = shim_python_present();
	shim_report_hello();
	shim_serial_init();
	shim_order_init();
	shim_profile_init();
}

/* What run asked each process to tell at its end (--lock-order, --profile). */
static void records_flush(void)
{
	shim_order_flush();
	shim_profile_flush();
}

__attribute__((destructor)) static void shim_fini(void)
{
	records_flush();
	shim_report_finish();
}

/* os._exit() (multiprocessing's children end so) skips the destructors */
EXPORT void _exit(int status)
{
	records_flush();
	if (real_exit)	/* found at start: no dlsym in a process ending */
		real_exit(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

/* Record in r what the parent's other threads held (in old, the fork's
 * copy): nobody in this child will release any of it. */
static void keep_orphans(struct registry *r, const struct registry *old,
			 const struct registry_slot *mine)
{
	uint32_t n = atomic_load(&old->high_water), k = 0;

	for (uint32_t i = 0; i < n && i < REGISTRY_MAX_THREADS; i++) {
		const struct registry_slot *s = &old->slots[i];
		uint32_t held = atomic_load(&s->n_held);

		if (s == mine || !atomic_load(&s->tid))
			continue;
		for (uint32_t j = 0; j < held && j < REGISTRY_MAX_HELD &&
				     k < REGISTRY_MAX_ORPHANS; j++) {
			const struct registry_held *h = &s->held[j];
			struct registry_orphan *o = &r->orphans[k];

			/* a shared object's holder may release it still */
			if (!atomic_load(&h->addr) || (h->flags & HELD_SHARED) ||
			    (registry_fact(old, atomic_load(&h->addr)) & FACT_SHARED))
				continue;
			o->addr = atomic_load(&h->addr);
			o->tid = atomic_load(&s->tid);
			o->kind = h->kind;
			o->flags = h->flags;
			o->site = h->site;
			o->py_code = h->py_code;
			o->py_lasti = h->py_lasti;
			k++;
		}
	}
	atomic_store(&r->n_orphans, k);
}

/*
 * The forking thread alone goes on in the child, holding what it held.
 * The registry is the fork's private copy of the parent's: a new one
 * takes its place, with this thread in it and what the others held as
 * orphans; the copy is let go.
 */
static void after_fork_child(void)
{
	struct registry *old = shim_registry;
	struct registry_slot *had = my_slot;
	struct registry_slot *s;

	my_slot = NULL;
	my_untracked = false;
	shim_profile_after_fork();
	if (!old) {
		sched_after_fork();
		return;
	}
	shim_registry = registry_create(getpid());
	if (shim_registry) {
		shim_registry->fork_parent = old->pid;
		shim_registry->gil = old->gil;
		atomic_store(&shim_registry->user_signals,
			     atomic_load(&old->user_signals));
		atomic_store(&shim_registry->harmless_signals,
			     atomic_load(&old->harmless_signals));
		atomic_store(&shim_registry->breakable,
			     atomic_load(&old->breakable));
		shim_registry->raise_main_only = old->raise_main_only;
		shim_registry->python = old->python;
		/* what is known of the objects is known in the child too:
		 * shared semaphores stay shared */
		for (uint32_t i = 0; i < REGISTRY_FACTS; i++)
			if (atomic_load(&old->facts[i].addr)) {
				atomic_store(&shim_registry->facts[i].flags,
					     atomic_load(&old->facts[i].flags));
				atomic_store(&shim_registry->facts[i].addr,
					     atomic_load(&old->facts[i].addr));
			}
		keep_orphans(shim_registry, old, had);
	}
	if (shim_registry && had &&
	    (s = registry_slot_take(shim_registry, syscall(SYS_gettid),
				    (uint64_t)pthread_self()))) {
		uint32_t n = atomic_load(&had->n_held);

		for (uint32_t i = 0; i < n && i < REGISTRY_MAX_HELD; i++) {
			s->held[i].site = had->held[i].site;
			s->held[i].py_code = had->held[i].py_code;
			s->held[i].py_lasti = had->held[i].py_lasti;
			s->held[i].kind = had->held[i].kind;
			s->held[i].flags = had->held[i].flags;
			atomic_store(&s->held[i].addr, atomic_load(&had->held[i].addr));
		}
		atomic_store(&s->n_held, n < REGISTRY_MAX_HELD ? n : REGISTRY_MAX_HELD);
		s->py_tstate = had->py_tstate;
		my_slot = s;
		pthread_setspecific(slot_key, s);
	}
	registry_destroy(old);
	if (shim_registry)
		shim_report_hello();
	sched_after_fork();
}

/*
 * This thread's slot, taken on first use; NULL: run untracked (inside
 * the shim's own calls, or no slot was free, which is not looked at
 * again: a full registry costs the other threads nothing).
 */
static inline struct registry_slot *slot(void)
{
	struct registry_slot *s = my_slot;
	int err;

	if (__builtin_expect(s != NULL && !in_shim, 1))
		return s;
	if (in_shim || my_untracked || !shim_registry)
		return NULL;
	in_shim++;
	err = errno;
	s = registry_slot_take(shim_registry, syscall(SYS_gettid),
			       (uint64_t)pthread_self());
	if (s) {
		my_slot = s;
		pthread_setspecific(slot_key, s);
	} else {
		my_untracked = true;
		shim_say_once(NOTE_FULL,
			      "more threads than its registry holds; the rest run untracked");
	}
	errno = err;
	in_shim--;
	return s;
}

/*
 * The Python position of a failed try on a semaphore-lock: CPython tries
 * with the GIL held, then blocks without it.  The blocking acquire of
 * the same lock takes this one.
 */
static TLS uint64_t tried_sem, tried_code;
static TLS int64_t tried_lasti;
static TLS bool tried_with;

/*
 * Where in Python entry h was acquired (a semaphore-lock), and whether by
 * a `with` statement: out of the mutex fast path, which it would
 * otherwise slow with its spills.
 */
static __attribute__((noinline)) void held_python_site(struct registry_held *h,
						      uint64_t obj)
{
	uint64_t py_code = 0;
	int64_t py_lasti = 0;
	bool by_with = false;

	if (!shim_python_site(&py_code, &py_lasti, &by_with) && tried_sem == obj) {
		py_code = tried_code;
		py_lasti = tried_lasti;
		by_with = tried_with;
	}
	h->py_code = py_code;
	h->py_lasti = py_lasti;
	if (by_with)
		h->flags |= HELD_WITH;
}

static bool is_gil(const void *c);

/* Record an acquisition (a recursive one is an entry of its own). */
static void held_push(struct registry_slot *s, const void *obj, uint32_t kind,
		      uint32_t flags, uint64_t site)
{
	uint64_t addr = (uint64_t)(uintptr_t)obj;
	struct registry_held *h;
	uint32_t n;

	/*
	 * No search for an earlier entry of a recursive mutex: a second entry
	 * costs nothing and held_pop takes the topmost; the fast path stays
	 * a few stores.
	 */
	/* a signal handler that locks while we update passes through */
	in_shim++;
	if (__builtin_expect(!(h = registry_held_claim(s, &n)), 0)) {
		in_shim--;
		return;
	}
	s->acquired++;		/* this thread's own count: progress */
	if (__builtin_expect(shim_profile, 0) && !is_gil(obj))
		shim_profile_acquired(addr);
	h->site = site;
	h->kind = kind;
	h->flags = flags;
	if (kind == REG_SEMLOCK)
		held_python_site(h, addr);
	else
		h->py_code = 0;
	registry_held_publish(s, h, addr, n);
	in_shim--;
}

/* Forget the topmost acquisition of obj; false when this thread did not
 * hold it. */
static bool held_pop(struct registry_slot *s, const void *obj)
{
	bool found;

	in_shim++;	/* a signal handler that locks now passes through */
	found = registry_held_drop(s, (uint64_t)(uintptr_t)obj);
	in_shim--;
	return found;
}

/* run --lock-order: the orders from what s holds to obj (shim_order.c). */
static inline void order_taken(struct registry_slot *s, const void *obj,
			       uint32_t kind, enum order_blocking blocking,
			       uint64_t site)
{
	if (__builtin_expect(shim_order, 0)) {
		in_shim++;
		shim_order_taken(s, obj, kind, blocking, site);
		in_shim--;
	}
}

/* Is the GIL's state where Python keeps it?  Then c is the GIL's. */
static bool is_gil(const void *c)
{
	uint64_t a = (uint64_t)(uintptr_t)c;
	struct registry_gil *g = &shim_registry->gil;

	if (!g->addr && !shim_python_gil(g))
		return false;
	return a >= g->addr && a < g->addr + g->size;
}

/*
 * A cycle through this thread's wait: one of owned waits alone is
 * reported (true when this thread is the victim).  Not while the
 * program handles signals: a handler may end any wait, and the
 * supervisor, which knows more, decides.  A cycle that only holders of
 * Locks close (any thread may release a Lock) is no proof: the
 * supervisor is asked to look now rather than at its next round; but not
 * for a thread waiting on a Lock it holds itself, which is how every
 * Condition.wait() waits (its waiter lock, released by the notifier):
 * the supervisor's regular rounds find the real ones.
 */
static bool cycle_check(struct registry_slot *s)
{
	pid_t tids[REGISTRY_MAX_CYCLE];
	bool victim = false;
	int n;

	in_shim++;
	n = registry_find_cycle(shim_registry, s, false, tids, REGISTRY_MAX_CYCLE);
	if (n && !(atomic_load(&shim_registry->user_signals) &
		   ~atomic_load(&shim_registry->harmless_signals)))
		victim = shim_deadlock(s, tids, n);
	else if (n || registry_find_cycle(shim_registry, s, true, tids,
					  REGISTRY_MAX_CYCLE) > 1)
		shim_report_nudge();
	in_shim--;
	return victim;
}

static TLS enum prof_state wait_prof;	/* the wait under way, for --profile */

/* What a wait of s is, for --profile (decided as it begins: a notify
 * makes the waiter lock's holder forget it before the wait ends). */
static enum prof_state wait_state(const struct registry_slot *s)
{
	uint32_t kind = atomic_load(&s->wait_kind), flags = atomic_load(&s->wait_flags);
	uint64_t addr = atomic_load(&s->wait_addr);
	uint32_t n = atomic_load(&s->n_held);

	switch (kind) {
	case REG_GIL:
		return PROF_GIL;
	case REG_COND:
		return PROF_COND;
	case REG_JOIN:
		return PROF_JOIN;
	case REG_SEMLOCK:
		switch (shim_python_wait_kind()) {
		case PY_WAIT_NOTIFY:
			return PROF_COND;
		case PY_WAIT_THREAD_END:
			return PROF_JOIN;
		default:
			break;
		}
		if (flags & REG_WAIT_PARKED)	/* 3.13.1+: on a Lock's PyMutex */
			return PROF_LOCK;
		if (flags & (REG_WAIT_COUNTING | REG_WAIT_SIGNAL))
			return PROF_COND;
		/* waiting for a Lock it holds: a Condition's waiter lock */
		for (uint32_t i = 0; i < n && i < REGISTRY_MAX_HELD; i++)
			if (atomic_load(&s->held[i].addr) == addr)
				return PROF_COND;
		return PROF_LOCK;
	default:
		return is_gil((const void *)(uintptr_t)addr) ? PROF_GIL : PROF_LOCK;
	}
}

/*
 * About to block on obj: publish the wait (sequentially consistent, so of
 * two threads closing a cycle together at least one sees the other), then
 * look for a cycle through this thread.  Returns true when this thread
 * was chosen as the victim: its wait must fail.
 */
static bool wait_begin(struct registry_slot *s, const void *obj, uint32_t kind,
		       uint32_t flags, pid_t joined, uint64_t site)
{
	struct timespec now;
	bool victim = false;
	int err = errno;

	atomic_store(&s->break_pending, 0);	/* meant for an earlier wait */
	s->py_tstate = shim_python_tstate();	/* states come and go (ctypes) */
	clock_gettime(CLOCK_MONOTONIC, &now);
	s->wait_since_ns = (uint64_t)now.tv_sec * 1000000000u + now.tv_nsec;
	s->wait_site = site;
	atomic_store(&s->wait_kind, kind);
	atomic_store(&s->wait_flags, flags);
	atomic_store(&s->wait_tid, joined);
	atomic_store(&s->wait_addr, (uint64_t)(uintptr_t)obj);
	atomic_fetch_add(&s->gen, 1);
	if (__builtin_expect(shim_profile, 0)) {
		in_shim++;
		wait_prof = wait_state(s);
		shim_profile_wait_begins((uint64_t)(uintptr_t)obj, kind);
		in_shim--;
	}
	if (!(flags & REG_WAIT_TIMED))
		victim = cycle_check(s);
	/* a Lock whose holder nobody sees (3.13.1+): if everyone else waits
	 * too, the supervisor's look may prove it now, not at its round */
	if ((flags & REG_WAIT_PARKED) && !(flags & REG_WAIT_TIMED) &&
	    registry_all_waiting(shim_registry, s))
		shim_report_nudge();
	errno = err;
	return victim;
}

#define SLICE_DOUBLING 16	/* slices of one length before the next doubles;
				 * a blocked wait looks for a cycle again then */
#define SLICE_MAX_SHIFT 6	/* up to 64 x BREAK_POLL_NS (128 ms) */

/* How long slice number n of a breakable wait is: 2 ms at first, longer
 * the longer it waits (thousands of waiting threads must not wake 500
 * times a second each). */
static long slice_ns(unsigned n)
{
	unsigned shift = n / SLICE_DOUBLING;

	return (long)BREAK_POLL_NS << (shift < SLICE_MAX_SHIFT ? shift : SLICE_MAX_SHIFT);
}

/*
 * Between two slices of a breakable wait: must this wait fail?  Yes when
 * chosen as a victim; and every SLICE_DOUBLING slices (32 ms, then 64,
 * ... 2 s apart) the thread looks for a cycle again, for one that closed
 * while another was being reported, or whose confirmation failed at the
 * moment (a handover in progress).
 */
static bool slice_must_fail(struct registry_slot *s, unsigned *slices)
{
	if (shim_broken(s))
		return true;
	if (++*slices % SLICE_DOUBLING)
		return false;
	return cycle_check(s) || shim_broken(s);
}

/* The victim's wait fails with EDEADLK, now: count it as taken. */
static int victim_fails(struct registry_slot *s)
{
	atomic_fetch_add(&s->breaks_taken, 1);
	return EDEADLK;
}

void shim_break_delivered(void)
{
	if (my_slot)
		atomic_fetch_add(&my_slot->breaks_taken, 1);
}

/* Under break and report, untimed waits wait in slices that can be broken */
static inline bool breakable(void)
{
	return atomic_load_explicit(&shim_registry->breakable,
				    memory_order_relaxed);
}

/* CLOCK_MONOTONIC, the end of slice number n from now */
static struct timespec poll_deadline(unsigned n)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_nsec += slice_ns(n);
	while (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

static void wait_end(struct registry_slot *s)
{
	if (__builtin_expect(shim_profile, 0)) {
		in_shim++;
		shim_profile_wait_ends(s, wait_prof, atomic_load(&s->wait_addr),
				       s->wait_since_ns, s->wait_site);
		in_shim--;
	}
	atomic_store(&s->break_pending, 0);	/* too late: the wait is over */
	atomic_store(&s->wait_addr, 0);
	atomic_fetch_add(&s->gen, 1);
	/* a thread of the reported deadlock moved: the next one is news */
	if (__builtin_expect(atomic_load_explicit(&s->in_report,
						  memory_order_relaxed), 0)) {
		atomic_store(&s->in_report, 0);
		atomic_store(&shim_registry->reporting, 0);
	}
}

/* ---- serial mode: blocking through the scheduler ---- */

/* Is this call a point of the serial schedule (run --serial)? */
static inline bool serial(void)
{
	if (__builtin_expect(!shim_serial, 1) || in_shim || !sched_mine())
		return false;
	sched_settle();
	return true;
}

/* Block in the scheduler, the slot's wait marked as one there (readers
 * outside see the thread asleep on the scheduler's word, not on obj). */
static int serial_block(enum trace_event ev, const void *obj, int64_t timeout,
			bool gil)
{
	if (my_slot)
		atomic_fetch_or(&my_slot->wait_flags, REG_WAIT_SERIAL);
	return sched_block(ev, obj, timeout, gil);
}

/*
 * A point of the schedule where the turn may pass, after a lock call that
 * did not block.  Not at the GIL's own mutex and conditions: a thread
 * switch there changes nothing the program sees (who runs Python is
 * decided where a GIL wait is ended), and it would multiply the steps
 * over which exploration spreads its choices.
 */
static void serial_point(const void *obj, enum trace_event ev)
{
	int err = errno;

	if (!is_gil(obj))
		sched_point(ev);
	errno = err;
}

bool shim_is_gil(const void *obj)
{
	return shim_registry && is_gil(obj);
}

/* A lock's release, under the schedule: its waiters may run. */
static void serial_released(const void *obj, enum trace_event ev)
{
	int err = errno;

	sched_wake(obj, true);
	serial_point(obj, ev);
	errno = err;
}

/*
 * A mutex taken under the schedule: tried with the turn, else the turn
 * passes until a release wakes this thread (or, with abs, virtual time
 * passes it: ETIMEDOUT).  Never blocks in the kernel.
 */
static int serial_mutex_lock(struct registry_slot *s, pthread_mutex_t *m,
			     clockid_t clock, const struct timespec *abs)
{
	for (;;) {
		int rc = real_mutex_trylock(m);

		if (rc != EBUSY)
			return rc;
		if (serial_block(TE_LOCK, m, shim_serial_remaining(clock, abs),
				false) == ETIMEDOUT) {
			rc = real_mutex_trylock(m);
			return rc == EBUSY ? ETIMEDOUT : rc;
		}
		if (s && shim_broken(s))	/* chosen as a deadlock's victim */
			return victim_fails(s);
	}
}


/* ---- pthread mutexes ---- */

/* The flags of a wait on (or hold of) mutex m. */
static uint32_t mutex_shared(const pthread_mutex_t *m)
{
	int kind;

	memcpy(&kind, (const char *)m + GLIBC_MUTEX_KIND_OFFSET, sizeof(kind));
	return kind & GLIBC_MUTEX_PSHARED ? REG_WAIT_SHARED : 0;
}

static inline bool mutex_got(int rc)
{
	return rc == 0 || rc == EOWNERDEAD;
}

/* A held mutex: its owner's alone; a process-shared one may also be
 * released in another process (one load of its kind word). */
static inline void mutex_push(struct registry_slot *s, pthread_mutex_t *m,
			      uint64_t site, bool blocking)
{
	order_taken(s, m, REG_MUTEX,
		    blocking && !mutex_shared(m) ? ORDER_BLOCKS : ORDER_TRY, site);
	held_push(s, m, REG_MUTEX,
		  HELD_OWNED | (mutex_shared(m) ? HELD_SHARED : 0), site);
}

/* The untimed blocking part of pthread_mutex_lock, breakable when asked. */
static int mutex_block(struct registry_slot *s, pthread_mutex_t *m)
{
	unsigned slices = 0;
	int rc;

	if (serial())
		return mutex_shared(m) ? SERIAL_OUTSIDE(real_mutex_lock(m))
				       : serial_mutex_lock(s, m, CLOCK_MONOTONIC, NULL);
	if (!breakable())
		return real_mutex_lock(m);
	do {
		struct timespec until = poll_deadline(slices);

		if (slice_must_fail(s, &slices))
			return victim_fails(s);
		rc = real_mutex_clocklock(m, CLOCK_MONOTONIC, &until);
		if (rc == EINVAL)	/* a PI mutex on an old kernel: unbreakable */
			rc = real_mutex_lock(m);
	} while (rc == ETIMEDOUT);	/* the real lock never times out */
	return rc;
}

EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
	struct registry_slot *s;
	uint64_t site = SITE();
	int rc;

	if (__builtin_expect(!real_mutex_lock, 0)) {
		if (in_shim)	/* called from within dlsym() */
			return __pthread_mutex_lock(m);
		resolve_all();
	}
	s = slot();
	if (!s)
		return real_mutex_lock(m);
	rc = real_mutex_trylock(m);		/* the whole cost when free */
	if (mutex_got(rc)) {
		mutex_push(s, m, site, true);
		if (serial())
			serial_point(m, TE_LOCK);
		return rc;
	}
	/* glibc answers first: EDEADLK (an error-checking relock), EINVAL */
	rc = real_mutex_timedlock(m, &expired);
	if (rc != ETIMEDOUT && rc != EINVAL) {
		if (mutex_got(rc))
			mutex_push(s, m, site, true);
		return rc;
	}
	if (wait_begin(s, m, REG_MUTEX, mutex_shared(m), 0, site)) {
		wait_end(s);
		return victim_fails(s);	/* the lock stays its holder's */
	}
	rc = mutex_block(s, m);
	wait_end(s);
	if (mutex_got(rc))
		mutex_push(s, m, site, true);
	return rc;
}

EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
	struct registry_slot *s;
	int rc;

	if (__builtin_expect(!real_mutex_trylock, 0)) {
		if (in_shim)
			return __pthread_mutex_trylock(m);
		resolve_all();
	}
	rc = real_mutex_trylock(m);
	if (mutex_got(rc) && (s = slot()))
		mutex_push(s, m, SITE(), false);
	if (serial())
		serial_point(m, TE_LOCK);
	return rc;
}

/* timedlock and clocklock: try, else a timed wait (never a deadlock) */
static int mutex_timed(pthread_mutex_t *m, clockid_t clock,
		       const struct timespec *t, bool with_clock, uint64_t site)
{
	struct registry_slot *s = slot();
	int rc;

	if (with_clock && !real_mutex_clocklock)
		return ENOSYS;
	if (s) {
		rc = real_mutex_trylock(m);
		if (mutex_got(rc)) {
			mutex_push(s, m, site, false);
			return rc;
		}
		(void)wait_begin(s, m, REG_MUTEX, REG_WAIT_TIMED | mutex_shared(m),
				 0, site);
	}
	if (serial() && !mutex_shared(m))
		rc = serial_mutex_lock(NULL, m, with_clock ? clock : CLOCK_REALTIME, t);
	else if (serial())
		rc = SERIAL_OUTSIDE(with_clock ? real_mutex_clocklock(m, clock, t)
					       : real_mutex_timedlock(m, t));
	else
		rc = with_clock ? real_mutex_clocklock(m, clock, t)
				: real_mutex_timedlock(m, t);
	if (s) {
		wait_end(s);
		if (mutex_got(rc))
			mutex_push(s, m, site, false);
	}
	return rc;
}

EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *t)
{
	resolve_all();
	return mutex_timed(m, CLOCK_REALTIME, t, false, SITE());
}

EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t c,
				   const struct timespec *t)
{
	resolve_all();
	return mutex_timed(m, c, t, true, SITE());
}

EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
	struct registry_slot *s = my_slot;

	if (__builtin_expect(!real_mutex_unlock, 0)) {
		if (in_shim)
			return __pthread_mutex_unlock(m);
		resolve_all();
	}
	int rc;

	if (s && !in_shim)
		held_pop(s, m);
	rc = real_mutex_unlock(m);
	if (serial())
		serial_released(m, TE_UNLOCK);
	return rc;
}

EXPORT int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
	uint64_t site = SITE();
	int rc;

	resolve_all();
	if (shim_registry)
		registry_forget(shim_registry, slot(), (uint64_t)(uintptr_t)m);
	rc = real_mutex_init(m, a);
	if (rc == 0 && shim_order_tables() && !in_shim) {
		in_shim++;
		shim_order_made(m, site, false);
		in_shim--;
	}
	return rc;
}

EXPORT int pthread_mutex_destroy(pthread_mutex_t *m)
{
	int rc;

	resolve_all();
	rc = real_mutex_destroy(m);
	if (rc == 0 && shim_registry)
		registry_forget(shim_registry, slot(), (uint64_t)(uintptr_t)m);
	if (rc == 0)
		shim_order_gone(m);
	return rc;
}

/* ---- condition variables: the mutex is not held while waiting ---- */

static uint32_t cond_shared(const pthread_cond_t *c)
{
	unsigned int wrefs;

	memcpy(&wrefs, (const char *)c + GLIBC_COND_WREFS_OFFSET, sizeof(wrefs));
	return wrefs & GLIBC_COND_PSHARED ? REG_WAIT_SHARED : 0;
}

/* Does this glibc keep a condition's clock where we read it?  Checked at
 * start on a condition of our own (else every clock is CLOCK_REALTIME,
 * as pthread_cond_timedwait's default). */
static bool cond_clock_known;

void shim_serial_layout_check(void)
{
	pthread_condattr_t a;
	pthread_cond_t c;
	unsigned wrefs;

	if (pthread_condattr_init(&a) || pthread_condattr_setclock(&a, CLOCK_MONOTONIC) ||
	    pthread_cond_init(&c, &a))
		return;
	memcpy(&wrefs, (const char *)&c + GLIBC_COND_WREFS_OFFSET, sizeof(wrefs));
	cond_clock_known = (wrefs & GLIBC_COND_MONOTONIC) != 0;
	pthread_cond_destroy(&c);
	pthread_condattr_destroy(&a);
}

/*
 * A condition wait under the schedule: the mutex released (its waiters
 * may run), the turn passed until a notify (or the timeout, in virtual
 * time; a GIL wait's timeout is the scheduler's to end), the mutex taken
 * again.  0 or ETIMEDOUT, as the real wait.
 */
static int serial_cond_wait(pthread_cond_t *c, pthread_mutex_t *m, int mode,
			    clockid_t clock, const struct timespec *t, bool gil)
{
	unsigned wrefs;
	int64_t timeout = -1;
	int rc;

	if (mode == 1) {	/* the condition's own clock */
		memcpy(&wrefs, (const char *)c + GLIBC_COND_WREFS_OFFSET, sizeof(wrefs));
		clock = cond_clock_known && (wrefs & GLIBC_COND_MONOTONIC)
			? CLOCK_MONOTONIC : CLOCK_REALTIME;
	}
	if (mode)
		timeout = shim_serial_remaining(clock, t);
	real_mutex_unlock(m);
	sched_wake(m, true);
	rc = serial_block(gil ? TE_GIL : TE_WAIT, c, timeout, gil);
	(void)serial_mutex_lock(NULL, m, CLOCK_MONOTONIC, NULL);
	return rc == EINTR ? 0 : rc;	/* a condition wait is never interrupted:
					 * a spurious wake-up */
}

/* The mutex is held again after these returns of a condition wait. */
static inline bool cond_relocked(int rc)
{
	return rc == 0 || rc == ETIMEDOUT || rc == EOWNERDEAD || rc == EDEADLK;
}

/*
 * Every condition wait: the mutex is given up while waiting.  A wait on
 * the GIL's own condition is a wait for the GIL: its holder alone hands
 * it on, whatever the 5 ms timeout CPython loops on.  Condition waits
 * are never failed: callers (CPython's among them) treat an error there
 * as fatal.
 */
static int cond_wait(pthread_cond_t *c, pthread_mutex_t *m, bool timed,
		     clockid_t clock, const struct timespec *t, int mode,
		     uint64_t site)
{
	struct registry_slot *s = slot();
	uint32_t kind = REG_COND, flags = timed ? REG_WAIT_TIMED : 0;
	const void *obj = c;
	int rc;

	if (s) {
		if (is_gil(c)) {
			kind = REG_GIL;
			obj = (const void *)(uintptr_t)shim_registry->gil.addr;
			flags = 0;
		}
		flags |= cond_shared(c);
		held_pop(s, m);
		(void)wait_begin(s, obj, kind, flags, 0, site);
	}
	if (serial() && !cond_shared(c)) {
		/* the GIL's timed wait is the one its switch interval ends
		 * (its switch_cond, waited on untimed, is not) */
		rc = serial_cond_wait(c, m, mode, clock, t, kind == REG_GIL && mode);
	} else if (serial()) {
		sched_outside_begin(TE_WAIT);
		rc = mode == 0 ? real_cond_wait(c, m)
		     : mode == 1 ? real_cond_timedwait(c, m, t)
		     : real_cond_clockwait ? real_cond_clockwait(c, m, clock, t) : ENOSYS;
		sched_outside_end();
	} else if (mode == 0)
		rc = real_cond_wait(c, m);
	else if (mode == 1)
		rc = real_cond_timedwait(c, m, t);
	else
		rc = real_cond_clockwait ? real_cond_clockwait(c, m, clock, t) : ENOSYS;
	if (s) {
		wait_end(s);
		if (cond_relocked(rc))
			held_push(s, m, REG_MUTEX, HELD_OWNED, site);
	}
	return rc;
}

EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	resolve_all();
	return cond_wait(c, m, false, 0, NULL, 0, SITE());
}

EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
				  const struct timespec *t)
{
	resolve_all();
	return cond_wait(c, m, true, 0, t, 1, SITE());
}

EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m,
				  clockid_t clock, const struct timespec *t)
{
	resolve_all();
	return cond_wait(c, m, true, clock, t, 2, SITE());
}

/* ---- rwlocks: readers and the writer all hold ---- */

static uint32_t rwlock_shared(const pthread_rwlock_t *l)
{
	unsigned int shared;

	memcpy(&shared, (const char *)l + GLIBC_RWLOCK_SHARED_OFFSET,
	       sizeof(shared));
	return shared ? REG_WAIT_SHARED : 0;
}

/* rdlock and wrlock: try; glibc answers first (EDEADLK); then block. */
static int rwlock_lock(pthread_rwlock_t *l, bool write, uint64_t site)
{
	struct registry_slot *s = slot();
	uint32_t flags = (write ? 0 : REG_WAIT_READ) | rwlock_shared(l);
	uint32_t hflags = write ? HELD_OWNED : HELD_READ;
	unsigned slices = 0;
	bool waited;
	int rc;

	if (!s)
		return write ? real_rwlock_wrlock(l) : real_rwlock_rdlock(l);
	rc = write ? real_rwlock_trywrlock(l) : real_rwlock_tryrdlock(l);
	if (rc == EBUSY) {
		rc = write ? real_rwlock_timedwrlock(l, &expired)
			   : real_rwlock_timedrdlock(l, &expired);
		if (rc == ETIMEDOUT)
			rc = EBUSY;
	}
	waited = rc == EBUSY;
	if (waited && wait_begin(s, l, REG_RWLOCK, flags, 0, site)) {
		rc = victim_fails(s);
	} else if (rc == EBUSY && serial() && !rwlock_shared(l)) {
		while ((rc = write ? real_rwlock_trywrlock(l)
				   : real_rwlock_tryrdlock(l)) == EBUSY) {
			(void)serial_block(TE_LOCK, l, -1, false);
			if (shim_broken(s)) {
				rc = victim_fails(s);
				break;
			}
		}
	} else if (rc == EBUSY && serial()) {
		rc = SERIAL_OUTSIDE(write ? real_rwlock_wrlock(l) : real_rwlock_rdlock(l));
	} else if (rc == EBUSY && !breakable()) {
		rc = write ? real_rwlock_wrlock(l) : real_rwlock_rdlock(l);
	} else if (rc == EBUSY) {
		do {
			struct timespec until = poll_deadline(slices);

			if (slice_must_fail(s, &slices)) {
				rc = victim_fails(s);
				break;
			}
			rc = write ? real_rwlock_clockwrlock(l, CLOCK_MONOTONIC, &until)
				   : real_rwlock_clockrdlock(l, CLOCK_MONOTONIC, &until);
		} while (rc == ETIMEDOUT);
	}
	if (waited)
		wait_end(s);
	if (rc == 0) {
		order_taken(s, l, REG_RWLOCK,
			    write && !rwlock_shared(l) ? ORDER_BLOCKS : ORDER_TRY, site);
		held_push(s, l, REG_RWLOCK, hflags, site);
	}
	return rc;
}

EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	resolve_all();
	return rwlock_lock(l, false, SITE());
}

EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	resolve_all();
	return rwlock_lock(l, true, SITE());
}

EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
	struct registry_slot *s;
	int rc;

	resolve_all();
	rc = real_rwlock_tryrdlock(l);
	if (rc == 0 && (s = slot()))
		held_push(s, l, REG_RWLOCK, HELD_READ, SITE());
	return rc;
}

EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
	struct registry_slot *s;
	int rc;

	resolve_all();
	rc = real_rwlock_trywrlock(l);
	if (rc == 0 && (s = slot()))
		held_push(s, l, REG_RWLOCK, HELD_OWNED, SITE());
	return rc;
}

EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	struct registry_slot *s = my_slot;

	resolve_all();
	int rc;

	if (s && !in_shim)
		held_pop(s, l);
	rc = real_rwlock_unlock(l);
	if (serial())
		serial_released(l, TE_UNLOCK);
	return rc;
}

EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *l)
{
	int rc;

	resolve_all();
	rc = real_rwlock_destroy(l);
	if (rc == 0 && shim_registry)
		registry_forget(shim_registry, slot(), (uint64_t)(uintptr_t)l);
	return rc;
}

/* ---- semaphores: a semaphore of initial value 1 is a lock ---- */

/* Forget what was known of the object at addr: it is new, or gone. */
static void sem_forget(sem_t *sem)
{
	uint64_t addr = (uint64_t)(uintptr_t)sem;

	registry_forget(shim_registry, slot(), addr);
	registry_fact_clear(shim_registry, addr);
}

static void sem_fact(sem_t *sem, uint32_t flags)
{
	if (flags && registry_fact_set(shim_registry, (uint64_t)(uintptr_t)sem,
				       flags) < 0)
		shim_say_once(NOTE_FACTS,
			      "too many counting or shared semaphores to tell them from locks; some may be taken for locks");
}

EXPORT int sem_init(sem_t *sem, int pshared, unsigned int value)
{
	uint64_t site = SITE();
	int rc;

	resolve_all();
	rc = real_sem_init(sem, pshared, value);
	if (rc == 0 && shim_registry) {
		int err = errno;

		sem_forget(sem);
		/* counting, or shared with other processes: no owner here */
		sem_fact(sem, (value != 1 ? FACT_COUNTING : 0) |
			      (pshared ? FACT_SHARED : 0));
		if (shim_order_tables() && !in_shim) {
			in_shim++;
			if (value == 1 && !pshared)
				shim_order_made(sem, site, true);
			else
				shim_order_gone(sem);
			in_shim--;
		}
		errno = err;
	}
	return rc;
}

EXPORT int sem_destroy(sem_t *sem)
{
	resolve_all();
	if (shim_registry) {
		int err = errno;

		sem_forget(sem);
		shim_order_gone(sem);
		errno = err;
	}
	return real_sem_destroy(sem);
}

/*
 * A named semaphore (multiprocessing's locks and semaphores): shared
 * with whichever processes open it, so no thread here owns it alone.
 */
EXPORT sem_t *sem_open(const char *name, int oflag, ...)
{
	unsigned int value = 0;
	mode_t mode = 0;
	sem_t *sem;

	resolve_all();
	if (oflag & O_CREAT) {
		va_list ap;

		va_start(ap, oflag);
		mode = va_arg(ap, mode_t);
		value = va_arg(ap, unsigned int);
		va_end(ap);
	}
	sem = real_sem_open(name, oflag, mode, value);
	if (sem != SEM_FAILED && shim_registry) {
		int err = errno;

		sem_forget(sem);
		sem_fact(sem, FACT_SHARED | FACT_COUNTING);
		errno = err;
	}
	return sem;
}

EXPORT int sem_close(sem_t *sem)
{
	resolve_all();
	if (shim_registry) {
		int err = errno;

		sem_forget(sem);
		errno = err;
	}
	return real_sem_close(sem);
}

EXPORT int sem_trywait(sem_t *sem)
{
	struct registry_slot *s;
	int rc, err;

	resolve_all();
	s = slot();
	if (s)
		order_taken(s, sem, REG_SEMLOCK, ORDER_TRY, 0);	/* its holder's? */
	rc = real_sem_trywait(sem);
	if (!s)
		return rc;
	if (rc == 0) {
		order_taken(s, sem, REG_SEMLOCK, ORDER_PYTHON, SITE());
		held_push(s, sem, REG_SEMLOCK, 0, SITE());	/* errno untouched */
		if (serial())
			sched_point(TE_SEM);
		return 0;
	}
	err = errno;
	tried_with = false;
	tried_sem = shim_python_site(&tried_code, &tried_lasti, &tried_with)
		    ? (uint64_t)(uintptr_t)sem : 0;
	errno = err;
	return rc;
}

/* How a victim's semaphore wait can fail. */
enum sem_failure {
	SEM_FAIL_C,		/* EDEADLK: a C program's semaphore */
	SEM_FAIL_PYTHON,	/* EINTR, then DeadlockError in Python */
	SEM_FAIL_NEVER,		/* keeps waiting: failing would do harm */
};

/*
 * A Python lock's wait (CPython tried the semaphore first, with the GIL;
 * or 3.13.1+ parked on a Lock, a join, a queue) fails with EINTR and
 * DeadlockError raised when CPython runs its pending calls, where this
 * thread can be made to raise.  In a Python process any other semaphore
 * wait keeps waiting: it may be the interpreter's own (a parking-lot
 * bucket's mutex, or any wait of a static interpreter whose calls we do
 * not see), and CPython treats an error there as fatal.  Elsewhere C
 * sees EDEADLK.
 */
static enum sem_failure sem_failure(const sem_t *sem)
{
	if (tried_sem == (uint64_t)(uintptr_t)sem || shim_python_parked(sem))
		return shim_python_can_fail(syscall(SYS_gettid)) ?
		       SEM_FAIL_PYTHON : SEM_FAIL_NEVER;
	return shim_python_present() ? SEM_FAIL_NEVER : SEM_FAIL_C;
}

/* The victim's semaphore wait fails, as sem_failure() said it can. */
static int sem_wait_fails(struct registry_slot *s, enum sem_failure how,
			  const sem_t *sem)
{
	if (how == SEM_FAIL_PYTHON) {
		(void)shim_python_fail_wait(s->break_why, sem);	/* taken on raise */
		errno = EINTR;
	} else {
		errno = victim_fails(s);
	}
	return -1;
}

static void sem_cannot_fail(void)
{
	shim_say_once(NOTE_STATIC_VICTIM,
		      "cannot fail this wait of the interpreter (a static build's other thread, or its own semaphore); it keeps waiting");
}

/* An untimed semaphore wait, in breakable slices when breaking is on */
static int sem_block(struct registry_slot *s, sem_t *sem)
{
	unsigned slices = 0;

	if (!breakable())
		return real_sem_wait(sem);
	for (;;) {
		struct timespec until = poll_deadline(slices);
		int rc;

		/*
		 * A Python lock whose wait cannot be made to raise (a static
		 * interpreter's other threads) keeps waiting: failing it with
		 * an error would let `with lock:` run without the lock.
		 */
		if (slice_must_fail(s, &slices)) {
			enum sem_failure how = sem_failure(sem);

			if (how != SEM_FAIL_NEVER)
				return sem_wait_fails(s, how, sem);
			sem_cannot_fail();
		}
		rc = real_sem_clockwait(sem, CLOCK_MONOTONIC, &until);
		if (rc == 0 || errno != ETIMEDOUT)
			return rc;
	}
}

/* glibc's semaphores say whether they are process-shared: checked at
 * start (sem_layout_check), true when this glibc's do */
static bool sem_layout_known;

static int sem_private_word(sem_t *sem)
{
	int word;

	memcpy(&word, (const char *)sem + GLIBC_SEM_PRIVATE_OFFSET, sizeof(word));
	return word;
}

static void sem_layout_check(void)
{
	sem_t mine, shared;

	if (real_sem_init(&mine, 0, 0) || real_sem_init(&shared, 1, 0))
		return;
	sem_layout_known = sem_private_word(&mine) == 0 &&
			   sem_private_word(&shared) == GLIBC_SEM_SHARED;
	real_sem_destroy(&mine);
	real_sem_destroy(&shared);
}

/*
 * The wait flags of a semaphore, from what is known of it: readers
 * outside see them in the slot (they do not read the facts).  A
 * semaphore that is process-shared by its own word is, whoever made it
 * (a sem_open before the shim's registry existed, one of a parent's).
 */
static uint32_t sem_flags(sem_t *sem)
{
	uint32_t f = registry_fact(shim_registry, (uint64_t)(uintptr_t)sem);

	if (!(f & FACT_SHARED) && sem_layout_known &&
	    sem_private_word(sem) == GLIBC_SEM_SHARED) {
		f |= FACT_SHARED | FACT_COUNTING;
		sem_fact(sem, f);	/* for the readers of its holds too */
	}
	return (f & FACT_SHARED ? REG_WAIT_SHARED : 0) |
	       (f & FACT_COUNTING ? REG_WAIT_COUNTING : 0) |
	       (f & FACT_SIGNAL ? REG_WAIT_SIGNAL : 0);
}

/* A semaphore wait under the schedule (a shared one: outside). */
static int serial_sem_wait(struct registry_slot *s, sem_t *sem, int mode,
			   clockid_t clock, const struct timespec *t, bool shared)
{
	if (shared)
		return SERIAL_OUTSIDE(mode == 0 ? real_sem_wait(sem)
				      : mode == 1 ? real_sem_timedwait(sem, t)
				      : real_sem_clockwait(sem, clock, t));
	for (;;) {
		int rc;

		if (real_sem_trywait(sem) == 0)
			return 0;
		rc = serial_block(TE_SEM, sem,
				  mode ? shim_serial_remaining(mode == 1 ? CLOCK_REALTIME
									: clock, t)
				       : -1, false);
		if (rc == ETIMEDOUT || rc == EINTR) {	/* as sem_wait would */
			if (real_sem_trywait(sem) == 0)
				return 0;
			errno = rc;
			return -1;
		}
		if (shim_broken(s)) {	/* chosen as a deadlock's victim */
			enum sem_failure how = sem_failure(sem);

			if (how != SEM_FAIL_NEVER)
				return sem_wait_fails(s, how, sem);
			sem_cannot_fail();
		}
	}
}

/* sem_wait, sem_timedwait (mode 1) and sem_clockwait (mode 2). */
static int sem_wait_any(sem_t *sem, int mode, clockid_t clock,
			const struct timespec *t, uint64_t site)
{
	struct registry_slot *s = slot();
	uint32_t flags = 0;
	int rc, err;

	if (s)
		order_taken(s, sem, REG_SEMLOCK, ORDER_TRY, 0);	/* its holder's? */
	if (s && real_sem_trywait(sem) == 0) {
		order_taken(s, sem, REG_SEMLOCK, mode == 0 ? ORDER_BLOCKS : ORDER_TRY,
			    site);
		held_push(s, sem, REG_SEMLOCK, 0, site);
		if (serial())
			sched_point(TE_SEM);
		return 0;
	}
	shim_python_wait_begins(sem);
	if (s) {
		enum sem_failure how = sem_failure(sem);

		flags = (mode ? REG_WAIT_TIMED : 0) | sem_flags(sem) |
			(how == SEM_FAIL_NEVER ? REG_WAIT_FIRM : 0) |
			(shim_python_parked_mutex(sem) ? REG_WAIT_PARKED : 0);
		if (wait_begin(s, sem, REG_SEMLOCK, flags, 0, site)) {
			wait_end(s);
			if (how != SEM_FAIL_NEVER)
				return sem_wait_fails(s, how, sem);
			sem_cannot_fail();
		}
	}
	if (s && serial())
		rc = serial_sem_wait(s, sem, mode, clock, t, flags & REG_WAIT_SHARED);
	else if (mode == 0)
		rc = s ? sem_block(s, sem) : real_sem_wait(sem);
	else if (mode == 1)
		rc = real_sem_timedwait(sem, t);
	else if (real_sem_clockwait)
		rc = real_sem_clockwait(sem, clock, t);
	else
		rc = (errno = ENOSYS, -1);
	if (!s)
		return rc;
	err = errno;
	wait_end(s);
	if (rc == 0) {
		order_taken(s, sem, REG_SEMLOCK, mode == 0 ? ORDER_BLOCKS : ORDER_TRY,
			    site);
		held_push(s, sem, REG_SEMLOCK, 0, site);
	}
	errno = err;
	return rc;
}

EXPORT int sem_wait(sem_t *sem)
{
	resolve_all();
	return sem_wait_any(sem, 0, 0, NULL, SITE());
}

EXPORT int sem_timedwait(sem_t *sem, const struct timespec *t)
{
	resolve_all();
	return sem_wait_any(sem, 1, CLOCK_REALTIME, t, SITE());
}

EXPORT int sem_clockwait(sem_t *sem, clockid_t c, const struct timespec *t)
{
	resolve_all();
	return sem_wait_any(sem, 2, c, t, SITE());
}

/*
 * A post by the holder releases; a post by anyone else is a signal (the
 * lock is a Condition's waiter lock, an event): the lock never makes an
 * owner edge again, and its acquirer no longer holds it.
 */
EXPORT int sem_post(sem_t *sem)
{
	struct registry_slot *s = my_slot;

	resolve_all();
	if (in_shim)
		return real_sem_post(sem);
	if ((!s || !held_pop(s, sem)) && shim_registry) {
		uint64_t addr = (uint64_t)(uintptr_t)sem;
		int err = errno;

		if (registry_owner(shim_registry, addr, NULL, NULL)) {
			shim_order_signal(sem);
			(void)registry_fact_set(shim_registry, addr, FACT_SIGNAL);
			registry_forget(shim_registry, NULL, addr);
		}
		errno = err;
	}
	if (serial()) {
		int rc = real_sem_post(sem);

		serial_released(sem, TE_POST);
		return rc;
	}
	return real_sem_post(sem);
}

/* ---- pthread_join: waits for the thread's exit ---- */

EXPORT int pthread_join(pthread_t t, void **ret)
{
	struct registry_slot *s;
	uint64_t site = SITE();
	pid_t target = 0;
	unsigned slices = 0;
	int rc;

	resolve_all();
	s = slot();
	if (!s || pthread_equal(t, pthread_self()))	/* glibc says EDEADLK */
		return real_join(t, ret);
	for (uint32_t i = 0; i < atomic_load(&shim_registry->high_water); i++) {
		struct registry_slot *o = &shim_registry->slots[i];

		if (atomic_load(&o->tid) && o->self == (uint64_t)t)	/* by pthread_t */
			target = atomic_load(&o->tid);
	}
	/* a target not yet in the registry is found later by its pthread_t */
	if (wait_begin(s, (void *)t, REG_JOIN, 0, target, site)) {
		wait_end(s);
		return victim_fails(s);
	}
	if (serial()) {
		int id = sched_thread_of((uint64_t)t);

		rc = -1;
		while (id >= 0 && !sched_thread_done(id) && rc < 0) {
			(void)serial_block(TE_JOIN, sched_thread_obj(id), -1, false);
			if (shim_broken(s))
				rc = victim_fails(s);
		}
		if (rc < 0)
			rc = id >= 0 ? real_join(t, ret) : SERIAL_OUTSIDE(real_join(t, ret));
	} else if (!breakable()) {
		rc = real_join(t, ret);
	} else {
		do {
			struct timespec until = poll_deadline(slices);

			if (slice_must_fail(s, &slices)) {
				rc = victim_fails(s);
				break;
			}
			rc = real_clockjoin(t, ret, CLOCK_MONOTONIC, &until);
		} while (rc == ETIMEDOUT);
	}
	wait_end(s);
	return rc;
}

/* ---- signal handlers: a handler may end any wait of the process ---- */

/*
 * Signals raised by a fault, or sent to end the process: their handlers
 * report or clean up, they do not hand out locks.
 */
static bool signal_is_fault(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
	       sig == SIGILL || sig == SIGTRAP || sig == SIGABRT ||
	       sig == SIGSYS;
}

/*
 * Note the program's own handlers.  CPython installs its SIGINT handler
 * while it starts (importing its signal module from frozen code): that
 * default handler (KeyboardInterrupt) is an interruption, not a
 * wake-up, and is not counted; a handler installed from the program's
 * Python code (signal.signal) is.
 */
/*
 * A handler known to end no wait.  CPython's readline module (imported
 * by pytest, pdb, the REPL) installs one for SIGWINCH that only notes
 * the terminal's new size and calls the handler it replaced, if that was
 * a function (Modules/readline.c, readline_sigwinch_handler): replacing
 * the default or SIG_IGN, it wakes nothing.
 */
static bool signal_harmless(int sig, sighandler_t handler, sighandler_t prev)
{
	const char *base;
	Dl_info info;

	if (sig != SIGWINCH || (prev != SIG_DFL && prev != SIG_IGN) ||
	    !dladdr((void *)handler, &info) || !info.dli_fname)
		return false;
	base = strrchr(info.dli_fname, '/');
	base = base ? base + 1 : info.dli_fname;
	return !strncmp(base, "readline.", 9);
}

static void signal_note(int sig, sighandler_t handler, sighandler_t prev)
{
	uint64_t bit;
	bool custom;

	if (!shim_registry || sig <= 0 || sig > 64 || signal_is_fault(sig))
		return;
	/* a vfork child (subprocess resets every handler there before it
	 * execs) shares its parent's memory: the parent's handlers stay */
	if (getpid() != shim_registry->pid)
		return;
	bit = 1ull << (sig - 1);
	custom = handler != SIG_DFL && handler != SIG_IGN;
	if (custom && sig == SIGINT && shim_python_present() &&
	    shim_python_bootstrap())
		custom = false;	/* the interpreter starting */
	if (custom)
		atomic_fetch_or(&shim_registry->user_signals, bit);
	else
		atomic_fetch_and(&shim_registry->user_signals, ~bit);
	if (custom && signal_harmless(sig, handler, prev))
		atomic_fetch_or(&shim_registry->harmless_signals, bit);
	else
		atomic_fetch_and(&shim_registry->harmless_signals, ~bit);
}

EXPORT int sigaction(int sig, const struct sigaction *act,
		     struct sigaction *old)
{
	int rc;

	struct sigaction prev;

	resolve_all();
	rc = real_sigaction(sig, act, &prev);
	if (rc == 0 && old)
		*old = prev;
	if (rc == 0 && act && !in_shim) {
		int err = errno;

		signal_note(sig, act->sa_handler, prev.sa_handler);
		errno = err;
	}
	return rc;
}

EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	sighandler_t rc;

	resolve_all();
	rc = real_signal(sig, handler);
	if (rc != SIG_ERR && !in_shim) {
		int err = errno;

		signal_note(sig, handler, rc);
		errno = err;
	}
	return rc;
}

/* ---- the public annotations (include/pydeadlock.h) ---- */

EXPORT void pydeadlock_acquired(const void *obj)
{
	struct registry_slot *s = slot();

	if (s) {
		order_taken(s, obj, REG_CUSTOM, ORDER_BLOCKS, SITE());
		held_push(s, obj, REG_CUSTOM, HELD_OWNED, SITE());
	}
}

EXPORT void pydeadlock_released(const void *obj)
{
	struct registry_slot *s = my_slot;

	if (s && !in_shim)
		held_pop(s, obj);
}

EXPORT int pydeadlock_wait_begin(const void *obj, int flags)
{
	struct registry_slot *s = slot();

	if (s && wait_begin(s, obj, REG_CUSTOM, flags & 1 ? REG_WAIT_TIMED : 0, 0,
			    SITE()))
		return victim_fails(s);
	return 0;
}

EXPORT void pydeadlock_wait_end(void)
{
	struct registry_slot *s = my_slot;

	if (s)
		wait_end(s);
}
