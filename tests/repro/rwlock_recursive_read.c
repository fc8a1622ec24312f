/*
 * Deadlock: a recursive read lock behind a queued writer.  With a
 * writer-preferring rwlock (PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP) a
 * new read lock waits while a writer is queued, even if the reader already
 * holds a read lock; the man page says this kind exists for applications
 * that never take read locks recursively, since otherwise they deadlock
 * (https://man7.org/linux/man-pages/man3/pthread_rwlockattr_setkind_np.3.html;
 * POSIX leaves recursive rdlock behind a writer unspecified,
 * https://pubs.opengroup.org/onlinepubs/9699919799/functions/pthread_rwlock_rdlock.html).
 * Thread "reader" read-locks cfg_lock; thread "writer" then asks for the
 * write lock and waits behind the reader.  The reader waits until the
 * writer is queued (pthread_rwlock_tryrdlock() returns EBUSY for this kind
 * exactly then) and read-locks again in lookup(): it blocks behind the
 * writer (futex wait on the rwlock's __readers word), the writer blocks
 * behind the reader's first read lock (futex wait on __writers_futex).  Only
 * the reader could release its read lock and only the writer's acquisition
 * and release could let the second rdlock through.  Main blocks in
 * pthread_join(reader).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <unistd.h>

static pthread_rwlock_t cfg_lock;
static sem_t have_read;
static int cfg_value = 1;

static int lookup(void)
{
	int v;

	pthread_rwlock_rdlock(&cfg_lock);	/* WAIT:reader */
	v = cfg_value;
	pthread_rwlock_unlock(&cfg_lock);
	return v;
}

static void *reader(void *arg)
{
	int rc, v;

	(void)arg;
	pthread_rwlock_rdlock(&cfg_lock);	/* HOLD:reader */
	sem_post(&have_read);
	/* Go on once the writer is queued. */
	while ((rc = pthread_rwlock_tryrdlock(&cfg_lock)) != EBUSY) {
		if (rc == 0)
			pthread_rwlock_unlock(&cfg_lock);
		usleep(1000);
	}
	v = lookup();
	pthread_rwlock_unlock(&cfg_lock);
	return (void *)(long)v;
}

static void *writer(void *arg)
{
	(void)arg;
	sem_wait(&have_read);
	pthread_rwlock_wrlock(&cfg_lock);	/* WAIT:writer */
	cfg_value = 2;
	pthread_rwlock_unlock(&cfg_lock);
	return NULL;
}

int main(void)
{
	pthread_rwlockattr_t attr;
	pthread_t r, w;

	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
		PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&cfg_lock, &attr);
	sem_init(&have_read, 0, 0);
	pthread_create(&r, NULL, reader, NULL);
	pthread_setname_np(r, "reader");
	pthread_create(&w, NULL, writer, NULL);
	pthread_setname_np(w, "writer");
	puts("ready");
	fflush(stdout);
	pthread_join(r, NULL);	/* WAIT:main */
	pthread_join(w, NULL);
	return 0;
}
