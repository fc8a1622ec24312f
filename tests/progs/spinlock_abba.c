/*
 * AB/BA on the program's own spinlocks, annotated with include/pydeadlock.h:
 * under pydeadlock run the runtime sees them as it sees pthread mutexes.
 * Without the shim the annotations do nothing (argv[1] = "once": take the
 * locks in one order only and finish, printing "ok").
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "include/pydeadlock.h"

struct spinlock {
	atomic_flag taken;
};

static struct spinlock a = { ATOMIC_FLAG_INIT }, b = { ATOMIC_FLAG_INIT };
static pthread_barrier_t both;
static int once;

static void spin_lock(struct spinlock *l)
{
	if (atomic_flag_test_and_set(&l->taken)) {
		pydeadlock_note_wait(l, 0);
		while (atomic_flag_test_and_set(&l->taken))
			sched_yield();
		pydeadlock_note_wait_end();
	}
	pydeadlock_note_acquired(l);
}

static void spin_unlock(struct spinlock *l)
{
	pydeadlock_note_released(l);
	atomic_flag_clear(&l->taken);
}

static void *first(void *arg)
{
	spin_lock(&a);
	pthread_barrier_wait(&both);
	spin_lock(&b);	/* LINE_FIRST_WAIT */
	spin_unlock(&b);
	spin_unlock(&a);
	return NULL;
}

static void *second(void *arg)
{
	if (once) {
		pthread_barrier_wait(&both);
		spin_lock(&a);
		spin_unlock(&a);
		return NULL;
	}
	spin_lock(&b);
	pthread_barrier_wait(&both);
	spin_lock(&a);	/* LINE_SECOND_WAIT */
	spin_unlock(&a);
	spin_unlock(&b);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t1, t2;

	once = argc > 1 && !strcmp(argv[1], "once");
	pthread_barrier_init(&both, NULL, 2);
	pthread_create(&t1, NULL, first, NULL);
	pthread_create(&t2, NULL, second, NULL);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	puts("ok");
	return 0;
}
