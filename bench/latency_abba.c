/*
 * bench/shim.sh's detection latency, native: "alpha" holds A and blocks on
 * B; once alpha sits in futex, "beta" (holding B) takes a CLOCK_MONOTONIC
 * timestamp, prints it as "t0 NS" on stdout (flushed) and blocks on A,
 * which closes the cycle.  Under pydeadlock run the shim reports then;
 * without it the program hangs.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mutex_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold;
static volatile pid_t alpha_tid;

/* whether thread TID sits in futex(2) (syscall 202 on x86_64) */
static int in_futex(pid_t tid)
{
	char path[64], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return !strncmp(buf, "202 ", 4);
}

static void *alpha(void *arg)
{
	alpha_tid = syscall(SYS_gettid);
	pthread_mutex_lock(&mutex_a);
	pthread_barrier_wait(&both_hold);
	pthread_mutex_lock(&mutex_b);	/* waits: no cycle yet */
	return NULL;
}

static void *beta(void *arg)
{
	struct timespec ts, pause = { 0, 1000000 };

	pthread_mutex_lock(&mutex_b);
	pthread_barrier_wait(&both_hold);
	for (int i = 0; i < 2000 && !in_futex(alpha_tid); i++)
		nanosleep(&pause, NULL);
	nanosleep(&pause, NULL);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("t0 %lld\n", ts.tv_sec * 1000000000LL + ts.tv_nsec);
	fflush(stdout);
	pthread_mutex_lock(&mutex_a);	/* closes the cycle */
	return NULL;
}

int main(void)
{
	pthread_t a, b;

	pthread_barrier_init(&both_hold, NULL, 2);
	pthread_create(&a, NULL, alpha, NULL);
	pthread_create(&b, NULL, beta, NULL);
	pthread_join(a, NULL);
	return 0;
}
