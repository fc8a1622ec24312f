/*
 * Deep nests: stress_nest THREADS ITERS.  40 locks in one global order
 * (so no deadlock is possible): mostly mutexes, every 5th a semaphore of
 * value 1, lock 7 recursive (taken twice), lock 20 an rwlock taken for
 * writing, lock 30 taken with pthread_mutex_timedlock.  Each round a
 * thread takes a run of them in order, every other round all 40 (deeper
 * than the registry's 32 held per thread), adds one to the counter of
 * each lock it holds, and lets them go, in reverse order or (every third
 * round) in taking order; every 8th round it yields the processor while
 * holding all 40, so that the others block on locks it holds.  Each thread counts what it added; the shared
 * counters must equal the sums.  Prints the number of lock operations
 * and the 40 counters (the same for the same arguments), then "ok".
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LOCKS 40
#define MAX_THREADS 64
#define RECURSIVE 7
#define RWLOCK 20
#define TIMED 30

static pthread_mutex_t mutexes[LOCKS];
static sem_t sems[LOCKS];
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long counters[LOCKS];
static long mine[MAX_THREADS][LOCKS];
static long ops[MAX_THREADS];
static long iters;
static pthread_barrier_t start;

static int is_sem(int k)
{
	return k % 5 == 4;
}

static void take(int k)
{
	if (is_sem(k)) {
		while (sem_wait(&sems[k]) != 0)
			;
	} else if (k == RWLOCK) {
		pthread_rwlock_wrlock(&rw);
	} else if (k == TIMED) {
		struct timespec t;

		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += 120;
		if (pthread_mutex_timedlock(&mutexes[k], &t) != 0)
			abort();
	} else {
		pthread_mutex_lock(&mutexes[k]);
		if (k == RECURSIVE)
			pthread_mutex_lock(&mutexes[k]);
	}
}

static void drop(int k)
{
	if (is_sem(k)) {
		sem_post(&sems[k]);
	} else if (k == RWLOCK) {
		pthread_rwlock_unlock(&rw);
	} else {
		pthread_mutex_unlock(&mutexes[k]);
		if (k == RECURSIVE)
			pthread_mutex_unlock(&mutexes[k]);
	}
}

static void *worker(void *arg)
{
	long id = (long)arg;
	unsigned long x = 0x9e3779b97f4a7c15ul * (unsigned long)(id + 1);

	pthread_barrier_wait(&start);	/* all at once: contention */

	for (long i = 0; i < iters; i++) {
		int first, last;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (i % 2 == 0) {
			first = 0;
			last = LOCKS - 1;
		} else {
			first = (int)(x % LOCKS);
			last = first + (int)((x >> 8) % (LOCKS - first));
		}
		for (int k = first; k <= last; k++) {
			take(k);
			counters[k]++;
			mine[id][k]++;
			ops[id] += k == RECURSIVE ? 2 : 1;
		}
		if (i % 8 == 0)
			sched_yield();	/* others block on what this one holds */
		if (i % 3 == 0)
			for (int k = first; k <= last; k++)
				drop(k);
		else
			for (int k = last; k >= first; k--)
				drop(k);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_mutexattr_t rec;
	pthread_t t[MAX_THREADS];
	long threads, total_ops = 0;
	int ok = 1;

	if (argc != 3 || (threads = atol(argv[1])) < 1 || threads > MAX_THREADS) {
		fprintf(stderr, "usage: stress_nest THREADS ITERS\n");
		return 2;
	}
	iters = atol(argv[2]);
	pthread_mutexattr_init(&rec);
	pthread_mutexattr_settype(&rec, PTHREAD_MUTEX_RECURSIVE);
	for (int k = 0; k < LOCKS; k++) {
		pthread_mutex_init(&mutexes[k], k == RECURSIVE ? &rec : NULL);
		sem_init(&sems[k], 0, 1);
	}
	pthread_barrier_init(&start, NULL, (unsigned)threads);
	for (long i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (long i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	for (int k = 0; k < LOCKS; k++) {
		long sum = 0;

		for (long i = 0; i < threads; i++)
			sum += mine[i][k];
		if (sum != counters[k]) {
			printf("lock %d: counter %ld, added %ld\n", k, counters[k], sum);
			ok = 0;
		}
	}
	for (long i = 0; i < threads; i++)
		total_ops += ops[i];
	printf("lock_ops %ld\ncounters", total_ops);
	for (int k = 0; k < LOCKS; k++)
		printf(" %ld", counters[k]);
	/* every other round of every thread went through all 40 */
	if (counters[LOCKS - 1] < threads * ((iters + 1) / 2))
		ok = 0;
	printf("\n");
	puts(ok ? "ok" : "BROKEN");
	return ok ? 0 : 1;
}
