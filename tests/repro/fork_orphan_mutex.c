/*
 * Deadlock after fork: a pthread mutex is held by another thread when the
 * main thread calls fork(); the child, which has only the forking thread,
 * then locks the mutex and blocks forever.  POSIX: "the child process may
 * only execute async-signal-safe operations until ... one of the exec
 * functions is called" and the rationale of pthread_atfork()
 * (https://pubs.opengroup.org/onlinepubs/9699919799/functions/pthread_atfork.html,
 * https://man7.org/linux/man-pages/man2/fork.2.html).
 * Thread "refresher" locks table_lock and waits (sem_wait) for main to post
 * child_done, which main does only after the child exits.  Main forks while
 * refresher holds the lock; the child's only thread blocks in
 * pthread_mutex_lock (futex wait) on a mutex whose owner does not exist in
 * the child, so nobody could ever unlock it.  In the parent, main blocks in
 * waitpid() for the child and refresher in sem_wait().  Two processes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t held;
static sem_t child_done;

static void *refresher(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&table_lock);	/* HOLD:refresher */
	pthread_barrier_wait(&held);
	sem_wait(&child_done);	/* WAIT:refresher */
	pthread_mutex_unlock(&table_lock);
	return NULL;
}

int main(void)
{
	pthread_t t;
	pid_t pid;

	sem_init(&child_done, 0, 0);
	pthread_barrier_init(&held, NULL, 2);
	pthread_create(&t, NULL, refresher, NULL);
	pthread_setname_np(t, "refresher");
	pthread_barrier_wait(&held);
	puts("ready");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		pthread_mutex_lock(&table_lock);	/* WAIT:child */
		pthread_mutex_unlock(&table_lock);
		_exit(0);
	}
	waitpid(pid, NULL, 0);	/* WAIT:main */
	sem_post(&child_done);
	pthread_join(t, NULL);
	return 0;
}
