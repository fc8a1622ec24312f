/*
 * Not a deadlock: the AB/BA shape, but with pthread_mutex_timedlock (60 s)
 * for the second lock, plus a thread sleeping and one blocked reading a
 * pipe.  Attach must report no deadlock (a potential one at most).
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mutex_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold;
static int pipe_fds[2];

static void timed_lock(pthread_mutex_t *m)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 60;
	if (pthread_mutex_timedlock(m, &until) == 0)
		pthread_mutex_unlock(m);
}

static void *first(void *arg)
{
	pthread_mutex_lock(&mutex_a);
	pthread_barrier_wait(&both_hold);
	timed_lock(&mutex_b);
	return NULL;
}

static void *second(void *arg)
{
	pthread_mutex_lock(&mutex_b);
	pthread_barrier_wait(&both_hold);
	timed_lock(&mutex_a);
	return NULL;
}

static void *sleeper(void *arg)
{
	sleep(60);
	return NULL;
}

static void *reader(void *arg)
{
	char c;

	return (void *)(long)read(pipe_fds[0], &c, 1);
}

int main(void)
{
	pthread_t t[4];

	pipe(pipe_fds);
	pthread_barrier_init(&both_hold, NULL, 3);
	pthread_create(&t[0], NULL, first, NULL);
	pthread_create(&t[1], NULL, second, NULL);
	pthread_create(&t[2], NULL, sleeper, NULL);
	pthread_setname_np(t[2], "sleeper");
	pthread_create(&t[3], NULL, reader, NULL);
	pthread_setname_np(t[3], "reader");
	pthread_barrier_wait(&both_hold);
	puts("ready");
	fflush(stdout);
	sleep(60);
	return 0;
}
