/*
 * Which functions are inlined at a PC, from an index of one compile unit's
 * subprogram and inlined-subroutine ranges built in a single walk of its
 * DIEs.  libdw's dwarf_getscopes walks the unit for every PC; CPython's
 * ceval.c unit is large enough that doing so took 2/3 of an attach.
 */
#ifndef PD_INLINE_INDEX_H
#define PD_INLINE_INDEX_H

#include <elfutils/libdw.h>
#include <stdint.h>

#define INLINE_INDEX_UNITS 64	/* units indexed per process; more are re-walked */

struct inline_level {
	Dwarf_Off die;		/* the subprogram or inlined subroutine */
	int call_file, call_line;	/* inlined: where it was called, else 0 */
	int inlined;
};

struct inline_index;

struct inline_index *inline_index_new(void);
void inline_index_free(struct inline_index *ix);

/*
 * The chain of functions at pc (an address relative to the unit's
 * module), innermost first, into levels[max]; returns the count, 0 when
 * the unit has no function there.
 */
int inline_index_levels(struct inline_index *ix, Dwarf_Die *cu, uint64_t pc,
			struct inline_level *levels, int max);

#endif
