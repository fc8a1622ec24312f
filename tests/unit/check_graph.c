/* Unit tests of the wait-for graph and the verdict built on it. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/verdict.h"
#include "analysis/waitfor_graph.h"
#include "common/model.h"

struct found {
	int n_cycles;
	int len[16];
	int nodes[16][64];
};

static void collect(const int *nodes, int n, void *ctx)
{
	struct found *f = ctx;

	if (f->n_cycles < 16) {
		f->len[f->n_cycles] = n;
		memcpy(f->nodes[f->n_cycles], nodes, (n < 64 ? n : 64) * sizeof(int));
	}
	f->n_cycles++;
}

/* Every consecutive pair of the reported cycle must be an edge we added. */
static int is_edge(int (*edges)[2], int n, int from, int to)
{
	for (int i = 0; i < n; i++)
		if (edges[i][0] == from && edges[i][1] == to)
			return 1;
	return 0;
}

START_TEST(test_no_edges)
{
	struct waitfor_graph *g = waitfor_graph_new(10);
	struct found f = { 0 };

	ck_assert_int_eq(waitfor_graph_cycles(g, collect, &f), 0);
	waitfor_graph_free(g);
}
END_TEST

START_TEST(test_empty_graph)
{
	struct waitfor_graph *g = waitfor_graph_new(0);
	struct found f = { 0 };

	ck_assert_int_eq(waitfor_graph_cycles(g, collect, &f), 0);
	ck_assert_int_eq(waitfor_graph_add_edge(g, 0, 0), -1);
	waitfor_graph_free(g);
}
END_TEST

START_TEST(test_self_loop)
{
	struct waitfor_graph *g = waitfor_graph_new(3);
	struct found f = { 0 };

	waitfor_graph_add_edge(g, 0, 1);
	waitfor_graph_add_edge(g, 2, 2);
	ck_assert_int_eq(waitfor_graph_cycles(g, collect, &f), 1);
	ck_assert_int_eq(f.len[0], 1);
	ck_assert_int_eq(f.nodes[0][0], 2);
	waitfor_graph_free(g);
}
END_TEST

START_TEST(test_two_cycle_in_order)
{
	struct waitfor_graph *g = waitfor_graph_new(4);
	struct found f = { 0 };

	waitfor_graph_add_edge(g, 3, 1);	/* 3 waits on the cycle: not in it */
	waitfor_graph_add_edge(g, 1, 2);
	waitfor_graph_add_edge(g, 2, 1);
	ck_assert_int_eq(waitfor_graph_cycles(g, collect, &f), 1);
	ck_assert_int_eq(f.len[0], 2);
	ck_assert(f.nodes[0][0] != 3 && f.nodes[0][1] != 3);
	ck_assert_int_ne(f.nodes[0][0], f.nodes[0][1]);
	waitfor_graph_free(g);
}
END_TEST

START_TEST(test_bad_edges)
{
	struct waitfor_graph *g = waitfor_graph_new(2);

	ck_assert_int_eq(waitfor_graph_add_edge(g, -1, 0), -1);
	ck_assert_int_eq(waitfor_graph_add_edge(g, 0, 2), -1);
	ck_assert_int_eq(waitfor_graph_add_edge(g, 0, 1), 0);
	waitfor_graph_free(g);
}
END_TEST

/* A chain of 100000 nodes closing into one ring: no recursion, one cycle. */
START_TEST(test_long_ring)
{
	enum { N = 100000 };
	struct waitfor_graph *g = waitfor_graph_new(N);
	struct found f = { 0 };

	for (int i = 0; i < N; i++)
		waitfor_graph_add_edge(g, i, (i + 1) % N);
	ck_assert_int_eq(waitfor_graph_cycles(g, collect, &f), 1);
	ck_assert_int_eq(f.len[0], N);
	for (int i = 0; i + 1 < 64; i++)
		ck_assert_int_eq(f.nodes[0][i + 1], (f.nodes[0][i] + 1) % N);
	waitfor_graph_free(g);
}
END_TEST

/* A long chain that never closes: no cycle. */
START_TEST(test_long_chain)
{
	enum { N = 100000 };
	struct waitfor_graph *g = waitfor_graph_new(N);
	struct found f = { 0 };

	for (int i = 0; i + 1 < N; i++)
		waitfor_graph_add_edge(g, i, i + 1);
	ck_assert_int_eq(waitfor_graph_cycles(g, collect, &f), 0);
	waitfor_graph_free(g);
}
END_TEST

/* Many components: 50 rings of 3, 50 chains; exactly 50 cycles of 3. */
START_TEST(test_many_components)
{
	enum { RINGS = 50 };
	struct waitfor_graph *g = waitfor_graph_new(RINGS * 6);
	int edges[RINGS * 6][2], n_edges = 0;
	struct found f = { 0 };

	for (int r = 0; r < RINGS; r++) {
		int base = r * 6;

		for (int k = 0; k < 3; k++) {
			edges[n_edges][0] = base + k;
			edges[n_edges][1] = base + (k + 1) % 3;
			n_edges++;
		}
		/* a chain hanging off the ring */
		edges[n_edges][0] = base + 3;
		edges[n_edges][1] = base + 4;
		n_edges++;
		edges[n_edges][0] = base + 4;
		edges[n_edges][1] = base;
		n_edges++;
	}
	for (int i = 0; i < n_edges; i++)
		waitfor_graph_add_edge(g, edges[i][0], edges[i][1]);
	ck_assert_int_eq(waitfor_graph_cycles(g, collect, &f), RINGS);
	for (int c = 0; c < 16; c++) {
		ck_assert_int_eq(f.len[c], 3);
		for (int k = 0; k < 3; k++)
			ck_assert(is_edge(edges, n_edges, f.nodes[c][k],
					  f.nodes[c][(k + 1) % 3]));
	}
	waitfor_graph_free(g);
}
END_TEST

/* Two cycles sharing a node form one component: one cycle is reported. */
START_TEST(test_figure_eight)
{
	struct waitfor_graph *g = waitfor_graph_new(5);
	int edges[][2] = { { 0, 1 }, { 1, 0 }, { 0, 2 }, { 2, 3 }, { 3, 0 } };
	struct found f = { 0 };

	for (int i = 0; i < 5; i++)
		waitfor_graph_add_edge(g, edges[i][0], edges[i][1]);
	ck_assert_int_eq(waitfor_graph_cycles(g, collect, &f), 1);
	for (int k = 0; k < f.len[0]; k++)
		ck_assert(is_edge(edges, 5, f.nodes[0][k],
				  f.nodes[0][(k + 1) % f.len[0]]));
	waitfor_graph_free(g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("waitfor_graph");
	TCase *tc = tcase_create("graph");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_no_edges);
	tcase_add_test(tc, test_empty_graph);
	tcase_add_test(tc, test_self_loop);
	tcase_add_test(tc, test_two_cycle_in_order);
	tcase_add_test(tc, test_bad_edges);
	tcase_add_test(tc, test_long_ring);
	tcase_add_test(tc, test_long_chain);
	tcase_add_test(tc, test_many_components);
	tcase_add_test(tc, test_figure_eight);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
