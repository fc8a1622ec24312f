/*
 * until_contended: wait, at most about two seconds, until every mutex
 * of a set has a sleeping waiter (glibc's lock word reads 2), so that a
 * test program prints "ready" only once its threads have left the
 * barrier and block where the test expects them: a barrier wait is a
 * futex wait too, and a tester counting futex sleepers would otherwise
 * look too early.  Bounded because under `run --on-deadlock=break` a
 * wait may end before it ever sleeps.
 */
#ifndef PYDEADLOCK_TEST_CONTENDED_H
#define PYDEADLOCK_TEST_CONTENDED_H

#include <pthread.h>
#include <time.h>

static inline void until_contended(pthread_mutex_t *const *mutexes, int n)
{
	const struct timespec tick = { 0, 1000000 };

	for (int tries = 0; tries < 2000; tries++) {
		int waited = 0;

		for (int i = 0; i < n; i++)
			waited += __atomic_load_n(&mutexes[i]->__data.__lock,
						  __ATOMIC_ACQUIRE) == 2;
		if (waited == n)
			return;
		nanosleep(&tick, NULL);
	}
}

#endif
