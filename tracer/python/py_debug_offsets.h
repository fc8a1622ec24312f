/*
 * 3.13+: _Py_DebugOffsets, the table of offsets CPython keeps at the
 * start of _PyRuntime for out-of-process readers like us.
 */
#ifndef PD_PY_DEBUG_OFFSETS_H
#define PD_PY_DEBUG_OFFSETS_H

#include <stdbool.h>
#include <stdint.h>

struct py_locator;

/* The PY_VERSION_HEX the table states, and whether the build is
 * free-threaded (free_threaded may be NULL); -1 when there is no table. */
int py_debug_offsets_version(struct py_locator *loc, uint32_t *hex,
			     bool *free_threaded);
/*
 * Replaces the layout's offsets with the table's where it has them and
 * they are plausible; the layout entry keeps the rest.  Returns -1 when
 * the table's build (free-threaded or not) is not the entry's, else 0.
 */
int py_debug_offsets_apply(struct py_locator *loc);

#endif
