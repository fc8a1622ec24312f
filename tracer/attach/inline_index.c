#include <dwarf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tracer/attach/inline_index.h"

#define INLINE_WALK_DEPTH 256	/* DIE nesting followed; deeper is skipped */

/* One address range of a function DIE, with its enclosing function. */
struct scope_range {
	uint64_t lo, hi;
	int depth;
	int parent;		/* index of the enclosing function's entry, -1 */
	bool walked;		/* a top-level function: its inside is indexed */
	struct inline_level level;
};

struct unit_index {
	Dwarf_Off cu;		/* unit DIE offset */
	Dwarf *dbg;
	struct scope_range *v;
	int n, cap;
};

struct inline_index {
	struct unit_index units[INLINE_INDEX_UNITS];
	int next;		/* round-robin replacement */
};

struct inline_index *inline_index_new(void)
{
	return xcalloc(1, sizeof(struct inline_index));
}

void inline_index_free(struct inline_index *ix)
{
	if (!ix)
		return;
	for (int i = 0; i < INLINE_INDEX_UNITS; i++)
		free(ix->units[i].v);
	free(ix);
}

/* DIEs whose children may hold code. */
static int holds_code(int tag)
{
	return tag == DW_TAG_compile_unit || tag == DW_TAG_partial_unit ||
	       tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
	       tag == DW_TAG_lexical_block || tag == DW_TAG_namespace ||
	       tag == DW_TAG_class_type || tag == DW_TAG_structure_type;
}

static void add_ranges(struct unit_index *u, Dwarf_Die *die, int tag,
		       int depth, int parent, int *first)
{
	Dwarf_Addr base, lo, hi;
	Dwarf_Attribute attr;
	Dwarf_Word w;
	ptrdiff_t off = 0;

	*first = -1;
	while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		struct scope_range *r;

		if (u->n == u->cap) {
			u->cap = u->cap ? 2 * u->cap : 256;
			u->v = xrealloc(u->v, u->cap, sizeof(*u->v));
		}
		r = &u->v[u->n];
		memset(r, 0, sizeof(*r));
		r->lo = lo;
		r->hi = hi;
		r->depth = depth;
		r->parent = parent;
		r->level.die = dwarf_dieoffset(die);
		r->level.inlined = tag == DW_TAG_inlined_subroutine;
		if (r->level.inlined) {
			if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr), &w) == 0)
				r->level.call_file = (int)w;
			if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr), &w) == 0)
				r->level.call_line = (int)w;
		}
		if (*first < 0)
			*first = u->n;
		u->n++;
	}
}

/*
 * Walk the subtree of one DIE, iteratively, recording every function's
 * ranges below it (its own are recorded by the caller).
 */
static void subtree_build(struct unit_index *u, Dwarf_Die *top, int top_entry,
			  int depth)
{
	struct walk {
		Dwarf_Die die;
		int parent, depth;
	} *stack = xmalloc(INLINE_WALK_DEPTH * sizeof(*stack));
	int sp = 0;

	if (dwarf_child(top, &stack[0].die) == 0) {
		stack[0].parent = top_entry;
		stack[0].depth = depth;
		sp = 1;
	}
	while (sp > 0) {
		struct walk cur = stack[--sp];
		int tag = dwarf_tag(&cur.die), me = cur.parent;
		Dwarf_Die child;

		/* the sibling first, so the child is walked next (preorder) */
		if (sp < INLINE_WALK_DEPTH &&
		    dwarf_siblingof(&cur.die, &stack[sp].die) == 0) {
			stack[sp].parent = cur.parent;
			stack[sp].depth = cur.depth;
			sp++;
		}
		if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
			int first;

			add_ranges(u, &cur.die, tag, cur.depth, cur.parent, &first);
			if (first < 0)
				continue;	/* a declaration: no code */
			me = first;
		}
		if (holds_code(tag) && sp < INLINE_WALK_DEPTH &&
		    dwarf_child(&cur.die, &child) == 0) {
			stack[sp].die = child;
			stack[sp].parent = me;
			stack[sp].depth = cur.depth + 1;
			sp++;
		}
	}
	free(stack);
}

/*
 * The unit's functions, without what is inside them: a unit like
 * CPython's ceval.c holds tens of thousands of inlined subroutines, and
 * only the few functions that PCs land in need walking (subtree_build,
 * on first use).  Namespaces and classes are entered to find functions.
 */
static void unit_build(struct unit_index *u, Dwarf_Die *cu)
{
	Dwarf_Die stack[INLINE_WALK_DEPTH];
	int sp = 0;

	if (dwarf_child(cu, &stack[0]) == 0)
		sp = 1;
	while (sp > 0) {
		Dwarf_Die cur = stack[--sp];
		int tag = dwarf_tag(&cur), first;

		if (sp < INLINE_WALK_DEPTH && dwarf_siblingof(&cur, &stack[sp]) == 0)
			sp++;
		if (tag == DW_TAG_subprogram) {
			add_ranges(u, &cur, tag, 0, -1, &first);
			for (int i = first; first >= 0 && i < u->n; i++)
				u->v[i].walked = false;
		} else if ((tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
			    tag == DW_TAG_structure_type) &&
			   sp < INLINE_WALK_DEPTH && dwarf_child(&cur, &stack[sp]) == 0) {
			sp++;
		}
	}
}

static struct unit_index *unit_get(struct inline_index *ix, Dwarf_Die *cu)
{
	Dwarf_Off off = dwarf_dieoffset(cu);
	Dwarf *dbg = dwarf_cu_getdwarf(cu->cu);
	struct unit_index *u;

	for (int i = 0; i < INLINE_INDEX_UNITS; i++)
		if (ix->units[i].dbg == dbg && ix->units[i].cu == off && ix->units[i].v)
			return &ix->units[i];
	u = &ix->units[ix->next];
	ix->next = (ix->next + 1) % INLINE_INDEX_UNITS;
	free(u->v);
	memset(u, 0, sizeof(*u));
	u->cu = off;
	u->dbg = dbg;
	unit_build(u, cu);
	if (!u->v)	/* no functions: remember that too */
		u->v = xmalloc(1);
	return u;
}

int inline_index_levels(struct inline_index *ix, Dwarf_Die *cu, uint64_t pc,
			struct inline_level *levels, int max)
{
	struct unit_index *u = unit_get(ix, cu);
	int best = -1, n = 0, top = u->n;

	/* the top-level function at pc: index its inside on first use */
	for (int i = 0; i < top; i++) {
		Dwarf_Die die;

		if (u->v[i].depth || u->v[i].walked || pc < u->v[i].lo ||
		    pc >= u->v[i].hi)
			continue;
		for (int k = 0; k < top; k++)	/* all ranges of that function */
			if (u->v[k].level.die == u->v[i].level.die)
				u->v[k].walked = true;
		if (dwarf_offdie(u->dbg, u->v[i].level.die, &die))
			subtree_build(u, &die, i, 1);
		break;
	}

	for (int i = 0; i < u->n; i++)
		if (pc >= u->v[i].lo && pc < u->v[i].hi &&
		    (best < 0 || u->v[i].depth > u->v[best].depth))
			best = i;
	for (int i = best; i >= 0 && n < max; i = u->v[i].parent)
		levels[n++] = u->v[i].level;
	return n;
}
