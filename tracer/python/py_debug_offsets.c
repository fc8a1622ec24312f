/*
 * Reading _Py_DebugOffsets out of another process; the table's shape and
 * how it corrects a layout entry are py_layouts.c's, which the shim uses
 * on its own process too.
 */
#include <string.h>

#include "common/error.h"
#include "tracer/python/py_debug_offsets.h"
#include "tracer/python/py_private.h"

static int py_debug_offsets_read(struct py_locator *loc,
				 struct py_debug_offsets *d)
{
	if (py_read(loc, loc->runtime, d, sizeof(*d)) ||
	    !py_debug_offsets_valid(d))
		return -1;
	return 0;
}

int py_debug_offsets_version(struct py_locator *loc, uint32_t *hex,
			     bool *free_threaded)
{
	struct py_debug_offsets d;

	if (py_debug_offsets_read(loc, &d))
		return -1;
	*hex = d.version;
	if (free_threaded)
		*free_threaded = d.free_threaded != 0;
	return 0;
}

int py_debug_offsets_apply(struct py_locator *loc)
{
	struct py_debug_offsets d;
	int changed;

	if (loc->hexversion < PY_DEBUG_MIN_HEX ||
	    loc->hexversion > PY_DEBUG_MAX_HEX ||
	    py_debug_offsets_read(loc, &d) || d.version != loc->hexversion)
		return 0;
	changed = py_layout_merge_debug_offsets(&loc->layout, &d);
	if (changed < 0)
		return -1;	/* objects differ: another entry's */
	debug_msg("python: _Py_DebugOffsets used, %d offsets differ from "
		  "the %s table entry", changed, loc->layout.name);
	return 0;
}
