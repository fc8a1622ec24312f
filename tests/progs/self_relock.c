/* A plain mutex locked twice by its owner: a real deadlock of one thread. */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

int main(void)
{
	pthread_mutex_lock(&m);
	puts("ready");
	fflush(stdout);
	pthread_mutex_lock(&m);	/* LINE_RELOCK */
	return 0;
}
