/*
 * Walking one thread's Python stack: the PyFrameObject chain up to
 * 3.10, the _PyInterpreterFrame chain from 3.11.  One read per frame;
 * code objects come from the per-capture cache.
 */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tracer/python/py_private.h"

#define PY_FRAMES_FIRST 16	/* initial array; doubles up to the limit */
#define PY_FRAME_MAX_HEAD 128	/* largest frame header we read */
#define PY_OWNED_BY_GENERATOR 1	/* _PyInterpreterFrame.owner values */
#define PY_OWNED_BY_CSTACK 3	/* 3.12+: the eval loop's entry marker */
/* a frame's header and first local: 368 bytes on 3.9 and 3.10 */
#define PY_FRAME_SELF_READ 512

/* Appends a frame for code at line; returns it, or NULL when full. */
static struct py_frame *py_frame_add(struct py_thread *t, int *cap,
				     const struct py_code *code, int line,
				     uint64_t addr)
{
	struct py_frame *f;

	if (t->n_frames == *cap) {
		*cap = *cap ? *cap * 2 : PY_FRAMES_FIRST;
		if (*cap > PY_MAX_FRAMES)
			*cap = PY_MAX_FRAMES;
		t->frames = xrealloc(t->frames, *cap, sizeof(*t->frames));
	}
	f = &t->frames[t->n_frames++];
	f->file = xstrdup(code && code->file ? code->file : "<unknown>");
	f->function = xstrdup(code && code->function ? code->function
						     : "<unknown>");
	f->line = line;
	f->entry = false;
	f->frame_addr = addr;
	return f;
}

static uint64_t head_ptr(const uint8_t *head, uint32_t off)
{
	uint64_t v;

	memcpy(&v, head + off, sizeof(v));
	return v;
}

int64_t py_frame_lasti(const struct py_layout *l, const uint8_t *head,
		       uint64_t code)
{
	int32_t lasti;

	switch (l->lasti_kind) {
	case PY_LASTI_BYTES:
		memcpy(&lasti, head + l->frame_lasti, sizeof(lasti));
		return lasti;
	case PY_LASTI_UNITS:
		memcpy(&lasti, head + l->frame_lasti, sizeof(lasti));
		return lasti < 0 ? -1 : (int64_t)lasti * 2;
	case PY_LASTI_PTR:
		return (int64_t)(head_ptr(head, l->frame_lasti) -
				 (code + l->code_adaptive));
	}
	return -1;
}

int py_frame_self(struct py_locator *loc, uint64_t frame, uint64_t *self)
{
	const struct py_layout *l = &loc->layout;
	uint8_t head[PY_FRAME_SELF_READ];
	size_t len = l->frame_localsplus + sizeof(uint64_t);
	const struct py_code *code;

	if (len > sizeof(head) || py_read(loc, frame, head, len))
		return -1;
	/* the frame still runs a function with a first local */
	code = py_code_get(loc, head_ptr(head, l->frame_code));
	if (!code || code->nlocalsplus < 1)
		return -1;
	*self = head_ptr(head, l->frame_localsplus);
	return *self ? 0 : -1;
}

/* Where one thread's walk stands. */
struct py_walk {
	struct py_thread *t;
	uint64_t frame;		/* next frame to read, 0 = done */
	int cap;
	struct py_loop_guard guard;
};

/* Takes in the frame whose header is head; advances the walk. */
static void py_walk_step(struct py_locator *loc, struct py_walk *w,
			 const uint8_t *head)
{
	const struct py_layout *l = &loc->layout;
	struct py_thread *t = w->t;
	const struct py_code *code;
	uint64_t code_addr, frame = w->frame;
	uint8_t owner = l->frame_interp ? head[l->frame_owner] : 0;
	int64_t lasti;
	struct py_frame *f;

	w->frame = head_ptr(head, l->frame_back);
	if (l->frame_interp && owner == PY_OWNED_BY_CSTACK) {
		/* the frame below this marker started the eval loop */
		if (t->n_frames)
			t->frames[t->n_frames - 1].entry = true;
		return;
	}
	code_addr = head_ptr(head, l->frame_code);
	code = py_code_get(loc, code_addr);
	lasti = py_frame_lasti(l, head, code_addr);
	/* 3.11+: a frame still setting up has no line yet: skip it */
	if (l->frame_interp && code && owner != PY_OWNED_BY_GENERATOR &&
	    lasti < (int64_t)code->firsttraceable * 2)
		return;
	f = py_frame_add(t, &w->cap, code,
			 code ? py_code_line(loc, code, lasti) : 0, frame);
	f->entry = !l->frame_interp ||
		   (l->frame_is_entry && head[l->frame_is_entry]);
}

/* Ends a walk that cannot go on, saying why. */
static void py_walk_stop(struct py_walk *w, const char *why)
{
	w->t->truncated = true;
	w->t->why = why;
	w->frame = 0;
}

/*
 * Walks all threads' stacks in lockstep, one frame of each per round, so
 * a round is a single process_vm_readv however many threads there are.
 */
void py_frames_read(struct py_locator *loc, struct py_thread *threads,
		    const uint64_t *first, int n)
{
	const struct py_layout *l = &loc->layout;
	struct py_walk *w = xcalloc(n + 1, sizeof(*w));
	uint64_t *addr = xmalloc((n + 1) * sizeof(*addr));
	uint8_t *heads = xmalloc((size_t)(n + 1) * l->frame_size);
	bool *ok = xmalloc((n + 1) * sizeof(*ok));
	int *index = xmalloc((n + 1) * sizeof(*index));
	int active;

	for (int i = 0; i < n; i++) {
		w[i].t = &threads[i];
		w[i].frame = first[i];
		py_loop_init(&w[i].guard);
	}
	if (l->frame_size > PY_FRAME_MAX_HEAD)
		n = 0;
	do {
		active = 0;
		for (int i = 0; i < n; i++) {
			if (!w[i].frame)
				continue;
			if (w[i].t->n_frames >= PY_MAX_FRAMES) {
				py_walk_stop(&w[i], "more than PY_MAX_FRAMES "
					     "(10000) frames");
				continue;
			}
			if (py_loop_seen(&w[i].guard, w[i].frame)) {
				py_walk_stop(&w[i], "frame list loops "
					     "(changed while read?)");
				continue;
			}
			addr[active] = w[i].frame;
			index[active++] = i;
		}
		py_read_many(loc, addr, l->frame_size, heads, ok, active);
		for (int k = 0; k < active; k++) {
			if (ok[k])
				py_walk_step(loc, &w[index[k]],
					     heads + (size_t)k * l->frame_size);
			else
				py_walk_stop(&w[index[k]],
					     "frame memory unreadable");
		}
	} while (active);
	free(w);
	free(addr);
	free(heads);
	free(ok);
	free(index);
}
