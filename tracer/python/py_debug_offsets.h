/*
 * 3.13+: _Py_DebugOffsets, the table of offsets CPython keeps at the
 * start of _PyRuntime for out-of-process readers like us.
 */
#ifndef PD_PY_DEBUG_OFFSETS_H
#define PD_PY_DEBUG_OFFSETS_H

#include <stdint.h>

struct py_locator;

/* The PY_VERSION_HEX the table states; -1 when there is no table. */
int py_debug_offsets_version(struct py_locator *loc, uint32_t *hex);
/*
 * Replaces the layout's offsets with the table's where it has them and
 * they are plausible; the layout entry keeps the rest.  Returns -1 for
 * a build no entry describes (free-threaded), else 0.
 */
int py_debug_offsets_apply(struct py_locator *loc);

#endif
