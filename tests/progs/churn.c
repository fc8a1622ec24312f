/*
 * Threads that come and go: the main thread keeps spawning short-lived
 * threads, each adds its number to a sum under a mutex and exits.  On
 * SIGTERM it stops, joins and prints whether the sum is exact.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

#define BATCH 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long sum;
static atomic_int stop;

static void *add(void *arg)
{
	pthread_mutex_lock(&lock);
	sum += (long)arg;
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void on_term(int sig)
{
	atomic_store(&stop, 1);
}

int main(void)
{
	long spawned = 0, expected = 0;

	signal(SIGTERM, on_term);
	puts("ready");
	fflush(stdout);
	while (!atomic_load(&stop)) {
		pthread_t t[BATCH];

		for (int i = 0; i < BATCH; i++) {
			spawned++;
			expected += spawned;
			while (pthread_create(&t[i], NULL, add, (void *)spawned))
				;	/* EAGAIN: retry */
		}
		for (int i = 0; i < BATCH; i++)
			pthread_join(t[i], NULL);
	}
	printf("threads %ld\n%s\n", spawned, sum == expected ? "ok" : "BROKEN");
	return 0;
}
