/*
 * The classic AB/BA deadlock: "alpha" holds A and wants B, "beta" holds B
 * and wants A; main joins alpha.  Prints "ready" once both hold their
 * first mutex.
 */
#include <pthread.h>
#include <stdio.h>

#include "contended.h"

static pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mutex_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold;

static void *alpha(void *arg)
{
	pthread_mutex_lock(&mutex_a);
	pthread_barrier_wait(&both_hold);
	pthread_mutex_lock(&mutex_b);	/* LINE_ALPHA_WAIT */
	return NULL;
}

static void *beta(void *arg)
{
	pthread_mutex_lock(&mutex_b);
	pthread_barrier_wait(&both_hold);
	pthread_mutex_lock(&mutex_a);	/* LINE_BETA_WAIT */
	return NULL;
}

int main(void)
{
	pthread_t a, b;

	pthread_barrier_init(&both_hold, NULL, 3);
	pthread_create(&a, NULL, alpha, NULL);
	pthread_setname_np(a, "alpha");
	pthread_create(&b, NULL, beta, NULL);
	pthread_setname_np(b, "beta");
	pthread_barrier_wait(&both_hold);
	until_contended((pthread_mutex_t *[]){ &mutex_a, &mutex_b }, 2);
	printf("ready %p %p\n", (void *)&mutex_a, (void *)&mutex_b);
	fflush(stdout);
	pthread_join(a, NULL);
	return 0;
}
