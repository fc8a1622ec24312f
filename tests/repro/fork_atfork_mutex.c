/*
 * Control (finishes): the shape of fork_orphan_mutex.c made safe with
 * pthread_atfork() handlers, the remedy its rationale describes
 * (https://pubs.opengroup.org/onlinepubs/9699919799/functions/pthread_atfork.html):
 * the prepare handler locks table_lock before fork() (waiting for the
 * thread that holds it to let go) and the parent and child handlers unlock
 * it, so the child can lock it.  Thread "refresher" holds table_lock for
 * 0.5 s while main forks.  A tool must report no deadlock.  Two processes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t held;

static void prepare(void) { pthread_mutex_lock(&table_lock); }
static void release(void) { pthread_mutex_unlock(&table_lock); }

static void *refresher(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&table_lock);
	pthread_barrier_wait(&held);
	usleep(500000);
	pthread_mutex_unlock(&table_lock);
	return NULL;
}

int main(void)
{
	pthread_t t;
	pid_t pid;
	int status;

	pthread_atfork(prepare, release, release);
	pthread_barrier_init(&held, NULL, 2);
	pthread_create(&t, NULL, refresher, NULL);
	pthread_setname_np(t, "refresher");
	pthread_barrier_wait(&held);
	pid = fork();
	if (pid == 0) {
		pthread_mutex_lock(&table_lock);
		pthread_mutex_unlock(&table_lock);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return 1;
	pthread_join(t, NULL);
	puts("ok");
	return 0;
}
