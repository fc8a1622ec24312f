/*
 * Two independent AB/BA deadlocks that form at the same moment (a barrier
 * of four).  Under break both must be broken, the second one while the
 * first is being reported; each victim backs off and retries.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

static pthread_mutex_t m[4] = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
};
static pthread_barrier_t all_hold;
static int done[4];

static void *worker(void *arg)
{
	int i = (int)(long)arg, pair = i / 2 * 2;
	pthread_mutex_t *first = &m[pair + i % 2], *second = &m[pair + !(i % 2)];

	for (int attempt = 0;; attempt++) {
		pthread_mutex_lock(first);
		if (attempt == 0)
			pthread_barrier_wait(&all_hold);
		if (pthread_mutex_lock(second) == 0)
			break;
		pthread_mutex_unlock(first);	/* EDEADLK: back off */
		sched_yield();
	}
	done[i] = 1;
	pthread_mutex_unlock(second);
	pthread_mutex_unlock(first);
	return NULL;
}

int main(void)
{
	pthread_t t[4];

	pthread_barrier_init(&all_hold, NULL, 4);
	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	puts(done[0] && done[1] && done[2] && done[3] ? "ok" : "BROKEN");
	return 0;
}
