/*
 * A victim that learns nothing: on EDEADLK it retries at once without
 * letting go of what it holds, so it walks straight back into the same
 * deadlock.  Under break, pydeadlock must call that a livelock and stop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both;

static void *stubborn(void *arg)
{
	pthread_mutex_t *first = arg ? &a : &b, *second = arg ? &b : &a;

	pthread_mutex_lock(first);
	pthread_barrier_wait(&both);
	while (pthread_mutex_lock(second) == EDEADLK)
		;	/* retry, still holding first */
	pthread_mutex_unlock(second);
	pthread_mutex_unlock(first);
	return NULL;
}

int main(void)
{
	pthread_t t1, t2;

	pthread_barrier_init(&both, NULL, 2);
	pthread_create(&t1, NULL, stubborn, (void *)1);
	pthread_create(&t2, NULL, stubborn, NULL);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	puts("finished");
	return 0;
}
