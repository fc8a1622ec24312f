/*
 * AB/BA with no barrier: "one" takes a then b, "two" b then a, once each,
 * and main joins both.  The window is a few instructions: plain runs all
 * but never deadlock; `pydeadlock explore` finds the schedule that does.
 * Prints "ok 2" when both ran.
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;
static int done;

static void *one(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&a);
	pthread_mutex_lock(&b);	/* LINE_ONE_WAIT */
	done++;
	pthread_mutex_unlock(&b);
	pthread_mutex_unlock(&a);
	return NULL;
}

static void *two(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&b);
	pthread_mutex_lock(&a);	/* LINE_TWO_WAIT */
	done++;
	pthread_mutex_unlock(&a);
	pthread_mutex_unlock(&b);
	return NULL;
}

int main(void)
{
	pthread_t t1, t2;

	pthread_create(&t1, NULL, one, NULL);
	pthread_setname_np(t1, "one");
	pthread_create(&t2, NULL, two, NULL);
	pthread_setname_np(t2, "two");
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	printf("ok %d\n", done);
	return 0;
}
