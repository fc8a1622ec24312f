/*
 * Many threads, in waves: stress_threads TOTAL WAVE ITERS [-r].
 * Each wave starts WAVE threads (64 KiB stacks) that each lock once (so
 * take a registry slot) and meet at a barrier, so that all of them are
 * alive and hold a slot at once, then each does ITERS rounds of: a shared mutex (one of 4), a semaphore of
 * value 1 used as a lock, two mutexes nested in a fixed order, and every
 * 8th round a counting semaphore of value 3 whose holders are counted.
 * Every counter is kept under its lock; the final lines are exact.
 * With -r it prints the registry's high-water mark last ("high_water N",
 * or "high_water none" without the shim): slots must be reused across
 * waves, so it stays about one wave, not TOTAL.  With -abba it then
 * closes a real AB/BA cycle between two fresh threads (and hangs without
 * the shim): tracking must come back once the threads of a wave larger
 * than the registry are gone.
 */
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/registry.h"

#define MUTEXES 4

static pthread_mutex_t m[MUTEXES] = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
};
static long counts[MUTEXES];
static pthread_mutex_t outer = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t inner = PTHREAD_MUTEX_INITIALIZER;
static long nested;
static sem_t semlock;		/* value 1: a lock */
static long sem_count;
static sem_t gate;		/* value 3: at most 3 inside */
static atomic_int inside, max_inside;
static atomic_long gate_count;
static pthread_barrier_t barrier;
static long iters;

static void *worker(void *arg)
{
	long id = (long)arg;

	/* a first lock takes this thread's slot: all of a wave hold one */
	pthread_mutex_lock(&m[id % MUTEXES]);
	counts[id % MUTEXES]++;
	pthread_mutex_unlock(&m[id % MUTEXES]);
	pthread_barrier_wait(&barrier);
	for (long i = 0; i < iters; i++) {
		int k = (int)((id + i) % MUTEXES);

		pthread_mutex_lock(&m[k]);
		counts[k]++;
		pthread_mutex_unlock(&m[k]);

		while (sem_wait(&semlock) != 0)
			;
		sem_count++;
		sem_post(&semlock);

		pthread_mutex_lock(&outer);
		pthread_mutex_lock(&inner);
		nested++;
		pthread_mutex_unlock(&inner);
		pthread_mutex_unlock(&outer);

		if (i % 8 == 0) {
			while (sem_wait(&gate) != 0)
				;
			int now = atomic_fetch_add(&inside, 1) + 1;
			int seen = atomic_load(&max_inside);

			while (now > seen &&
			       !atomic_compare_exchange_weak(&max_inside, &seen, now))
				;
			atomic_fetch_add(&gate_count, 1);
			atomic_fetch_sub(&inside, 1);
			sem_post(&gate);
		}
	}
	return NULL;
}

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both;

static void *ab(void *arg)
{
	pthread_mutex_t *first = arg ? &a : &b, *second = arg ? &b : &a;

	pthread_mutex_lock(first);
	pthread_barrier_wait(&both);
	pthread_mutex_lock(second);
	return NULL;
}

/* the shim's registry of this process (its mapping, named in
 * /proc/self/maps), read-only: its high-water mark */
static void print_high_water(void)
{
	char want[64], line[512];
	const struct registry *r = NULL;
	FILE *maps = fopen("/proc/self/maps", "r");
	unsigned long start;

	snprintf(want, sizeof(want), "/memfd:" REGISTRY_NAME_FMT " (deleted)",
		 (int)getpid());
	while (maps && !r && fgets(line, sizeof(line), maps))
		if (strstr(line, want) && sscanf(line, "%lx-", &start) == 1)
			r = (const struct registry *)start;
	if (maps)
		fclose(maps);
	if (!r) {
		puts("high_water none");
		return;
	}
	printf("high_water %u\n", atomic_load(&r->high_water));
}

int main(int argc, char **argv)
{
	long total, wave, created = 0, per_mutex = 0;
	pthread_attr_t attr;
	pthread_t *t;
	int ok;

	if (argc < 4) {
		fprintf(stderr, "usage: stress_threads TOTAL WAVE ITERS [-r]\n");
		return 2;
	}
	total = atol(argv[1]);
	wave = atol(argv[2]);
	iters = atol(argv[3]);
	t = calloc(wave, sizeof(*t));
	sem_init(&semlock, 0, 1);
	sem_init(&gate, 0, 3);
	pthread_attr_init(&attr);
	if (pthread_attr_setstacksize(&attr, 64 * 1024)) {
		fprintf(stderr, "setstacksize failed\n");
		return 1;
	}
	while (created < total) {
		long n = total - created < wave ? total - created : wave;

		pthread_barrier_init(&barrier, NULL, (unsigned)n);
		for (long i = 0; i < n; i++) {
			int rc = pthread_create(&t[i], &attr, worker,
						(void *)(created + i));
			if (rc) {
				fprintf(stderr, "pthread_create %ld: %s\n",
					created + i, strerror(rc));
				return 1;
			}
		}
		for (long i = 0; i < n; i++)
			if (pthread_join(t[i], NULL)) {
				fprintf(stderr, "pthread_join failed\n");
				return 1;
			}
		pthread_barrier_destroy(&barrier);
		created += n;
	}
	for (int k = 0; k < MUTEXES; k++)
		per_mutex += counts[k];
	printf("threads %ld\n", created);
	printf("mutex %ld\n", per_mutex);
	printf("semlock %ld\n", sem_count);
	printf("nested %ld\n", nested);
	printf("gate %ld\n", atomic_load(&gate_count));
	printf("max_inside_ok %d\n", atomic_load(&max_inside) <= 3);
	ok = per_mutex == total * (iters + 1) && sem_count == total * iters &&
	     nested == total * iters &&
	     atomic_load(&gate_count) == total * ((iters + 7) / 8) &&
	     atomic_load(&max_inside) <= 3 && atomic_load(&max_inside) >= 1;
	puts(ok ? "ok" : "BROKEN");
	for (int i = 4; i < argc; i++)
		if (!strcmp(argv[i], "-r"))
			print_high_water();
	fflush(stdout);
	for (int i = 4; i < argc; i++)
		if (!strcmp(argv[i], "-abba")) {
			pthread_t x, y;

			pthread_barrier_init(&both, NULL, 2);
			pthread_create(&x, NULL, ab, (void *)1);
			pthread_create(&y, NULL, ab, NULL);
			pthread_join(x, NULL);
			pthread_join(y, NULL);
			puts("abba: no deadlock?");
		}
	return ok ? 0 : 1;
}
