/*
 * bench/lock_order.sh's nested native loop: THREADS threads (4) each lock
 * outer, then inner, add one, unlock both, COUNT times.  Prints the
 * threaded part's wall time in nanoseconds ("ns N n TOTAL").
 * Usage: lock_nest COUNT
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define THREADS 4

static pthread_mutex_t outer = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t inner = PTHREAD_MUTEX_INITIALIZER;
static long count, n;

static void *work(void *arg)
{
	(void)arg;
	for (long i = 0; i < count; i++) {
		pthread_mutex_lock(&outer);
		pthread_mutex_lock(&inner);
		n++;
		pthread_mutex_unlock(&inner);
		pthread_mutex_unlock(&outer);
	}
	return NULL;
}

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ll + t.tv_nsec;
}

int main(int argc, char **argv)
{
	pthread_t t[THREADS];
	long long start;

	count = argc > 1 ? atol(argv[1]) : 1000000;
	start = now_ns();
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, work, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	if (n != count * THREADS)
		return 1;
	printf("ns %lld n %ld\n", now_ns() - start, n);
	return 0;
}
