/*
 * Everything blocked, no owner cycle: two threads wait untimed on a
 * condition variable nobody will signal, a third on a semaphore nobody will
 * post, and main joins the first.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static sem_t never_posted;

static void *cond_waiter(void *arg)
{
	pthread_mutex_lock(&m);
	for (;;)
		pthread_cond_wait(&never, &m);
	return NULL;
}

static void *sem_waiter(void *arg)
{
	sem_wait(&never_posted);
	return NULL;
}

int main(void)
{
	pthread_t t[3];

	sem_init(&never_posted, 0, 0);
	pthread_create(&t[0], NULL, cond_waiter, NULL);
	pthread_create(&t[1], NULL, cond_waiter, NULL);
	pthread_create(&t[2], NULL, sem_waiter, NULL);
	puts("ready");
	fflush(stdout);
	pthread_join(t[0], NULL);
	return 0;
}
