/*
 * The lock-order tables alone (runtime/lockorder.c), in this process:
 * instances and classes, orders and their gates, loops between classes
 * and between instances of one class, concurrent writers, suppressions.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime/lockorder.h"

static struct lockorder *lo;

static void setup(void)
{
	lo = lockorder_create();
	ck_assert_ptr_nonnull(lo);
}

static void teardown(void)
{
	munmap(lo, sizeof(*lo));
}

/* A ready class of key k. */
static uint32_t class_of(uint64_t k)
{
	bool fresh;
	int c = lockorder_class(lo, k, 0, &fresh);

	ck_assert_int_ge(c, 0);
	if (fresh)
		lockorder_class_ready(lo, c, "a class", "site.py:1");
	return (uint32_t)c;
}

/* The order from -> to seen (classes, or instances when same). */
static struct lo_edge *order(bool same, uint32_t from, uint32_t to,
			     uint32_t from_class, uint32_t to_class,
			     const uint32_t *held, int n)
{
	bool fresh;
	struct lo_edge *e = lockorder_edge(lo, same, from, to, held, n, &fresh);

	ck_assert_ptr_nonnull(e);
	if (fresh) {
		e->from_class = from_class;
		e->to_class = to_class;
		lockorder_edge_ready(e);
	}
	return e;
}

struct found {
	int loops, len[8];
};

static void count_loop(const struct lockorder *l, bool same,
		       const struct lo_edge *const *loop, int n, void *arg)
{
	struct found *f = arg;

	(void)l;
	(void)same;
	(void)loop;
	if (f->loops < 8)
		f->len[f->loops] = n;
	f->loops++;
}

static int loops(bool same, struct found *f)
{
	memset(f, 0, sizeof(*f));
	return lockorder_loops(lo, same, NULL, count_loop, f);
}

START_TEST(test_instances)
{
	uint32_t id, cls, c = class_of(7), id2;

	ck_assert(!lockorder_instance(lo, 0x1000, &id, &cls));
	id = lockorder_instance_new(lo, 0x1000, c);
	ck_assert_uint_ne(id, 0);
	ck_assert(lockorder_instance(lo, 0x1000, &id2, &cls));
	ck_assert_uint_eq(id2, id);
	ck_assert_uint_eq(cls, c);
	/* made again at the same address: a new lock */
	id2 = lockorder_instance_new(lo, 0x1000, c);
	ck_assert_uint_ne(id2, id);
	lockorder_instance_end(lo, 0x1000);
	ck_assert(!lockorder_instance(lo, 0x1000, &id, &cls));
}
END_TEST

START_TEST(test_classes_by_key)
{
	bool fresh;
	int a = lockorder_class(lo, 1, 2, &fresh);

	ck_assert(fresh);
	lockorder_class_ready(lo, a, "made at x.py:3", "x.py:3");
	ck_assert_int_eq(lockorder_class(lo, 1, 2, &fresh), a);
	ck_assert(!fresh);
	ck_assert_int_ne(lockorder_class(lo, 1, 3, &fresh), a);
	ck_assert_str_eq(lockorder_str(lo, lo->classes[a].site), "x.py:3");
}
END_TEST

START_TEST(test_two_way_loop)
{
	uint32_t a = class_of(1), b = class_of(2), c = class_of(3);
	struct found f;

	order(false, a, b, a, b, NULL, 0);
	order(false, b, c, b, c, NULL, 0);
	ck_assert_int_eq(loops(false, &f), 0);
	order(false, c, a, c, a, NULL, 0);
	ck_assert_int_eq(loops(false, &f), 1);	/* one loop, found once */
	ck_assert_int_eq(f.len[0], 3);
	order(false, b, a, b, a, NULL, 0);
	ck_assert_int_eq(loops(false, &f), 2);	/* and A <-> B */
}
END_TEST

START_TEST(test_gate)
{
	uint32_t a = class_of(1), b = class_of(2);
	uint32_t gate[] = { 99 }, other[] = { 98 };
	struct found f;

	order(false, a, b, a, b, gate, 1);
	order(false, b, a, b, a, gate, 1);
	ck_assert_int_eq(loops(false, &f), 0);	/* both under 99 */
	order(false, b, a, b, a, other, 1);	/* once without it */
	ck_assert_int_eq(loops(false, &f), 1);
}
END_TEST

START_TEST(test_signal_class)
{
	uint32_t a = class_of(1), w = class_of(2);
	struct found f;

	order(false, a, w, a, w, NULL, 0);
	order(false, w, a, w, a, NULL, 0);
	ck_assert_int_eq(loops(false, &f), 1);
	atomic_fetch_or(&lo->classes[w].flags, LO_CLASS_SIGNAL);
	ck_assert_int_eq(loops(false, &f), 0);
}
END_TEST

START_TEST(test_same_class_instances)
{
	uint32_t k = class_of(1);
	struct found f;

	/* ids in increasing order: no loop */
	for (uint32_t i = 1; i < 5; i++)
		order(true, i, i + 1, k, k, NULL, 0);
	ck_assert_int_eq(loops(true, &f), 0);
	/* a ring of five */
	order(true, 5, 1, k, k, NULL, 0);
	ck_assert_int_eq(loops(true, &f), 1);
	ck_assert_int_eq(f.len[0], 5);
}
END_TEST

START_TEST(test_loop_through_new_edge_only)
{
	uint32_t a = class_of(1), b = class_of(2), c = class_of(3), d = class_of(4);
	struct found f = { 0 };
	struct lo_edge *e;

	order(false, a, b, a, b, NULL, 0);
	order(false, b, a, b, a, NULL, 0);
	e = order(false, c, d, c, d, NULL, 0);
	ck_assert_int_eq(lockorder_loops(lo, false, e, count_loop, &f), 0);
	e = order(false, d, c, d, c, NULL, 0);
	ck_assert_int_eq(lockorder_loops(lo, false, e, count_loop, &f), 1);
}
END_TEST

#define WRITERS 4
#define WRITES 2000

static void *writer(void *arg)
{
	uint32_t held[] = { (uint32_t)(uintptr_t)arg };

	for (uint32_t i = 0; i < WRITES; i++) {
		bool fresh;
		struct lo_edge *e = lockorder_edge(lo, false, i, i + 1, held, 1, &fresh);

		if (e && fresh) {
			e->from_class = 0;
			e->to_class = 0;
			lockorder_edge_ready(e);
		}
	}
	return NULL;
}

/* Writers racing on the same orders: each order once, its gates the
 * intersection (here: none in common). */
START_TEST(test_concurrent_writers)
{
	pthread_t t[WRITERS];
	uint32_t n = 0;

	class_of(0);
	for (uintptr_t i = 0; i < WRITERS; i++)
		pthread_create(&t[i], NULL, writer, (void *)(i + 100));
	for (int i = 0; i < WRITERS; i++)
		pthread_join(t[i], NULL);
	for (uint32_t i = 0; i < LO_EDGES; i++) {
		struct lo_edge *e = &lo->edges[i];

		if (!atomic_load(&e->key))
			continue;
		n++;
		ck_assert_uint_eq(atomic_load(&e->state), 2);
		for (int g = 0; g < LO_GATES; g++)
			ck_assert_uint_eq(atomic_load(&e->gates[g]), 0);
	}
	ck_assert_uint_eq(n, WRITES);
}
END_TEST

START_TEST(test_suppressions)
{
	char err[128];
	const char *ok = "# comment\n\nlock-order app.py:5 lib/x.py:7  # why\n"
			 "lock-order PyThread_allocate_lock\n";
	const char *two[] = { "/home/u/app.py:5", "/usr/lib/x.py:7" };
	const char *other[] = { "/home/u/app.py:5", "/usr/lib/y.py:7" };
	const char *one[] = { "PyThread_allocate_lock" };
	const char *suffix[] = { "/home/u/myapp.py:5", "/usr/lib/x.py:7" };

	ck_assert_int_eq(lockorder_suppressions_check(ok, err, sizeof(err)), 0);
	ck_assert(lockorder_suppressed(ok, two, 2));
	ck_assert(!lockorder_suppressed(ok, other, 2));
	ck_assert(lockorder_suppressed(ok, one, 1));
	ck_assert(!lockorder_suppressed(ok, two, 1));	/* not all of it */
	ck_assert(!lockorder_suppressed(ok, suffix, 2));	/* at a '/' only */
	ck_assert_int_eq(lockorder_suppressions_check("lock-order a\nlocks b\n",
						      err, sizeof(err)), 2);
	ck_assert_int_eq(lockorder_suppressions_check("\n  lock-order # x\n",
						      err, sizeof(err)), 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lockorder");
	TCase *tc = tcase_create("lockorder");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_instances);
	tcase_add_test(tc, test_classes_by_key);
	tcase_add_test(tc, test_two_way_loop);
	tcase_add_test(tc, test_gate);
	tcase_add_test(tc, test_signal_class);
	tcase_add_test(tc, test_same_class_instances);
	tcase_add_test(tc, test_loop_through_new_edge_only);
	tcase_add_test(tc, test_concurrent_writers);
	tcase_add_test(tc, test_suppressions);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
