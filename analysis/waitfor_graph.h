/*
 * A wait-for graph: node i waits for node j.  Nodes are small integers;
 * the caller maps them to threads.  Knows nothing of where edges came from,
 * so the attach snapshot and the shim's registry share it.
 */
#ifndef PD_WAITFOR_GRAPH_H
#define PD_WAITFOR_GRAPH_H

struct waitfor_graph;

/* A graph of n nodes and no edges, or NULL when out of memory. */
struct waitfor_graph *waitfor_graph_new(int n_nodes);
void waitfor_graph_free(struct waitfor_graph *g);

/* Add the edge from -> to.  Returns 0, or -1 on a bad node or no memory. */
int waitfor_graph_add_edge(struct waitfor_graph *g, int from, int to);

typedef void (*waitfor_cycle_fn)(const int *nodes, int n, void *ctx);

/*
 * Find the strongly connected components that contain a cycle (two or more
 * nodes, or one node with an edge to itself) and call found() once for
 * each with one elementary cycle of it, in edge order: nodes[0] waits for
 * nodes[1], ..., nodes[n-1] waits for nodes[0].  Iterative: chains of any
 * length use no stack.  Returns the number of cycles found, or -1 when out
 * of memory.
 */
int waitfor_graph_cycles(struct waitfor_graph *g, waitfor_cycle_fn found,
			 void *ctx);

#endif
