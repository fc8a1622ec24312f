/*
 * Break latency, C: "closer" takes B, waits until "first" (holding A) is
 * blocked on B... no: first holds A and blocks on B held by closer; closer
 * then locks A, closing the cycle; as the newest waiter it is the victim.
 * Prints the microseconds from just before that lock call to its EDEADLK.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both;

static long long now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000LL + t.tv_nsec / 1000;
}

static void *first(void *arg)
{
	pthread_mutex_lock(&a);
	pthread_barrier_wait(&both);
	pthread_mutex_lock(&b);		/* blocks: closer holds b */
	pthread_mutex_unlock(&b);
	pthread_mutex_unlock(&a);
	return NULL;
}

int main(void)
{
	pthread_t t;
	long long t0, t1;
	int rc;

	pthread_barrier_init(&both, NULL, 2);
	pthread_mutex_lock(&b);
	pthread_create(&t, NULL, first, NULL);
	pthread_barrier_wait(&both);
	usleep(20000);			/* first is blocked on b by now */
	t0 = now_us();
	rc = pthread_mutex_lock(&a);	/* closes the cycle */
	t1 = now_us();
	if (rc != EDEADLK) {
		fprintf(stderr, "break_latency: lock returned %d, not EDEADLK\n", rc);
		return 1;
	}
	pthread_mutex_unlock(&b);	/* back off: first goes on */
	pthread_join(t, NULL);
	printf("%lld\n", t1 - t0);
	return 0;
}
