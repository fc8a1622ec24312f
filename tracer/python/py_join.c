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
/* a frame's header and first local: 368 bytes on 3.9 and 3.10 */
#define PY_JOIN_FRAME_READ 512

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
	const struct py_layout *l = &loc->layout;
	uint8_t head[PY_JOIN_FRAME_READ], num[PY_LONG_HEAD];
	size_t len = l->frame_localsplus + sizeof(uint64_t);
	const struct py_code *code;
	uint64_t code_addr, self, value;

	if (len > sizeof(head) || py_read(loc, frame, head, len))
		return -1;
	memcpy(&code_addr, head + l->frame_code, sizeof(code_addr));
	memcpy(&self, head + l->frame_localsplus, sizeof(self));
	/* the frame still runs a function with a first local */
	if (!(code = py_code_get(loc, code_addr)) || code->nlocalsplus < 1)
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
