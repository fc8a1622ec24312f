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
 * dynamic loader take locks that could re-enter us.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "include/pydeadlock.h"
#include "tracer/shim/shim.h"

#define TLS __thread __attribute__((tls_model("initial-exec")))
#define SITE() ((uint64_t)(uintptr_t)__builtin_return_address(0))
#define EXPORT __attribute__((visibility("default")))

struct registry *shim_registry;
static int registry_fd = -1;	/* keeps the nameless registry findable */
static pthread_key_t slot_key;
static TLS struct registry_slot *my_slot;
/* an absolute deadline long past: a clock-wait that only tries */
static const struct timespec expired = { 0, 0 };
static TLS int in_shim;		/* our own calls into libc pass through */

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
static int (*real_rwlock_unlock)(pthread_rwlock_t *);
static int (*real_rwlock_clockrdlock)(pthread_rwlock_t *, clockid_t,
				      const struct timespec *);
static int (*real_rwlock_clockwrlock)(pthread_rwlock_t *, clockid_t,
				      const struct timespec *);
static int (*real_clockjoin)(pthread_t, void **, clockid_t,
			     const struct timespec *);
static int (*real_sem_init)(sem_t *, int, unsigned int);
static int (*real_sem_destroy)(sem_t *);
static int (*real_sem_wait)(sem_t *);
static int (*real_sem_trywait)(sem_t *);
static int (*real_sem_timedwait)(sem_t *, const struct timespec *);
static int (*real_sem_clockwait)(sem_t *, clockid_t, const struct timespec *);
static int (*real_sem_post)(sem_t *);
static int (*real_join)(pthread_t, void **);

/* glibc's own aliases: what a lock call made during dlsym() can use */
extern int __pthread_mutex_lock(pthread_mutex_t *);
extern int __pthread_mutex_unlock(pthread_mutex_t *);
extern int __pthread_mutex_trylock(pthread_mutex_t *);

#define RESOLVE(var, name) (var = (__typeof__(var))dlsym(RTLD_NEXT, name))

static void release_slot(void *slot)
{
	registry_slot_release(slot);
	my_slot = NULL;
}

static void before_fork(void);
static void after_fork_child(void);

/* what the forking thread held, copied before the fork (the child sees
 * its own TLS copy; the shared slot keeps changing in the parent) */
static TLS struct registry_held fork_held[REGISTRY_MAX_HELD];
static TLS uint32_t fork_n_held;

static void resolve_all(void)
{
	static _Atomic int done;

	if (atomic_load(&done))
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
	RESOLVE(real_rwlock_unlock, "pthread_rwlock_unlock");
	RESOLVE(real_rwlock_clockrdlock, "pthread_rwlock_clockrdlock");
	RESOLVE(real_rwlock_clockwrlock, "pthread_rwlock_clockwrlock");
	RESOLVE(real_clockjoin, "pthread_clockjoin_np");
	RESOLVE(real_sem_init, "sem_init");
	RESOLVE(real_sem_destroy, "sem_destroy");
	RESOLVE(real_sem_wait, "sem_wait");
	RESOLVE(real_sem_trywait, "sem_trywait");
	RESOLVE(real_sem_timedwait, "sem_timedwait");
	RESOLVE(real_sem_clockwait, "sem_clockwait");
	RESOLVE(real_sem_post, "sem_post");
	RESOLVE(real_join, "pthread_join");
	in_shim--;
	atomic_store(&done, 1);
}

__attribute__((constructor(101))) static void shim_init(void)
{
	resolve_all();
	if (getenv("PYDEADLOCK_DISABLE"))
		return;
	if (pthread_key_create(&slot_key, release_slot) != 0)
		return;
	shim_report_init();
	shim_python_init();
	pthread_atfork(before_fork, NULL, after_fork_child);
	shim_registry = registry_create(getpid(), &registry_fd);
	if (!shim_registry)
		shim_say_once("cannot create its registry (memfd); running untracked");
	else
		atomic_store(&shim_registry->breakable, shim_report_breakable());
}

__attribute__((destructor)) static void shim_fini(void)
{
	shim_report_finish();
}

static void before_fork(void)
{
	struct registry_slot *s = my_slot;
	uint32_t n = s ? atomic_load(&s->n_held) : 0;

	fork_n_held = n < REGISTRY_MAX_HELD ? n : REGISTRY_MAX_HELD;
	for (uint32_t i = 0; i < fork_n_held; i++) {
		fork_held[i].site = s->held[i].site;
		fork_held[i].py_code = s->held[i].py_code;
		fork_held[i].py_lasti = s->held[i].py_lasti;
		fork_held[i].kind = s->held[i].kind;
		atomic_store(&fork_held[i].addr, atomic_load(&s->held[i].addr));
	}
}

/*
 * The forking thread alone goes on in the child, holding what it held
 * (as copied before the fork): a registry of its own for the child, with
 * that one thread in it.  The parent's mapping is let go.
 */
static void after_fork_child(void)
{
	struct registry *parent = shim_registry;
	struct registry_slot *had = my_slot;

	my_slot = NULL;
	if (!parent)
		return;
	close(registry_fd);
	registry_fd = -1;
	shim_registry = registry_create(getpid(), &registry_fd);
	munmap(parent, sizeof(*parent));
	if (!shim_registry)
		return;
	atomic_store(&shim_registry->breakable, shim_report_breakable());
	if (!had)
		return;
	my_slot = registry_slot_take(shim_registry, syscall(SYS_gettid),
				     (uint64_t)pthread_self());
	if (!my_slot)
		return;
	for (uint32_t i = 0; i < fork_n_held; i++) {
		my_slot->held[i].site = fork_held[i].site;
		my_slot->held[i].py_code = fork_held[i].py_code;
		my_slot->held[i].py_lasti = fork_held[i].py_lasti;
		my_slot->held[i].kind = fork_held[i].kind;
		atomic_store(&my_slot->held[i].addr, atomic_load(&fork_held[i].addr));
	}
	atomic_store(&my_slot->n_held, fork_n_held);
	pthread_setspecific(slot_key, my_slot);
}

/* This thread's slot, taken on first use; NULL: run untracked. */
static inline struct registry_slot *slot(void)
{
	struct registry_slot *s = my_slot;

	/* the shim's own calls (reporting, Python) pass straight through */
	if (__builtin_expect(in_shim != 0, 0))
		return NULL;
	if (__builtin_expect(s != NULL, 1))
		return s;
	if (!shim_registry)
		return NULL;
	in_shim++;
	s = registry_slot_take(shim_registry, syscall(SYS_gettid),
			       (uint64_t)pthread_self());
	if (s) {
		my_slot = s;
		pthread_setspecific(slot_key, s);
	} else {
		shim_say_once("more threads than its registry holds; the rest run untracked");
	}
	in_shim--;
	return s;
}

/*
 * The Python position of a failed try on a semaphore-lock: CPython tries
 * with the GIL held, then blocks without it, when it can no longer say
 * where it is.  The blocking acquire of the same lock takes this one.
 */
static TLS uint64_t tried_sem, tried_code;
static TLS int64_t tried_lasti;

/*
 * Where in Python entry i of s was acquired (a semaphore-lock): out of the
 * mutex fast path, which it would otherwise slow with its spills.
 */
static __attribute__((noinline)) void held_python_site(struct registry_slot *s,
						      uint32_t i, uint64_t obj)
{
	uint64_t py_code = 0;
	int64_t py_lasti = 0;

	if (!shim_python_site(&py_code, &py_lasti) && tried_sem == obj) {
		py_code = tried_code;
		py_lasti = tried_lasti;
	}
	s->held[i].py_code = py_code;
	s->held[i].py_lasti = py_lasti;
}

/* Record an acquisition (a recursive one is an entry of its own). */
static void held_push(struct registry_slot *s, const void *obj, uint32_t kind,
		      uint64_t site)
{
	uint64_t addr = (uint64_t)(uintptr_t)obj;
	uint32_t n = atomic_load_explicit(&s->n_held, memory_order_relaxed);

	/*
	 * No search for an earlier entry of a recursive mutex: a second entry
	 * costs nothing and held_pop takes the topmost; the fast path stays
	 * a few stores.
	 */
	if (__builtin_expect(n == REGISTRY_MAX_HELD, 0)) {	/* squeeze out holes, else truncate */
		uint32_t k = 0;

		for (uint32_t i = 0; i < n; i++)
			if (atomic_load(&s->held[i].addr))
				s->held[k++] = s->held[i];
		n = k;
		if (n == REGISTRY_MAX_HELD) {
			s->held_truncated = 1;
			return;
		}
	}
	s->acquired++;		/* this thread's own count: progress */
	s->held[n].site = site;
	if (kind == REG_SEMLOCK)
		held_python_site(s, n, addr);
	else
		s->held[n].py_code = 0;
	s->held[n].kind = kind;
	atomic_store_explicit(&s->held[n].addr, addr, memory_order_relaxed);
	/* release: a walker that sees the count sees the entry */
	atomic_store_explicit(&s->n_held, n + 1, memory_order_release);
}

/* Forget one acquisition; false when this thread did not hold obj. */
static bool held_pop(struct registry_slot *s, const void *obj)
{
	uint64_t addr = (uint64_t)(uintptr_t)obj;
	uint32_t n = atomic_load_explicit(&s->n_held, memory_order_relaxed);

	for (uint32_t i = n; i-- > 0;) {
		if (atomic_load_explicit(&s->held[i].addr, memory_order_relaxed) != addr)
			continue;
		/* keep the order: a held list reads as the nesting */
		for (uint32_t k = i; k + 1 < n; k++) {
			s->held[k].site = s->held[k + 1].site;
			s->held[k].py_code = s->held[k + 1].py_code;
			s->held[k].py_lasti = s->held[k + 1].py_lasti;
			s->held[k].kind = s->held[k + 1].kind;
			atomic_store_explicit(&s->held[k].addr,
					      atomic_load(&s->held[k + 1].addr),
					      memory_order_relaxed);
		}
		atomic_store_explicit(&s->n_held, n - 1, memory_order_release);
		return true;
	}
	return false;
}

/*
 * About to block on obj: publish the wait (sequentially consistent, so of
 * two threads closing a cycle together at least one sees the other), then
 * look for a cycle through this thread.
 */
static bool wait_begin(struct registry_slot *s, const void *obj, uint32_t kind,
		       uint32_t flags, pid_t joined, uint64_t site)
{
	pid_t tids[REGISTRY_MAX_CYCLE];
	struct timespec now;
	bool victim = false;
	int n;

	atomic_store(&s->break_pending, 0);	/* meant for an earlier wait */
	clock_gettime(CLOCK_MONOTONIC, &now);
	s->wait_since_ns = (uint64_t)now.tv_sec * 1000000000u + now.tv_nsec;
	s->wait_site = site;
	atomic_store(&s->wait_kind, kind);
	atomic_store(&s->wait_flags, flags);
	atomic_store(&s->wait_tid, joined);
	atomic_store(&s->wait_addr, (uint64_t)(uintptr_t)obj);
	atomic_fetch_add(&s->gen, 1);
	if (flags & REG_WAIT_TIMED)
		return false;
	in_shim++;
	n = registry_find_cycle(shim_registry, s, tids, REGISTRY_MAX_CYCLE);
	if (n)
		victim = shim_deadlock(s, tids, n);
	in_shim--;
	return victim;
}

#define RECHECK_SLICES 50	/* a blocked wait looks for a cycle again (100 ms) */

/*
 * Between two slices of a breakable wait: must this wait fail?  Yes when
 * chosen as a victim; and now and then the thread looks for a cycle again,
 * for one that closed while another was being reported, or whose
 * confirmation failed at the moment (a handover in progress).
 */
static bool slice_must_fail(struct registry_slot *s, unsigned *slices)
{
	pid_t tids[REGISTRY_MAX_CYCLE];
	bool mine = false;
	int n;

	if (shim_broken(s))
		return true;
	if (++*slices % RECHECK_SLICES)
		return false;
	in_shim++;
	n = registry_find_cycle(shim_registry, s, tids, REGISTRY_MAX_CYCLE);
	if (n)
		mine = shim_deadlock(s, tids, n);
	in_shim--;
	return mine || shim_broken(s);
}

/* Under break and report, untimed waits wait in slices that can be broken */
static inline bool breakable(void)
{
	return atomic_load_explicit(&shim_registry->breakable,
				    memory_order_relaxed);
}

/* CLOCK_MONOTONIC, one break-poll slice from now */
static struct timespec poll_deadline(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_nsec += BREAK_POLL_NS;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

static void wait_end(struct registry_slot *s)
{
	atomic_store(&s->break_pending, 0);	/* too late: the wait is over */
	atomic_store(&s->wait_addr, 0);
	atomic_fetch_add(&s->gen, 1);
}

/* ---- pthread mutexes ---- */

EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
	struct registry_slot *s;
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
	if (rc == 0 || rc == EOWNERDEAD) {
		held_push(s, m, REG_MUTEX, SITE());
		return rc;
	}
	/* glibc answers first: EDEADLK (an error-checking relock), EINVAL */
	rc = real_mutex_clocklock(m, CLOCK_MONOTONIC, &expired);
	if (rc != ETIMEDOUT && rc != EINVAL) {
		if (rc == 0 || rc == EOWNERDEAD)
			held_push(s, m, REG_MUTEX, SITE());
		return rc;
	}
	if (wait_begin(s, m, REG_MUTEX, 0, 0, SITE())) {
		wait_end(s);
		return EDEADLK;		/* the victim: the lock stays its holder's */
	}
	rc = breakable() ? ETIMEDOUT : real_mutex_lock(m);
	unsigned slices = 0;
	while (rc == ETIMEDOUT) {	/* the real lock never times out */
		struct timespec until = poll_deadline();

		if (slice_must_fail(s, &slices)) {
			rc = EDEADLK;
			break;
		}
		rc = real_mutex_clocklock(m, CLOCK_MONOTONIC, &until);
		if (rc == EINVAL)	/* a PI mutex on an old kernel: unbreakable */
			rc = real_mutex_lock(m);
	}
	wait_end(s);
	if (rc == 0 || rc == EOWNERDEAD)
		held_push(s, m, REG_MUTEX, SITE());
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
	if ((rc == 0 || rc == EOWNERDEAD) && (s = slot()))
		held_push(s, m, REG_MUTEX, SITE());
	return rc;
}

/* timedlock and clocklock share this: try, else a timed wait */
#define TIMED_MUTEX(call)						\
	do {								\
		struct registry_slot *s = slot();			\
		int rc;							\
		if (!s)							\
			return call;					\
		rc = real_mutex_trylock(m);				\
		if (rc != 0 && rc != EOWNERDEAD) {			\
			(void)wait_begin(s, m, REG_MUTEX, REG_WAIT_TIMED, 0, SITE()); \
			rc = call;					\
			wait_end(s);					\
		}							\
		if (rc == 0 || rc == EOWNERDEAD)			\
			held_push(s, m, REG_MUTEX, SITE());		\
		return rc;						\
	} while (0)

EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *t)
{
	resolve_all();
	TIMED_MUTEX(real_mutex_timedlock(m, t));
}

EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t c,
				   const struct timespec *t)
{
	resolve_all();
	TIMED_MUTEX(real_mutex_clocklock(m, c, t));
}

EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
	struct registry_slot *s = my_slot;

	if (__builtin_expect(!real_mutex_unlock, 0)) {
		if (in_shim)
			return __pthread_mutex_unlock(m);
		resolve_all();
	}
	if (s)
		held_pop(s, m);
	return real_mutex_unlock(m);
}

EXPORT int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
	resolve_all();
	if (shim_registry)
		registry_forget(shim_registry, (uint64_t)(uintptr_t)m);
	return real_mutex_init(m, a);
}

EXPORT int pthread_mutex_destroy(pthread_mutex_t *m)
{
	resolve_all();
	return real_mutex_destroy(m);
}

/* ---- condition variables: the mutex is not held while waiting ---- */

#define COND_WAIT(flags, call)						\
	do {								\
		struct registry_slot *s = slot();			\
		int rc;							\
		if (!s)							\
			return call;					\
		held_pop(s, m);						\
		(void)wait_begin(s, c, REG_COND, flags, 0, SITE());	\
		rc = call;						\
		wait_end(s);						\
		held_push(s, m, REG_MUTEX, SITE());			\
		return rc;						\
	} while (0)

EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	resolve_all();
	COND_WAIT(0, real_cond_wait(c, m));
}

EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
				  const struct timespec *t)
{
	resolve_all();
	COND_WAIT(REG_WAIT_TIMED, real_cond_timedwait(c, m, t));
}

EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m,
				  clockid_t clock, const struct timespec *t)
{
	resolve_all();
	COND_WAIT(REG_WAIT_TIMED, real_cond_clockwait(c, m, clock, t));
}

/* ---- rwlocks: readers and the writer all hold; a waiter waits on all ---- */

#define RWLOCK(try_call, call, clock_call)				\
	do {								\
		struct registry_slot *s = slot();			\
		int rc;							\
		if (!s)							\
			return call;					\
		rc = try_call;						\
		if (rc == EBUSY) {	/* glibc answers first: EDEADLK */	\
			struct timespec until = expired;		\
			rc = clock_call;				\
			if (rc == ETIMEDOUT)				\
				rc = EBUSY;				\
		}							\
		if (rc == EBUSY &&					\
		    wait_begin(s, l, REG_RWLOCK, 0, 0, SITE())) {	\
			rc = EDEADLK;					\
		} else if (rc == EBUSY) {				\
			unsigned slices = 0;				\
			rc = breakable() ? ETIMEDOUT : call;		\
			while (rc == ETIMEDOUT) {			\
				struct timespec until = poll_deadline(); \
				if (slice_must_fail(s, &slices)) {	\
					rc = EDEADLK;			\
					break;				\
				}					\
				rc = clock_call;			\
			}						\
		}							\
		wait_end(s);						\
		if (rc == 0)						\
			held_push(s, l, REG_RWLOCK, SITE());		\
		return rc;						\
	} while (0)

EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	resolve_all();
	RWLOCK(real_rwlock_tryrdlock(l), real_rwlock_rdlock(l),
	       real_rwlock_clockrdlock(l, CLOCK_MONOTONIC, &until));
}

EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	resolve_all();
	RWLOCK(real_rwlock_trywrlock(l), real_rwlock_wrlock(l),
	       real_rwlock_clockwrlock(l, CLOCK_MONOTONIC, &until));
}

EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	struct registry_slot *s = my_slot;

	resolve_all();
	if (s)
		held_pop(s, l);
	return real_rwlock_unlock(l);
}

/* ---- semaphores: a semaphore of initial value 1 is a lock ---- */

EXPORT int sem_init(sem_t *sem, int pshared, unsigned int value)
{
	resolve_all();
	if (shim_registry) {
		uint64_t addr = (uint64_t)(uintptr_t)sem;

		registry_forget(shim_registry, addr);
		registry_fact_clear(shim_registry, addr);
		/* shared with other processes, or counting: no owner */
		if ((pshared || value != 1) &&
		    registry_fact_set(shim_registry, addr, FACT_COUNTING) < 0)
			shim_say_once("too many counting semaphores to tell them from locks; some may be taken for locks");
	}
	return real_sem_init(sem, pshared, value);
}

EXPORT int sem_destroy(sem_t *sem)
{
	resolve_all();
	if (shim_registry) {
		registry_forget(shim_registry, (uint64_t)(uintptr_t)sem);
		registry_fact_clear(shim_registry, (uint64_t)(uintptr_t)sem);
	}
	return real_sem_destroy(sem);
}

EXPORT int sem_trywait(sem_t *sem)
{
	struct registry_slot *s;
	int rc;

	resolve_all();
	rc = real_sem_trywait(sem);
	if (!(s = slot()))
		return rc;
	if (rc == 0) {
		held_push(s, sem, REG_SEMLOCK, SITE());
	} else {
		int err = errno;

		tried_sem = shim_python_site(&tried_code, &tried_lasti)
			    ? (uint64_t)(uintptr_t)sem : 0;
		errno = err;
	}
	return rc;
}

/*
 * The victim's semaphore wait fails.  A Python lock's (CPython tried it
 * first, with the GIL) fails with EINTR and DeadlockError raised when
 * CPython runs its pending calls; any other with EDEADLK.
 */
static int sem_wait_fails(struct registry_slot *s, sem_t *sem)
{
	if (tried_sem != (uint64_t)(uintptr_t)sem) {
		errno = EDEADLK;	/* not Python's: C sees EDEADLK */
		return -1;
	}
	if (shim_python_fail_wait(s->break_why)) {
		errno = EINTR;
		return -1;
	}
	/* unreachable for the victims chosen here (shim_python_can_fail) */
	errno = EINTR;
	return -1;
}

/* An untimed semaphore wait, in breakable slices when breaking is on */
static int sem_wait_breakable(struct registry_slot *s, sem_t *sem)
{
	unsigned slices = 0;

	for (;;) {
		struct timespec until = poll_deadline();
		int rc;

		/*
		 * A Python lock whose wait cannot be made to raise (a static
		 * interpreter's other threads) keeps waiting: failing it with
		 * an error would let `with lock:` run without the lock.
		 */
		if (slice_must_fail(s, &slices)) {
			if (tried_sem != (uint64_t)(uintptr_t)sem ||
			    shim_python_can_fail(syscall(SYS_gettid)))
				return sem_wait_fails(s, sem);
			shim_say_once("cannot fail a Python lock wait outside the main thread of a static interpreter; it keeps waiting");
		}
		rc = real_sem_clockwait(sem, CLOCK_MONOTONIC, &until);
		if (rc == 0 || errno != ETIMEDOUT)
			return rc;
	}
}

#define SEM_WAIT(flags, call)						\
	do {								\
		struct registry_slot *s = slot();			\
		int rc, err;						\
		if (!s)							\
			return call;					\
		if (real_sem_trywait(sem) == 0) {			\
			held_push(s, sem, REG_SEMLOCK, SITE());		\
			return 0;					\
		}							\
		if (wait_begin(s, sem, REG_SEMLOCK, flags, 0, SITE())) { \
			wait_end(s);					\
			return sem_wait_fails(s, sem);			\
		}							\
		rc = !(flags) && breakable() ? sem_wait_breakable(s, sem) \
					     : call;			\
		err = errno;						\
		wait_end(s);						\
		if (rc == 0)						\
			held_push(s, sem, REG_SEMLOCK, SITE());		\
		errno = err;						\
		return rc;						\
	} while (0)

EXPORT int sem_wait(sem_t *sem)
{
	resolve_all();
	SEM_WAIT(0, real_sem_wait(sem));
}

EXPORT int sem_timedwait(sem_t *sem, const struct timespec *t)
{
	resolve_all();
	SEM_WAIT(REG_WAIT_TIMED, real_sem_timedwait(sem, t));
}

EXPORT int sem_clockwait(sem_t *sem, clockid_t c, const struct timespec *t)
{
	resolve_all();
	SEM_WAIT(REG_WAIT_TIMED, real_sem_clockwait(sem, c, t));
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
	if ((!s || !held_pop(s, sem)) && shim_registry && !in_shim) {
		uint64_t addr = (uint64_t)(uintptr_t)sem;

		if (registry_owner(shim_registry, addr, NULL)) {
			(void)registry_fact_set(shim_registry, addr, FACT_SIGNAL);
			registry_forget(shim_registry, addr);
		}
	}
	return real_sem_post(sem);
}

/* ---- pthread_join: waits for the thread's exit ---- */

EXPORT int pthread_join(pthread_t t, void **ret)
{
	struct registry_slot *s;
	pid_t target = 0;
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
	if (wait_begin(s, (void *)t, REG_JOIN, target ? 0 : REG_WAIT_TIMED,
		       target, SITE())) {
		wait_end(s);
		return EDEADLK;
	}
	rc = breakable() && real_clockjoin ? ETIMEDOUT : real_join(t, ret);
	unsigned slices = 0;
	while (rc == ETIMEDOUT) {
		struct timespec until = poll_deadline();

		if (slice_must_fail(s, &slices)) {
			rc = EDEADLK;
			break;
		}
		rc = real_clockjoin(t, ret, CLOCK_MONOTONIC, &until);
	}
	wait_end(s);
	return rc;
}

/* ---- the public annotations (include/pydeadlock.h) ---- */

EXPORT void pydeadlock_acquired(const void *obj)
{
	struct registry_slot *s = slot();

	if (s)
		held_push(s, obj, REG_CUSTOM, SITE());
}

EXPORT void pydeadlock_released(const void *obj)
{
	struct registry_slot *s = my_slot;

	if (s)
		held_pop(s, obj);
}

EXPORT int pydeadlock_wait_begin(const void *obj, int flags)
{
	struct registry_slot *s = slot();

	if (s && wait_begin(s, obj, REG_CUSTOM, flags & 1 ? REG_WAIT_TIMED : 0, 0,
			    SITE()))
		return EDEADLK;
	return 0;
}

EXPORT void pydeadlock_wait_end(void)
{
	struct registry_slot *s = my_slot;

	if (s)
		wait_end(s);
}
