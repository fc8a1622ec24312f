/*
 * Deadlock between an application mutex and the dynamic loader's lock
 * taken by dl_iterate_phdr(), as in https://github.com/google/tcmalloc/issues/120
 * (one thread calls dl_iterate_phdr, whose callback takes a lock; another
 * holds that lock and calls dl_iterate_phdr).  glibc's dl_iterate_phdr()
 * holds the recursive loader lock GL(dl_load_write_lock) while it runs the
 * callback (https://man7.org/linux/man-pages/man3/dl_iterate_phdr.3.html).
 * Thread "updater" locks registry_lock; thread "scanner" then calls
 * dl_iterate_phdr() and, in its first callback (loader lock held), meets
 * updater at a barrier; updater calls dl_iterate_phdr() and blocks on the
 * loader lock held by scanner (futex wait in __lll_lock_wait), and
 * scanner's callback blocks on registry_lock held by updater.  Only updater
 * could unlock registry_lock and only scanner (by returning from
 * dl_iterate_phdr) the loader lock.  Main blocks in pthread_join(updater).
 * Side effect: every dlopen()/dlclose()/dl_iterate_phdr() in the process,
 * such as a tool's, blocks too.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <link.h>
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t step;
static int objects;

static int count_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)info; (void)size; (void)data;
	return 0;
}

static int register_object(struct dl_phdr_info *info, size_t size, void *data)
{
	int *first = data;

	(void)info; (void)size;
	if (*first) {
		*first = 0;
		pthread_barrier_wait(&step);	/* 2: loader lock is held */
	}
	pthread_mutex_lock(&registry_lock);	/* WAIT:scanner */
	objects++;
	pthread_mutex_unlock(&registry_lock);
	return 0;
}

static void *scanner(void *arg)
{
	int first = 1;

	(void)arg;
	pthread_barrier_wait(&step);	/* 1: updater holds registry_lock */
	dl_iterate_phdr(register_object, &first);	/* HOLD:scanner */
	return NULL;
}

static void *updater(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&registry_lock);	/* HOLD:updater */
	pthread_barrier_wait(&step);	/* 1 */
	pthread_barrier_wait(&step);	/* 2 */
	dl_iterate_phdr(count_object, NULL);	/* WAIT:updater */
	pthread_mutex_unlock(&registry_lock);
	return NULL;
}

int main(void)
{
	pthread_t s, u;

	pthread_barrier_init(&step, NULL, 2);
	pthread_create(&u, NULL, updater, NULL);
	pthread_setname_np(u, "updater");
	pthread_create(&s, NULL, scanner, NULL);
	pthread_setname_np(s, "scanner");
	puts("ready");
	fflush(stdout);
	pthread_join(u, NULL);	/* WAIT:main */
	pthread_join(s, NULL);
	printf("%d objects\n", objects);
	return 0;
}
