/*
 * bench/shim.sh's uncontended mutex: one thread, N lock/unlock pairs on one
 * pthread mutex.  Prints the loop's nanoseconds per pair (CLOCK_MONOTONIC
 * around the loop only, so process start-up is not counted).
 * Usage: mutex_pair [N]  (default 10000000)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000000;
	long long start, end;

	/* one pair first: the shim takes its thread slot on first use */
	pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	start = now_ns();
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&m);
		pthread_mutex_unlock(&m);
	}
	end = now_ns();
	printf("ns_per_pair %.3f\n", (double)(end - start) / n);
	return 0;
}
