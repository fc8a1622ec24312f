/*
 * An orphaned mutex: a thread locks it and exits; main then blocks on it
 * forever.  The owner recorded in the mutex no longer exists.
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lost = PTHREAD_MUTEX_INITIALIZER;

static void *take_and_leave(void *arg)
{
	pthread_mutex_lock(&lost);
	return NULL;
}

int main(void)
{
	pthread_t t;

	pthread_create(&t, NULL, take_and_leave, NULL);
	pthread_join(t, NULL);
	puts("ready");
	fflush(stdout);
	pthread_mutex_lock(&lost);	/* LINE_ORPHAN_WAIT */
	return 0;
}
