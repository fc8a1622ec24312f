/*
 * A busy program whose output must stay exact while it is attached to
 * again and again: 4 workers add to a shared counter under a mutex and
 * keep their own counts, one thread sleeps in short naps, one computes
 * without system calls.  On SIGTERM (or after argv[1] seconds) it stops
 * the workers and prints one line per check, then "ok" or "BROKEN".
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static long counts[WORKERS];
static atomic_int stop;
static atomic_long naps, spins;
static long naps_wanted_ns = 1000000;

static void *worker(void *arg)
{
	long i = (long)arg;

	while (!atomic_load(&stop)) {
		pthread_mutex_lock(&lock);
		counter++;
		counts[i]++;
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

static void *napper(void *arg)
{
	while (!atomic_load(&stop)) {
		struct timespec ts = { 0, naps_wanted_ns };

		/* interrupted naps are restarted by the kernel, never cut short */
		if (nanosleep(&ts, NULL) == 0)
			atomic_fetch_add(&naps, 1);
		else
			return (void *)1L;
	}
	return NULL;
}

static void *spinner(void *arg)
{
	volatile unsigned long x = 1;

	while (!atomic_load(&stop)) {
		for (int k = 0; k < 100000; k++)
			x = x * 6364136223846793005ul + 1442695040888963407ul;
		atomic_fetch_add(&spins, 1);
	}
	return NULL;
}

static void on_term(int sig)
{
	atomic_store(&stop, 1);
}

int main(int argc, char **argv)
{
	pthread_t w[WORKERS], n, s;
	int seconds = argc > 1 ? atoi(argv[1]) : 600;
	void *nap_rc;
	long sum = 0;

	signal(SIGTERM, on_term);
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&w[i], NULL, worker, (void *)i);
	pthread_create(&n, NULL, napper, NULL);
	pthread_create(&s, NULL, spinner, NULL);
	puts("ready");
	fflush(stdout);
	for (int t = 0; t < seconds * 10 && !atomic_load(&stop); t++)
		usleep(100000);
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(w[i], NULL);
		sum += counts[i];
	}
	pthread_join(n, &nap_rc);
	pthread_join(s, NULL);
	printf("counter %ld\nsum %ld\nnaps %ld\nspins %ld\nnap_errors %ld\n",
	       counter, sum, atomic_load(&naps), atomic_load(&spins),
	       (long)nap_rc);
	puts(counter == sum && nap_rc == NULL && counter > 0 ? "ok" : "BROKEN");
	return 0;
}
