/*
 * Lock order: the tables every thread writes without a lock, and the
 * search for loops in them (runtime/lockorder.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime/lockorder.h"

static inline uint32_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return (uint32_t)k;
}

static inline void relax(void)
{
	__builtin_ia32_pause();
}

struct lockorder *lockorder_create(void)
{
	struct lockorder *lo = mmap(NULL, sizeof(*lo), PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				    -1, 0);

	if (lo == MAP_FAILED)
		return NULL;
	atomic_store(&lo->arena_used, 1);	/* offset 0 means none */
	return lo;
}

/* The entry of addr, made when missing and make is set; NULL: full. */
static struct lo_instance *instance_at(const struct lockorder *lo,
				       uint64_t addr, bool make)
{
	struct lo_instance *t = (struct lo_instance *)lo->inst;
	uint32_t h = mix(addr);

	for (uint32_t i = 0; i < LO_PROBES; i++) {
		struct lo_instance *e = &t[(h + i) & (LO_INSTANCES - 1)];
		uint64_t a = atomic_load_explicit(&e->addr, memory_order_acquire);

		if (a == addr)
			return e;
		if (a)
			continue;
		if (!make)
			return NULL;
		/* the same empty entry is where every maker of addr lands */
		if (atomic_compare_exchange_strong(&e->addr, &a, addr) || a == addr)
			return e;
	}
	return NULL;
}

uint32_t lockorder_instance_new(struct lockorder *lo, uint64_t addr,
				uint32_t cls)
{
	struct lo_instance *e = instance_at(lo, addr, true);
	uint32_t id;

	if (!e) {
		atomic_store(&lo->full, 1);
		return 0;
	}
	id = atomic_fetch_add_explicit(&lo->next_id, 1, memory_order_relaxed) + 1;
	atomic_fetch_add_explicit(&lo->generation, 1, memory_order_release);
	atomic_store_explicit(&e->val, (uint64_t)id << 32 | cls,
			      memory_order_release);
	return id;
}

bool lockorder_instance(const struct lockorder *lo, uint64_t addr,
			uint32_t *id, uint32_t *cls)
{
	struct lo_instance *e = instance_at(lo, addr, false);
	uint64_t v;

	if (!e || !(v = atomic_load_explicit(&e->val, memory_order_acquire)))
		return false;
	*id = (uint32_t)(v >> 32);
	*cls = (uint32_t)v;
	return true;
}

void lockorder_instance_end(struct lockorder *lo, uint64_t addr)
{
	struct lo_instance *e = instance_at(lo, addr, false);

	if (e) {
		atomic_store_explicit(&e->val, 0, memory_order_release);
		atomic_fetch_add_explicit(&lo->generation, 1, memory_order_release);
	}
}

/* Wait for an entry another thread is filling (a few reads of memory). */
static uint32_t settled(_Atomic uint32_t *state)
{
	uint32_t s;

	while ((s = atomic_load_explicit(state, memory_order_acquire)) == 1)
		relax();
	return s;
}

int lockorder_class(struct lockorder *lo, uint64_t k1, uint64_t k2,
		    bool *fresh)
{
	uint32_t h = mix(k1 * 31 + k2);

	*fresh = false;
	for (uint32_t i = 0; i < LO_PROBES; i++) {
		int c = (int)((h + i) & (LO_CLASSES - 1));
		struct lo_class *e = &lo->classes[c];
		uint32_t s = atomic_load_explicit(&e->state, memory_order_acquire);

		if (s == 0) {
			if (atomic_compare_exchange_strong(&e->state, &s, 1)) {
				e->k1 = k1;
				e->k2 = k2;
				*fresh = true;
				return c;
			}
		}
		if (settled(&e->state) == 2 && e->k1 == k1 && e->k2 == k2)
			return c;
	}
	atomic_store(&lo->full, 1);
	return -1;
}

void lockorder_class_ready(struct lockorder *lo, int cls, const char *name,
			   const char *site)
{
	struct lo_class *e = &lo->classes[cls];

	e->name = lockorder_text(lo, name);
	e->site = lockorder_text(lo, site);
	atomic_store_explicit(&e->state, 2, memory_order_release);
}

uint32_t lockorder_text(struct lockorder *lo, const char *s)
{
	uint32_t n = (uint32_t)strlen(s) + 1;
	uint32_t at = atomic_fetch_add_explicit(&lo->arena_used, n,
						memory_order_relaxed);

	if (at + n > LO_ARENA) {
		atomic_store(&lo->full, 1);
		return 0;
	}
	memcpy(lo->arena + at, s, n);
	return at;
}

/* Keep only the gates that are also in held[0..n). */
static void gates_meet(struct lo_edge *e, const uint32_t *held, int n)
{
	for (int g = 0; g < LO_GATES; g++) {
		uint32_t id = atomic_load_explicit(&e->gates[g],
						   memory_order_relaxed);
		bool kept = false;

		for (int i = 0; id && i < n && !kept; i++)
			kept = held[i] == id;
		if (id && !kept)
			atomic_store_explicit(&e->gates[g], 0, memory_order_relaxed);
	}
}

struct lo_edge *lockorder_edge(struct lockorder *lo, bool same, uint32_t from,
			       uint32_t to, const uint32_t *held, int n,
			       bool *fresh)
{
	struct lo_edge *t = same ? lo->same : lo->edges;
	uint64_t key = ((uint64_t)from + 1) << 32 | ((uint64_t)to + 1);
	uint32_t h = mix(key);

	*fresh = false;
	for (uint32_t i = 0; i < LO_PROBES; i++) {
		struct lo_edge *e = &t[(h + i) & (LO_EDGES - 1)];
		uint64_t k = atomic_load_explicit(&e->key, memory_order_acquire);

		if (k == 0 && atomic_compare_exchange_strong(&e->key, &k, key)) {
			atomic_store(&e->state, 1);
			e->from = from;
			e->to = to;
			for (int g = 0; g < LO_GATES; g++)
				atomic_store_explicit(&e->gates[g], g < n ? held[g] : 0,
						      memory_order_relaxed);
			*fresh = true;
			return e;
		}
		if (k != key)
			continue;
		/* its maker may not have set the state yet, or be filling */
		while (atomic_load_explicit(&e->state, memory_order_acquire) != 2)
			relax();
		gates_meet(e, held, n);
		return e;
	}
	atomic_store(&lo->full, 1);
	return NULL;
}

void lockorder_edge_ready(struct lo_edge *e)
{
	atomic_store_explicit(&e->state, 2, memory_order_release);
}

/* ---- loops ---- */

/* The graph of ready orders, nodes numbered densely. */
struct graph {
	const struct lo_edge **edges;	/* by source node, then target */
	uint32_t *src, *dst;		/* dense ends of edges[i] */
	uint32_t *first;		/* node -> its first edge; n_nodes + 1 */
	uint32_t *ids;			/* dense -> id, sorted */
	uint32_t n_edges, n_nodes;
	void *mem;
	size_t mem_size;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t dense(const struct graph *g, uint32_t id)
{
	const uint32_t *p = bsearch(&id, g->ids, g->n_nodes, sizeof(id), cmp_u32);

	return (uint32_t)(p - g->ids);
}

static bool edge_counts(const struct lockorder *lo, const struct lo_edge *e)
{
	return atomic_load_explicit(&e->state, memory_order_acquire) == 2 &&
	       !(atomic_load(&lo->classes[e->from_class].flags) &
		 (LO_CLASS_SIGNAL | LO_CLASS_OWN)) &&
	       !(atomic_load(&lo->classes[e->to_class].flags) &
		 (LO_CLASS_SIGNAL | LO_CLASS_OWN));
}

static int graph_build(struct graph *g, const struct lockorder *lo, bool same)
{
	const struct lo_edge *t = same ? lo->same : lo->edges;
	uint32_t n = 0, k = 0;
	char *m;

	for (uint32_t i = 0; i < LO_EDGES; i++)
		n += edge_counts(lo, &t[i]);
	memset(g, 0, sizeof(*g));
	g->mem_size = (size_t)n * (sizeof(void *) + 4 * sizeof(uint32_t)) +
		      (2 * (size_t)n + 1) * sizeof(uint32_t) + 64;
	m = mmap(NULL, g->mem_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	g->mem = m;
	g->edges = (const struct lo_edge **)m;
	g->src = (uint32_t *)(g->edges + n);
	g->dst = g->src + n;
	g->ids = g->dst + n;	/* 2n: both ends, then made unique */
	g->first = g->ids + 2 * n;
	for (uint32_t i = 0; i < LO_EDGES && k < n; i++)
		if (edge_counts(lo, &t[i])) {
			g->edges[k] = &t[i];
			g->ids[2 * k] = t[i].from;
			g->ids[2 * k + 1] = t[i].to;
			k++;
		}
	g->n_edges = k;
	qsort(g->ids, 2 * (size_t)k, sizeof(uint32_t), cmp_u32);
	for (uint32_t i = 0; i < 2 * k; i++)
		if (!g->n_nodes || g->ids[g->n_nodes - 1] != g->ids[i])
			g->ids[g->n_nodes++] = g->ids[i];
	/* edges by source: counting sort into place */
	memset(g->first, 0, (g->n_nodes + 1) * sizeof(uint32_t));
	for (uint32_t i = 0; i < k; i++)
		g->first[dense(g, g->edges[i]->from) + 1]++;
	for (uint32_t v = 0; v < g->n_nodes; v++)
		g->first[v + 1] += g->first[v];
	{
		/* src holds the fill cursor of each node while placing */
		const struct lo_edge **placed = (const struct lo_edge **)
			mmap(NULL, k * sizeof(void *) + 8, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (placed == MAP_FAILED) {
			munmap(g->mem, g->mem_size);
			return -1;
		}
		for (uint32_t v = 0; v < g->n_nodes; v++)
			g->src[v] = g->first[v];
		for (uint32_t i = 0; i < k; i++)
			placed[g->src[dense(g, g->edges[i]->from)]++] = g->edges[i];
		memcpy(g->edges, placed, k * sizeof(void *));
		munmap(placed, k * sizeof(void *) + 8);
	}
	for (uint32_t i = 0; i < k; i++) {
		g->src[i] = dense(g, g->edges[i]->from);
		g->dst[i] = dense(g, g->edges[i]->to);
	}
	return 0;
}

/* Do all the orders of the loop share a gate held each time? */
static bool gated(const struct lo_edge *const *loop, int n)
{
	for (int g = 0; g < LO_GATES; g++) {
		uint32_t id = atomic_load(&loop[0]->gates[g]);
		bool everywhere = id != 0;

		for (int i = 1; i < n && everywhere; i++) {
			bool here = false;

			for (int h = 0; h < LO_GATES; h++)
				here |= atomic_load(&loop[i]->gates[h]) == id;
			everywhere = here;
		}
		if (everywhere)
			return true;
	}
	return false;
}

/* The loop's identity whatever edge it was found from: its nodes. */
static uint64_t loop_key(const struct lo_edge *const *loop, int n)
{
	uint64_t key = 0;

	for (int i = 0; i < n; i++)
		key += mix((uint64_t)loop[i]->from * 0x9e3779b97f4a7c15ull + 1) |
		       1;
	return key ^ (uint64_t)n << 56;
}

/*
 * From edge i (u -> v): the shortest way back from v to u, breadth
 * first; fills loop (i first) and returns its length, or 0.
 */
static int loop_through(const struct graph *g, uint32_t i, uint32_t *prev,
			uint32_t *queue, const struct lo_edge **loop)
{
	uint32_t u = g->src[i], head = 0, tail = 0;
	int n = 0;

	for (uint32_t v = 0; v < g->n_nodes; v++)
		prev[v] = UINT32_MAX;
	prev[g->dst[i]] = i;
	queue[tail++] = g->dst[i];
	while (head < tail && prev[u] == UINT32_MAX) {
		uint32_t v = queue[head++];

		for (uint32_t j = g->first[v]; j < g->first[v + 1]; j++)
			if (prev[g->dst[j]] == UINT32_MAX) {
				prev[g->dst[j]] = j;
				queue[tail++] = g->dst[j];
			}
	}
	if (prev[u] == UINT32_MAX)
		return 0;
	/* walk back from u to v, then put edge i first */
	for (uint32_t v = u; v != g->dst[i]; v = g->src[prev[v]]) {
		if (n == LO_MAX_LOOP - 1)
			return 0;
		loop[n++] = g->edges[prev[v]];
	}
	loop[n++] = g->edges[i];
	for (int a = 0, b = n - 1; a < b; a++, b--) {
		const struct lo_edge *x = loop[a];

		loop[a] = loop[b];
		loop[b] = x;
	}
	return n;
}

int lockorder_loops(const struct lockorder *lo, bool same,
		    const struct lo_edge *e, lockorder_found_fn found, void *arg)
{
	uint64_t keys[LO_MAX_CYCLES];
	const struct lo_edge *loop[LO_MAX_LOOP];
	struct graph g;
	uint32_t *prev, *queue;
	size_t scratch;
	int given = 0;

	if (graph_build(&g, lo, same) < 0)
		return 0;
	scratch = 2 * ((size_t)g.n_nodes + 1) * sizeof(uint32_t);
	prev = mmap(NULL, scratch, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (prev == MAP_FAILED) {
		munmap(g.mem, g.mem_size);
		return 0;
	}
	queue = prev + g.n_nodes + 1;
	for (uint32_t i = 0; i < g.n_edges && given < LO_MAX_CYCLES; i++) {
		uint64_t key;
		bool seen = false;
		int n;

		if (e && g.edges[i] != e)
			continue;
		if (!(n = loop_through(&g, i, prev, queue, loop)) || gated(loop, n))
			continue;
		key = loop_key(loop, n);
		for (int k = 0; k < given && !seen; k++)
			seen = keys[k] == key;
		if (seen)
			continue;
		keys[given++] = key;
		found(lo, same, loop, n, arg);
	}
	munmap(prev, scratch);
	munmap(g.mem, g.mem_size);
	return given;
}

/* ---- suppressions ---- */

#define LO_SUPPRESS_WORD "lock-order"

/* The next line of text: [*line, *end), and the text after it. */
static const char *line_next(const char *text, const char **end)
{
	const char *nl = strchr(text, '\n');

	*end = nl ? nl : text + strlen(text);
	return nl ? nl + 1 : NULL;
}

/* The next word of [*p, end) without a comment: its length, 0 at the end. */
static size_t word_next(const char **p, const char *end)
{
	const char *s = *p;
	size_t n = 0;

	while (s < end && isspace((unsigned char)*s))
		s++;
	if (s < end && *s == '#')
		s = end;
	while (s + n < end && !isspace((unsigned char)s[n]) && s[n] != '#')
		n++;
	*p = s;
	return n;
}

int lockorder_suppressions_check(const char *text, char *err, size_t size)
{
	const char *line = text, *end;
	int no = 0;

	while (line && *line) {
		const char *p = line, *next = line_next(line, &end);
		size_t n = word_next(&p, end);
		int sites = 0;

		no++;
		line = next;
		if (!n)		/* blank, or a comment */
			continue;
		if (n != strlen(LO_SUPPRESS_WORD) || strncmp(p, LO_SUPPRESS_WORD, n)) {
			snprintf(err, size, "'%.*s' is not an entry (lock-order SITE SITE...)",
				 (int)(n > 40 ? 40 : n), p);
			return no;
		}
		for (p += n; (n = word_next(&p, end)); p += n)
			sites++;
		if (sites == 0) {
			snprintf(err, size, "a lock-order entry names no site");
			return no;
		}
	}
	return 0;
}

/* Does site end with the word w (len n), whole or after a '/'? */
static bool site_matches(const char *site, const char *w, size_t n)
{
	size_t len = strlen(site);

	if (n > len || memcmp(site + len - n, w, n))
		return false;
	return n == len || site[len - n - 1] == '/';
}

bool lockorder_suppressed(const char *text, const char *const *sites, int n)
{
	const char *line = text, *end;

	while (line && *line) {
		const char *p = line, *next = line_next(line, &end);
		size_t len = word_next(&p, end);
		bool all = len == strlen(LO_SUPPRESS_WORD) &&
			   !strncmp(p, LO_SUPPRESS_WORD, len);
		unsigned long covered = 0;
		int words = 0;

		for (p += len; all && (len = word_next(&p, end)); p += len) {
			bool any = false;

			for (int i = 0; i < n; i++)
				if (site_matches(sites[i], p, len)) {
					covered |= 1ul << i;
					any = true;
				}
			all = any;
			words++;
		}
		if (all && words && covered == (n >= 64 ? ~0ul : (1ul << n) - 1))
			return true;
		line = next;
	}
	return false;
}
