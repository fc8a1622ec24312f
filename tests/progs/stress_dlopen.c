/*
 * Locks reached at run time: stress_dlopen LIB MODE.
 * LIB is a shared library (built by the test) with
 *   void lib_add(pthread_mutex_t *m, long *n)   lock, ++*n, unlock
 *   void lib_sem_add(sem_t *s, long *n)         sem_wait, ++*n, sem_post
 *   void lib_lock(pthread_mutex_t *m)           lock
 * loaded with dlopen once 4 threads are already busy.
 *
 * MODE routes: 4 threads each go ITERS times through five routes, each
 * with a mutex and a semaphore (value 1) of its own: the direct calls,
 * pointers from dlsym(RTLD_NEXT) and dlsym(RTLD_DEFAULT) (the shim's),
 * pointers from dlsym on a dlopen("libpthread.so.0") handle (glibc's
 * own: the shim does not see them) and the dlopen'ed library's calls.
 * Counts exact; prints them, then "ok".
 * MODE abba: two threads close an AB/BA cycle inside the dlopen'ed
 * library: the shim must see it (exit 86).
 * MODE mixed: a thread locks a mutex through the shim and unlocks it
 * through glibc's own pointer (the shim never hears of the unlock), then
 * a cycle-shaped wait that is no deadlock: thread C holds that mutex
 * for 0.3 s, B holds N and waits for the mutex, A waits for N.  Prints
 * "mixed ok" when all got through.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROUTES 5
#define THREADS 4
#define ITERS 20000

typedef int (*lock_fn)(pthread_mutex_t *);
typedef int (*sem_fn)(sem_t *);

static lock_fn lock_of[ROUTES], unlock_of[ROUTES];
static sem_fn wait_of[ROUTES], post_of[ROUTES];
static const char *route_name[ROUTES] = {
	"direct", "rtld_next", "rtld_default", "libpthread_handle", "dlopened_lib"
};
static void (*lib_add)(pthread_mutex_t *, long *);
static void (*lib_sem_add)(sem_t *, long *);
static void (*lib_lock)(pthread_mutex_t *);

static pthread_mutex_t rm[ROUTES];
static sem_t rs[ROUTES];
static long rm_count[ROUTES], rs_count[ROUTES];

static pthread_mutex_t busy_m = PTHREAD_MUTEX_INITIALIZER;
static long busy_count, busy_mine[THREADS];
static atomic_int busy_stop;
static pthread_barrier_t loaded;

static void *busy(void *arg)
{
	long id = (long)arg;

	while (!atomic_load(&busy_stop)) {
		pthread_mutex_lock(&busy_m);
		busy_count++;
		pthread_mutex_unlock(&busy_m);
		busy_mine[id]++;
	}
	return NULL;
}

static void *router(void *arg)
{
	pthread_barrier_wait(&loaded);
	for (int i = 0; i < ITERS; i++)
		for (int r = 0; r < ROUTES; r++) {
			if (r == ROUTES - 1) {
				lib_add(&rm[r], &rm_count[r]);
				lib_sem_add(&rs[r], &rs_count[r]);
				continue;
			}
			lock_of[r](&rm[r]);
			rm_count[r]++;
			unlock_of[r](&rm[r]);
			while (wait_of[r](&rs[r]) != 0)
				;
			rs_count[r]++;
			post_of[r](&rs[r]);
		}
	return NULL;
}

static void *need(void *handle, const char *name)
{
	void *p = dlsym(handle, name);

	if (!p) {
		fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
		exit(1);
	}
	return p;
}

static void load_routes(void *lib)
{
	void *pt = dlopen("libpthread.so.0", RTLD_NOW);

	if (!pt) {
		fprintf(stderr, "dlopen libpthread.so.0: %s\n", dlerror());
		exit(1);
	}
	lock_of[0] = pthread_mutex_lock;
	unlock_of[0] = pthread_mutex_unlock;
	wait_of[0] = sem_wait;
	post_of[0] = sem_post;
	lock_of[1] = (lock_fn)need(RTLD_NEXT, "pthread_mutex_lock");
	unlock_of[1] = (lock_fn)need(RTLD_NEXT, "pthread_mutex_unlock");
	wait_of[1] = (sem_fn)need(RTLD_NEXT, "sem_wait");
	post_of[1] = (sem_fn)need(RTLD_NEXT, "sem_post");
	lock_of[2] = (lock_fn)need(RTLD_DEFAULT, "pthread_mutex_lock");
	unlock_of[2] = (lock_fn)need(RTLD_DEFAULT, "pthread_mutex_unlock");
	wait_of[2] = (sem_fn)need(RTLD_DEFAULT, "sem_wait");
	post_of[2] = (sem_fn)need(RTLD_DEFAULT, "sem_post");
	lock_of[3] = (lock_fn)need(pt, "pthread_mutex_lock");
	unlock_of[3] = (lock_fn)need(pt, "pthread_mutex_unlock");
	wait_of[3] = (sem_fn)need(pt, "sem_wait");
	post_of[3] = (sem_fn)need(pt, "sem_post");
	lib_add = (void (*)(pthread_mutex_t *, long *))need(lib, "lib_add");
	lib_sem_add = (void (*)(sem_t *, long *))need(lib, "lib_sem_add");
	lib_lock = (void (*)(pthread_mutex_t *))need(lib, "lib_lock");
}

/* ---- abba inside the library ---- */

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both;

static void *ab(void *arg)
{
	pthread_mutex_t *first = arg ? &a : &b, *second = arg ? &b : &a;

	lib_lock(first);
	pthread_barrier_wait(&both);
	lib_lock(second);
	return NULL;
}

/* ---- mixed routes: an unlock the shim does not see ---- */

static pthread_mutex_t mm = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t nn = PTHREAD_MUTEX_INITIALIZER;
static sem_t step_a, step_b, step_c;	/* value 0: the order of steps */
static atomic_int b_blocked;

static void *thread_a(void *arg)
{
	lock_of[0](&mm);	/* through the shim */
	unlock_of[3](&mm);	/* glibc's own: the shim still sees mm held */
	sem_post(&step_c);	/* C may take mm now */
	while (sem_wait(&step_a) != 0)
		;
	pthread_mutex_lock(&nn);	/* held by B, which waits for mm (C's) */
	pthread_mutex_unlock(&nn);
	return NULL;
}

static void *thread_b(void *arg)
{
	while (sem_wait(&step_b) != 0)
		;
	pthread_mutex_lock(&nn);
	atomic_store(&b_blocked, 1);
	pthread_mutex_lock(&mm);	/* C holds it for 0.3 s */
	pthread_mutex_unlock(&mm);
	pthread_mutex_unlock(&nn);
	return NULL;
}

static void *thread_c(void *arg)
{
	while (sem_wait(&step_c) != 0)
		;
	pthread_mutex_lock(&mm);
	sem_post(&step_b);
	while (!atomic_load(&b_blocked))
		usleep(1000);
	usleep(50000);		/* B sleeps on mm */
	sem_post(&step_a);
	usleep(300000);		/* A sleeps on nn */
	pthread_mutex_unlock(&mm);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t bt[THREADS], rt[THREADS];
	void *lib;
	long busy_sum = 0;
	int ok = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: stress_dlopen LIB routes|abba|mixed\n");
		return 2;
	}
	for (int r = 0; r < ROUTES; r++) {
		pthread_mutex_init(&rm[r], NULL);
		sem_init(&rs[r], 0, 1);
	}
	/* busy before anything is loaded */
	for (long i = 0; i < THREADS; i++)
		pthread_create(&bt[i], NULL, busy, (void *)i);
	usleep(20000);
	lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
		return 1;
	}
	load_routes(lib);

	if (!strcmp(argv[2], "routes")) {
		pthread_barrier_init(&loaded, NULL, THREADS);
		for (long i = 0; i < THREADS; i++)
			pthread_create(&rt[i], NULL, router, (void *)i);
		for (int i = 0; i < THREADS; i++)
			pthread_join(rt[i], NULL);
		for (int r = 0; r < ROUTES; r++) {
			printf("%s mutex %ld sem %ld\n", route_name[r], rm_count[r],
			       rs_count[r]);
			if (rm_count[r] != (long)THREADS * ITERS ||
			    rs_count[r] != (long)THREADS * ITERS)
				ok = 0;
		}
	} else if (!strcmp(argv[2], "abba")) {
		pthread_t x, y;

		pthread_barrier_init(&both, NULL, 2);
		pthread_create(&x, NULL, ab, (void *)1);
		pthread_create(&y, NULL, ab, NULL);
		pthread_join(x, NULL);
		pthread_join(y, NULL);
		puts("abba: no deadlock?");
		return 1;
	} else {
		pthread_t ta, tb, tc;

		sem_init(&step_a, 0, 0);
		sem_init(&step_b, 0, 0);
		sem_init(&step_c, 0, 0);
		pthread_create(&ta, NULL, thread_a, NULL);
		usleep(10000);	/* A's slot comes before C's */
		pthread_create(&tc, NULL, thread_c, NULL);
		pthread_create(&tb, NULL, thread_b, NULL);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		pthread_join(tc, NULL);
		puts("mixed ok");
	}
	atomic_store(&busy_stop, 1);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(bt[i], NULL);
		busy_sum += busy_mine[i];
	}
	printf("busy exact: %s\n", busy_sum == busy_count ? "yes" : "no");
	if (busy_sum != busy_count)
		ok = 0;
	puts(ok ? "ok" : "BROKEN");
	return ok ? 0 : 1;
}
