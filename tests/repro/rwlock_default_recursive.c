/*
 * Control (finishes): the shape of rwlock_recursive_read.c with glibc's
 * default rwlock kind (PTHREAD_RWLOCK_PREFER_READER_NP), under which a
 * reader that already holds a read lock gets a second one even while a
 * writer waits (https://man7.org/linux/man-pages/man3/pthread_rwlockattr_setkind_np.3.html).
 * Thread "reader" read-locks, waits until "writer" is blocked in
 * pthread_rwlock_wrlock() (/proc shows it in futex() on a word of the
 * rwlock), read-locks again and releases both; the writer then gets the
 * lock.  A tool must report no
 * deadlock (a writer waits behind a reader who waits for nothing).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_rwlock_t cfg_lock = PTHREAD_RWLOCK_INITIALIZER;
static sem_t have_read;
static volatile pid_t writer_tid;
static int cfg_value = 1;

/* Is thread tid asleep in futex() on a word of cfg_lock?  (x86_64: 202.) */
static int waits_on_rwlock(pid_t tid)
{
	char path[64], buf[128] = "";
	unsigned long addr = 0, lo = (unsigned long)&cfg_lock;
	int nr = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof buf, f))
		buf[0] = 0;
	fclose(f);
	if (sscanf(buf, "%d %lx", &nr, &addr) != 2)
		return 0;
	return nr == 202 && addr >= lo && addr < lo + sizeof cfg_lock;
}

static void *reader(void *arg)
{
	int v;

	(void)arg;
	pthread_rwlock_rdlock(&cfg_lock);
	sem_post(&have_read);
	while (!writer_tid || !waits_on_rwlock(writer_tid))
		usleep(1000);
	pthread_rwlock_rdlock(&cfg_lock);
	v = cfg_value;
	pthread_rwlock_unlock(&cfg_lock);
	pthread_rwlock_unlock(&cfg_lock);
	return (void *)(long)v;
}

static void *writer(void *arg)
{
	(void)arg;
	writer_tid = (pid_t)syscall(SYS_gettid);
	sem_wait(&have_read);
	pthread_rwlock_wrlock(&cfg_lock);
	cfg_value = 2;
	pthread_rwlock_unlock(&cfg_lock);
	return NULL;
}

int main(void)
{
	pthread_t r, w;
	void *seen;

	sem_init(&have_read, 0, 0);
	pthread_create(&r, NULL, reader, NULL);
	pthread_setname_np(r, "reader");
	pthread_create(&w, NULL, writer, NULL);
	pthread_setname_np(w, "writer");
	pthread_join(r, &seen);
	pthread_join(w, NULL);
	if ((long)seen != 1 || cfg_value != 2)
		return 1;
	puts("ok");
	return 0;
}
