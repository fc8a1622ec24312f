/*
 * fork in the middle of locking: stress_fork FORKS.  4 workers hammer a
 * mutex, a nested pair, a semaphore used as a lock and an rwlock, each
 * keeping its own counts, while the main thread forks FORKS times.  Each
 * child tries the workers' mutex (taking it only if it was free at the
 * fork), then uses fresh objects only: a mutex, a semaphore of value 1,
 * a counting semaphore, every 4th child a thread of its own taking the
 * fresh mutex; it leaves with _exit (status 0 when every call did what
 * it should, 1 else), as a forked child of a threaded program should.
 * The parent waits for each child; after each it also checks whether the
 * child's registry (/dev/shm/pydeadlock-PID, which only the child may
 * remove) was left behind (made since the fork: PIDs are reused), and
 * removes it.  Prints exact counts, "ok", then
 * "leaked_registries N" (always 0 without the shim).
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4

static pthread_mutex_t shared = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t outer = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t inner = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static sem_t semlock;
static long shared_count, nested_count, sem_count, rw_count;
static long mine[WORKERS];
static atomic_int stop;

static void *worker(void *arg)
{
	long id = (long)arg;

	while (!atomic_load(&stop)) {
		pthread_mutex_lock(&shared);
		shared_count++;
		pthread_mutex_unlock(&shared);

		pthread_mutex_lock(&outer);
		pthread_mutex_lock(&inner);
		nested_count++;
		pthread_mutex_unlock(&inner);
		pthread_mutex_unlock(&outer);

		while (sem_wait(&semlock) != 0)
			;
		sem_count++;
		sem_post(&semlock);

		pthread_rwlock_wrlock(&rw);
		rw_count++;
		pthread_rwlock_unlock(&rw);
		mine[id]++;
	}
	return NULL;
}

static pthread_mutex_t fresh;
static int child_value;

static void *child_thread(void *arg)
{
	if (pthread_mutex_lock(&fresh) != 0)
		return (void *)1;
	child_value++;
	pthread_mutex_unlock(&fresh);
	return NULL;
}

static int child(int n)
{
	sem_t one, zero;
	int bad = 0;

	if (pthread_mutex_trylock(&shared) == 0)	/* free at the fork */
		bad |= pthread_mutex_unlock(&shared) != 0;
	bad |= pthread_mutex_init(&fresh, NULL) != 0;
	bad |= pthread_mutex_lock(&fresh) != 0;
	child_value = 1;
	bad |= pthread_mutex_unlock(&fresh) != 0;
	bad |= sem_init(&one, 0, 1) != 0;
	bad |= sem_wait(&one) != 0;
	bad |= sem_post(&one) != 0;
	bad |= sem_init(&zero, 0, 0) != 0;
	bad |= sem_post(&zero) != 0;
	bad |= sem_wait(&zero) != 0;
	if (n % 4 == 0) {
		pthread_t t;
		void *rc = (void *)1;

		bad |= pthread_create(&t, NULL, child_thread, NULL) != 0 ||
		       pthread_join(t, &rc) != 0 || rc != NULL || child_value != 2;
	}
	bad |= sem_destroy(&one) != 0 || sem_destroy(&zero) != 0 ||
	       pthread_mutex_destroy(&fresh) != 0;
	return bad;
}

int main(int argc, char **argv)
{
	pthread_t t[WORKERS];
	long forks, ok_children = 0, leaked = 0, sum = 0;
	int ok;

	if (argc != 2) {
		fprintf(stderr, "usage: stress_fork FORKS\n");
		return 2;
	}
	forks = atol(argv[1]);
	sem_init(&semlock, 0, 1);
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	fflush(stdout);
	for (long i = 0; i < forks; i++) {
		char path[64];
		int status;
		struct stat st;
		struct timespec before;
		pid_t pid;

		/* the clock file times are taken from */
		clock_gettime(CLOCK_REALTIME_COARSE, &before);
		pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0)
			_exit(child((int)i));
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR) {
				perror("waitpid");
				return 1;
			}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok_children++;
		snprintf(path, sizeof(path), "/dev/shm/pydeadlock-%d", (int)pid);
		/* made since the fork (an older one is another process's) */
		if (stat(path, &st) == 0 &&
		    (st.st_mtim.tv_sec > before.tv_sec ||
		     (st.st_mtim.tv_sec == before.tv_sec &&
		      st.st_mtim.tv_nsec >= before.tv_nsec))) {
			leaked++;
			unlink(path);	/* counted; leave no litter */
		}
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(t[i], NULL);
		sum += mine[i];
	}
	ok = ok_children == forks && shared_count == sum && nested_count == sum &&
	     sem_count == sum && rw_count == sum && sum > 0;
	printf("children %ld exited 0: %ld\n", forks, ok_children);
	printf("counts exact: %s\n", shared_count == sum && nested_count == sum &&
	       sem_count == sum && rw_count == sum ? "yes" : "no");
	puts(ok ? "ok" : "BROKEN");
	printf("leaked_registries %ld\n", leaked);
	return ok ? 0 : 1;
}
