/*
 * Whom a thread joins: threading.Thread.join runs with the joined
 * Thread as its first local, self, and so does the
 * _wait_for_tstate_lock it waits in up to 3.12 (from 3.13 it waits in
 * _thread._ThreadHandle.join, a C call made from the join frame).  The
 * Thread's _ident is the joined thread's ident.
 */
#include <string.h>

#include "tracer/python/py_private.h"

#define PY_JOIN_FILE "threading.py"	/* the module of Thread.join */
#define PY_JOIN_IDENT_ATTR "_ident"	/* Thread's ident, an int */

/* Is f a frame of Thread.join, or of the wait inside it? */
static bool py_join_frame(const struct py_frame *f)
{
	const char *base = strrchr(f->file, '/');

	base = base ? base + 1 : f->file;
	if (strcmp(base, PY_JOIN_FILE))
		return false;
	return !strcmp(f->function, "join") ||
	       !strcmp(f->function, "_wait_for_tstate_lock");
}

/* The _ident of the first local of the frame at frame; 0, or -1. */
static int py_join_self_ident(struct py_locator *loc, uint64_t frame,
			      uint64_t *ident)
{
	uint8_t num[PY_LONG_HEAD];
	uint64_t self, value;

	if (py_frame_self(loc, frame, &self))
		return -1;
	value = py_attr_get(loc, self, PY_JOIN_IDENT_ATTR);
	if (!value || py_read(loc, value, num, sizeof(num)))
		return -1;
	return py_long_decode(loc, num, sizeof(num), ident);
}

int py_join_target(struct py_locator *loc, const struct py_thread *t,
		   uint64_t *ident)
{
	for (int i = 0; i < t->n_frames && i < PY_JOIN_SCAN_FRAMES; i++)
		if (py_join_frame(&t->frames[i]) &&
		    !py_join_self_ident(loc, t->frames[i].frame_addr, ident))
			return 0;
	return -1;
}
