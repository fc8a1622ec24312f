/*
 * C programs that never deadlock, for pydeadlock run --lock-order:
 *
 *   order_shapes SHAPE
 *
 * Threads run one after the other; each shape prints "ok".  "bad_"
 * shapes take mutexes in orders that could deadlock if their threads
 * overlapped; the others are correct however they overlap.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;

struct pair {
	pthread_mutex_t x, y;
};

static void in_turn(void *(*body)(void *), void *arg)
{
	pthread_t t;

	if (pthread_create(&t, NULL, body, arg) || pthread_join(t, NULL))
		abort();
}

static void nest(pthread_mutex_t *outer, pthread_mutex_t *inner)
{
	pthread_mutex_lock(outer);
	pthread_mutex_lock(inner);
	pthread_mutex_unlock(inner);
	pthread_mutex_unlock(outer);
}

static void *a_then_b(void *arg)
{
	(void)arg;
	nest(&lock_a, &lock_b);
	return NULL;
}

static void *b_then_a(void *arg)
{
	(void)arg;
	nest(&lock_b, &lock_a);
	return NULL;
}

/* holds b, and only tries a: backs off when busy, never blocks */
static void *b_then_try_a(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock_b);
	if (pthread_mutex_trylock(&lock_a) == 0)
		pthread_mutex_unlock(&lock_a);
	pthread_mutex_unlock(&lock_b);
	return NULL;
}

static void *x_then_y(void *arg)
{
	struct pair *p = arg;

	nest(&p->x, &p->y);
	return NULL;
}

static void *y_then_x(void *arg)
{
	struct pair *p = arg;

	nest(&p->y, &p->x);
	return NULL;
}

static struct pair *pair_new(void)
{
	struct pair *p = malloc(sizeof(*p));

	if (!p || pthread_mutex_init(&p->x, NULL) || pthread_mutex_init(&p->y, NULL))
		abort();
	return p;
}

int main(int argc, char **argv)
{
	const char *shape = argc > 1 ? argv[1] : "";

	if (!strcmp(shape, "bad_abba")) {
		in_turn(a_then_b, NULL);
		in_turn(b_then_a, NULL);
	} else if (!strcmp(shape, "bad_class")) {
		/* two objects, opposite orders: their class could deadlock */
		in_turn(x_then_y, pair_new());
		in_turn(y_then_x, pair_new());
	} else if (!strcmp(shape, "trylock")) {
		in_turn(a_then_b, NULL);
		in_turn(b_then_try_a, NULL);
	} else if (!strcmp(shape, "ordered")) {
		struct pair *p = pair_new();

		in_turn(a_then_b, NULL);
		in_turn(a_then_b, NULL);
		in_turn(x_then_y, p);
		in_turn(x_then_y, pair_new());
	} else {
		fprintf(stderr, "usage: order_shapes bad_abba|bad_class|trylock|ordered\n");
		return 2;
	}
	puts("ok");
	return 0;
}
