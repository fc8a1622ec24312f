/*
 * Signals during waits: stress_signals ROUNDS PER_ROUND STORM.
 * SIGUSR1's handler (installed without SA_RESTART) only counts.
 *
 * Blocked waits: one thread each blocks ROUNDS times in
 * pthread_mutex_lock (on a mutex the main thread holds), sem_wait (on a
 * semaphore of value 1 the main thread holds) and pthread_cond_wait (for
 * a predicate the main thread sets).  Each time, once the thread sleeps
 * in futex (read from /proc/self/task/TID/syscall), the main thread sends
 * it PER_ROUND signals, each after the last was handled and the thread
 * went back to sleep, then lets it through.  POSIX: pthread_mutex_lock
 * and pthread_cond_wait never fail with EINTR (the condition wait may
 * return early; the predicate loop copes); sem_wait fails with EINTR on
 * each signal its handler caught, here exactly ROUNDS * PER_ROUND times.
 *
 * Storm: 4 workers hammer a mutex, a semaphore used as a lock (retrying
 * on EINTR) and a condition variable (timed waits) while the main thread
 * sends them STORM real-time signals (SIGRTMIN: queued, so none merge)
 * as fast as it can.  That handler also posts a semaphore of value 0
 * (sem_post is async-signal-safe), which a consumer thread waits for
 * STORM times in all, between rounds on the workers' mutex: every signal
 * is handled, every post is seen, counts exact.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WORKERS 4
#define SLOTS (3 + WORKERS)

static atomic_long handled[SLOTS];
static __thread int my_index = -1;
static atomic_int tids[SLOTS];

static void on_usr1(int sig)
{
	int saved = errno;

	if (my_index >= 0)
		atomic_fetch_add(&handled[my_index], 1);
	errno = saved;
}

static sem_t wake;		/* value 0: posted by the SIGRTMIN handler */

static void on_rt(int sig)
{
	int saved = errno;

	if (my_index >= 0)
		atomic_fetch_add(&handled[my_index], 1);
	sem_post(&wake);
	errno = saved;
}

static long rounds, per_round, storm;

/* ---- blocked waits ---- */

static pthread_mutex_t held_mutex = PTHREAD_MUTEX_INITIALIZER;
static sem_t held_sem;
static pthread_mutex_t cond_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long cond_round;		/* under cond_mutex */
static atomic_long waiting_round[3];	/* the round a waiter is about to wait in */
static atomic_long passed[3];	/* rounds through */
static atomic_long relocked[2];	/* the main thread holds it again after */
static atomic_long errors, eintr;

static void *mutex_waiter(void *arg)
{
	my_index = 0;
	atomic_store(&tids[0], (int)syscall(SYS_gettid));
	for (long r = 1; r <= rounds; r++) {
		atomic_store(&waiting_round[0], r);
		if (pthread_mutex_lock(&held_mutex) != 0)
			atomic_fetch_add(&errors, 1);
		atomic_fetch_add(&passed[0], 1);
		pthread_mutex_unlock(&held_mutex);
		while (atomic_load(&relocked[0]) < r)	/* main holds it again */
			sched_yield();
	}
	return NULL;
}

static void *sem_waiter(void *arg)
{
	my_index = 1;
	atomic_store(&tids[1], (int)syscall(SYS_gettid));
	for (long r = 1; r <= rounds; r++) {
		atomic_store(&waiting_round[1], r);
		while (sem_wait(&held_sem) != 0) {
			if (errno == EINTR)
				atomic_fetch_add(&eintr, 1);
			else
				atomic_fetch_add(&errors, 1);
		}
		atomic_fetch_add(&passed[1], 1);
		sem_post(&held_sem);
		while (atomic_load(&relocked[1]) < r)
			sched_yield();
	}
	return NULL;
}

static void *cond_waiter(void *arg)
{
	my_index = 2;
	atomic_store(&tids[2], (int)syscall(SYS_gettid));
	for (long r = 1; r <= rounds; r++) {
		pthread_mutex_lock(&cond_mutex);
		atomic_store(&waiting_round[2], r);
		while (cond_round < r)
			if (pthread_cond_wait(&cond, &cond_mutex) != 0)
				atomic_fetch_add(&errors, 1);
		atomic_fetch_add(&passed[2], 1);
		pthread_mutex_unlock(&cond_mutex);
	}
	return NULL;
}

/* is thread tid asleep in futex(2)? */
static int in_futex(int tid)
{
	char path[64], buf[64];
	FILE *f;
	int nr = -1;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f))
		nr = atoi(buf);
	fclose(f);
	return nr == SYS_futex;
}

static void wait_asleep(int i, long r)
{
	while (atomic_load(&waiting_round[i]) != r || !in_futex(atomic_load(&tids[i])))
		usleep(50);
}

/* PER_ROUND signals to waiter i, each handled before the next */
static void pester(int i, pthread_t t, long r)
{
	for (long k = 0; k < per_round; k++) {
		long before = atomic_load(&handled[i]);

		wait_asleep(i, r);
		pthread_kill(t, SIGUSR1);
		while (atomic_load(&handled[i]) == before)
			sched_yield();
	}
}

/* ---- storm ---- */

static pthread_mutex_t storm_mutex = PTHREAD_MUTEX_INITIALIZER;
static sem_t storm_sem;
static pthread_cond_t storm_cond = PTHREAD_COND_INITIALIZER;
static long storm_count, storm_sem_count;
static atomic_int storm_stop, storm_started;
static long storm_mine[WORKERS];

static void *storm_worker(void *arg)
{
	long id = (long)arg;

	my_index = 3 + (int)id;
	atomic_fetch_add(&storm_started, 1);
	while (!atomic_load(&storm_stop)) {
		pthread_mutex_lock(&storm_mutex);
		storm_count++;
		if (storm_count % 64 == 0)	/* a pass through a condition wait */
			pthread_cond_broadcast(&storm_cond);
		pthread_mutex_unlock(&storm_mutex);
		while (sem_wait(&storm_sem) != 0)
			if (errno != EINTR)
				atomic_fetch_add(&errors, 1);
		storm_sem_count++;
		sem_post(&storm_sem);
		storm_mine[id]++;
		if (id == 0 && storm_mine[id] % 16 == 0) {
			struct timespec t;

			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_nsec += 100000;
			if (t.tv_nsec >= 1000000000) {
				t.tv_sec++;
				t.tv_nsec -= 1000000000;
			}
			pthread_mutex_lock(&storm_mutex);
			pthread_cond_timedwait(&storm_cond, &storm_mutex, &t);
			pthread_mutex_unlock(&storm_mutex);
		}
	}
	return NULL;
}

static long woken;

static void *consumer(void *arg)
{
	for (long k = 0; k < storm; k++) {
		while (sem_wait(&wake) != 0)
			if (errno != EINTR)
				atomic_fetch_add(&errors, 1);
		woken++;
		if (k % 16 == 0) {
			pthread_mutex_lock(&storm_mutex);
			pthread_mutex_unlock(&storm_mutex);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	pthread_t w[3], sw[WORKERS], cons;
	long storm_handled = 0, total_mine = 0;
	int ok;

	if (argc != 4) {
		fprintf(stderr, "usage: stress_signals ROUNDS PER_ROUND STORM\n");
		return 2;
	}
	rounds = atol(argv[1]);
	per_round = atol(argv[2]);
	storm = atol(argv[3]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = 0;	/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_rt;
	sigaction(SIGRTMIN, &sa, NULL);
	sem_init(&wake, 0, 0);
	sem_init(&held_sem, 0, 1);
	sem_init(&storm_sem, 0, 1);

	/* blocked waits */
	pthread_mutex_lock(&held_mutex);
	while (sem_wait(&held_sem) != 0)
		;
	pthread_create(&w[0], NULL, mutex_waiter, NULL);
	pthread_create(&w[1], NULL, sem_waiter, NULL);
	pthread_create(&w[2], NULL, cond_waiter, NULL);
	for (long r = 1; r <= rounds; r++) {
		pester(0, w[0], r);
		pthread_mutex_unlock(&held_mutex);
		while (atomic_load(&passed[0]) < r)
			sched_yield();
		pthread_mutex_lock(&held_mutex);
		atomic_store(&relocked[0], r);

		pester(1, w[1], r);
		sem_post(&held_sem);
		while (atomic_load(&passed[1]) < r)
			sched_yield();
		while (sem_wait(&held_sem) != 0)
			;
		atomic_store(&relocked[1], r);

		pester(2, w[2], r);
		pthread_mutex_lock(&cond_mutex);
		cond_round = r;
		pthread_cond_signal(&cond);
		pthread_mutex_unlock(&cond_mutex);
		while (atomic_load(&passed[2]) < r)
			sched_yield();
	}
	pthread_mutex_unlock(&held_mutex);
	sem_post(&held_sem);
	for (int i = 0; i < 3; i++)
		pthread_join(w[i], NULL);

	/* storm */
	pthread_create(&cons, NULL, consumer, NULL);
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&sw[i], NULL, storm_worker, (void *)i);
	while (atomic_load(&storm_started) < WORKERS)	/* handlers know them */
		sched_yield();
	for (long k = 0; k < storm; k++) {
		union sigval v = { .sival_int = (int)k };

		while (pthread_sigqueue(sw[k % WORKERS], SIGRTMIN, v) != 0)
			sched_yield();	/* EAGAIN: too many queued */
	}
	for (int spins = 0; spins < 60000; spins++) {
		long sum = 0;

		for (int i = 0; i < WORKERS; i++)
			sum += atomic_load(&handled[3 + i]);
		if (sum >= storm)
			break;
		usleep(1000);
	}
	atomic_store(&storm_stop, 1);
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(sw[i], NULL);
		storm_handled += atomic_load(&handled[3 + i]);
		total_mine += storm_mine[i];
	}

	printf("mutex rounds %ld signals %ld\n", atomic_load(&passed[0]), atomic_load(&handled[0]));
	printf("sem rounds %ld signals %ld eintr %ld\n", atomic_load(&passed[1]),
	       atomic_load(&handled[1]), atomic_load(&eintr));
	printf("cond rounds %ld signals %ld\n", atomic_load(&passed[2]), atomic_load(&handled[2]));
	pthread_join(cons, NULL);
	printf("storm signals %ld posts seen %ld\n", storm_handled, woken);
	printf("errors %ld\n", atomic_load(&errors));
	ok = atomic_load(&passed[0]) == rounds && atomic_load(&passed[1]) == rounds &&
	     atomic_load(&passed[2]) == rounds &&
	     atomic_load(&handled[0]) == rounds * per_round &&
	     atomic_load(&handled[1]) == rounds * per_round &&
	     atomic_load(&handled[2]) == rounds * per_round &&
	     atomic_load(&eintr) == rounds * per_round &&
	     storm_handled == storm && woken == storm && atomic_load(&errors) == 0 &&
	     storm_count == total_mine && storm_sem_count == total_mine;
	puts(ok ? "ok" : "BROKEN");
	if (!ok)
		printf("storm_count %ld storm_sem_count %ld sum %ld\n", storm_count,
		       storm_sem_count, total_mine);
	return ok ? 0 : 1;
}
