#include <stdlib.h>
#include <string.h>

#include "analysis/waitfor_graph.h"

struct edge {
	int from, to;
};

struct waitfor_graph {
	int n;
	struct edge *edges;
	int n_edges, cap_edges;
	int *first;	/* CSR: out-edges of v are adj[first[v] .. first[v+1]) */
	int *adj;
};

struct waitfor_graph *waitfor_graph_new(int n_nodes)
{
	struct waitfor_graph *g;

	if (n_nodes < 0)
		return NULL;
	g = calloc(1, sizeof(*g));
	if (g)
		g->n = n_nodes;
	return g;
}

void waitfor_graph_free(struct waitfor_graph *g)
{
	if (!g)
		return;
	free(g->edges);
	free(g->first);
	free(g->adj);
	free(g);
}

int waitfor_graph_add_edge(struct waitfor_graph *g, int from, int to)
{
	if (from < 0 || from >= g->n || to < 0 || to >= g->n)
		return -1;
	if (g->n_edges == g->cap_edges) {
		int cap = g->cap_edges ? 2 * g->cap_edges : 16;
		struct edge *e = realloc(g->edges, cap * sizeof(*e));

		if (!e)
			return -1;
		g->edges = e;
		g->cap_edges = cap;
	}
	g->edges[g->n_edges].from = from;
	g->edges[g->n_edges].to = to;
	g->n_edges++;
	return 0;
}

/* Build the CSR arrays from the edge list (counting sort by source). */
static int build_adjacency(struct waitfor_graph *g)
{
	free(g->first);
	free(g->adj);
	g->first = calloc(g->n + 1, sizeof(int));
	g->adj = malloc((g->n_edges ? g->n_edges : 1) * sizeof(int));
	if (!g->first || !g->adj)
		return -1;
	for (int i = 0; i < g->n_edges; i++)
		g->first[g->edges[i].from + 1]++;
	for (int v = 0; v < g->n; v++)
		g->first[v + 1] += g->first[v];
	int *fill = malloc((g->n + 1) * sizeof(int));
	if (!fill)
		return -1;
	memcpy(fill, g->first, (g->n + 1) * sizeof(int));
	for (int i = 0; i < g->n_edges; i++)
		g->adj[fill[g->edges[i].from]++] = g->edges[i].to;
	free(fill);
	return 0;
}

struct tarjan {
	int *index, *low, *comp;	/* comp[v]: component id, -1 while open */
	int *stack, sp;			/* Tarjan's node stack */
	int *call, *next_edge, csp;	/* explicit DFS call stack */
	int counter, n_comp;
};

/* Label every node with its strongly connected component (iteratively). */
static void tarjan_run(struct waitfor_graph *g, struct tarjan *t)
{
	for (int v = 0; v < g->n; v++)
		t->index[v] = -1;
	for (int root = 0; root < g->n; root++) {
		if (t->index[root] >= 0)
			continue;
		t->csp = 0;
		t->call[t->csp] = root;
		t->next_edge[t->csp++] = g->first[root];
		t->index[root] = t->low[root] = t->counter++;
		t->stack[t->sp++] = root;
		t->comp[root] = -1;
		while (t->csp > 0) {
			int v = t->call[t->csp - 1];
			int *e = &t->next_edge[t->csp - 1];

			if (*e < g->first[v + 1]) {
				int w = g->adj[(*e)++];

				if (t->index[w] < 0) {
					t->index[w] = t->low[w] = t->counter++;
					t->stack[t->sp++] = w;
					t->comp[w] = -1;
					t->call[t->csp] = w;
					t->next_edge[t->csp++] = g->first[w];
				} else if (t->comp[w] < 0 &&
					   t->index[w] < t->low[v]) {
					t->low[v] = t->index[w];
				}
				continue;
			}
			if (t->low[v] == t->index[v]) {
				int w;

				do {
					w = t->stack[--t->sp];
					t->comp[w] = t->n_comp;
				} while (w != v);
				t->n_comp++;
			}
			t->csp--;
			if (t->csp > 0) {
				int u = t->call[t->csp - 1];

				if (t->low[v] < t->low[u])
					t->low[u] = t->low[v];
			}
		}
	}
}

/*
 * Shortest cycle through s inside its component, by breadth-first search;
 * writes it to out[] in edge order and returns its length.
 */
static int cycle_through(struct waitfor_graph *g, const int *comp, int s,
			 int *prev, int *queue, int *out)
{
	int head = 0, tail = 0, last = -1;

	for (int v = 0; v < g->n; v++)
		prev[v] = -2;
	queue[tail++] = s;
	prev[s] = -1;
	while (head < tail && last < 0) {
		int v = queue[head++];

		for (int i = g->first[v]; i < g->first[v + 1]; i++) {
			int w = g->adj[i];

			if (comp[w] != comp[s])
				continue;
			if (w == s) {
				last = v;
				break;
			}
			if (prev[w] == -2) {
				prev[w] = v;
				queue[tail++] = w;
			}
		}
	}
	int n = 0;
	for (int v = last; v >= 0; v = prev[v])
		out[n++] = v;
	/* out[] runs last .. s backwards along edges; reverse it */
	for (int i = 0; i < n / 2; i++) {
		int tmp = out[i];

		out[i] = out[n - 1 - i];
		out[n - 1 - i] = tmp;
	}
	return n;
}

int waitfor_graph_cycles(struct waitfor_graph *g, waitfor_cycle_fn found,
			 void *ctx)
{
	struct tarjan t = { 0 };
	int n = g->n ? g->n : 1, found_n = 0, rc = -1;
	int *size = NULL, *seen = NULL, *self = NULL;

	if (build_adjacency(g) < 0)
		return -1;
	t.index = malloc(n * sizeof(int));
	t.low = malloc(n * sizeof(int));
	t.comp = malloc(n * sizeof(int));
	t.stack = malloc(n * sizeof(int));
	t.call = malloc(n * sizeof(int));
	t.next_edge = malloc(n * sizeof(int));
	size = calloc(n, sizeof(int));
	seen = calloc(n, sizeof(int));
	self = calloc(n, sizeof(int));
	if (!t.index || !t.low || !t.comp || !t.stack || !t.call ||
	    !t.next_edge || !size || !seen || !self)
		goto out;
	tarjan_run(g, &t);
	for (int v = 0; v < g->n; v++)
		size[t.comp[v]]++;
	for (int i = 0; i < g->n_edges; i++)
		if (g->edges[i].from == g->edges[i].to)
			self[g->edges[i].from] = 1;
	/* reuse the Tarjan scratch arrays for the cycle walk */
	for (int v = 0; v < g->n; v++) {
		int c = t.comp[v];

		if (seen[c] || (size[c] < 2 && !self[v]))
			continue;
		seen[c] = 1;
		int len = cycle_through(g, t.comp, v, t.low, t.stack, t.call);
		if (found)
			found(t.call, len, ctx);
		found_n++;
	}
	rc = found_n;
out:
	free(t.index);
	free(t.low);
	free(t.comp);
	free(t.stack);
	free(t.call);
	free(t.next_edge);
	free(size);
	free(seen);
	free(self);
	return rc;
}
