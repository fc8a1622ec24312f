/*
 * A ring of N threads (argv[1], default 5): thread i holds mutex i and
 * wants mutex (i + 1) % N.  Threads are named ring-0 .. ring-(N-1).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "contended.h"

static int n_threads;
static pthread_mutex_t *mutexes;
static pthread_barrier_t all_hold;

static void *philosopher(void *arg)
{
	int i = (int)(long)arg;

	pthread_mutex_lock(&mutexes[i]);
	pthread_barrier_wait(&all_hold);
	pthread_mutex_lock(&mutexes[(i + 1) % n_threads]);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t *threads;

	n_threads = argc > 1 ? atoi(argv[1]) : 5;
	if (n_threads < 2)
		return 2;
	mutexes = calloc(n_threads, sizeof(*mutexes));
	threads = calloc(n_threads, sizeof(*threads));
	pthread_barrier_init(&all_hold, NULL, n_threads + 1);
	for (int i = 0; i < n_threads; i++) {
		char name[16];

		pthread_mutex_init(&mutexes[i], NULL);
		pthread_create(&threads[i], NULL, philosopher, (void *)(long)i);
		snprintf(name, sizeof(name), "ring-%d", i);
		pthread_setname_np(threads[i], name);
	}
	pthread_barrier_wait(&all_hold);
	{
		pthread_mutex_t **wanted = calloc(n_threads, sizeof(*wanted));

		for (int i = 0; i < n_threads; i++)
			wanted[i] = &mutexes[i];
		until_contended(wanted, n_threads);
		free(wanted);
	}
	puts("ready");
	fflush(stdout);
	pthread_join(threads[0], NULL);
	return 0;
}
