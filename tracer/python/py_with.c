/*
 * Which `with` blocks of a thread are live, and where each keeps the
 * bound __exit__ of its context manager.  Entering a block (SETUP_WITH
 * up to 3.10, BEFORE_WITH from 3.11) pushes __exit__ on the frame's
 * value stack, where it stays until the block ends:
 *
 * - 3.9, 3.10: the block pushes a SETUP_FINALLY entry on the frame's
 *   block stack, whose handler starts with WITH_EXCEPT_START and whose
 *   b_level counts the stack with __exit__ on top: it is at
 *   f_valuestack[b_level - 1].  f_iblock says how many entries live.
 * - 3.11+: no block stack.  The exception table entry covering the
 *   frame's instruction names the innermost handler; the entry covering
 *   that handler's first instruction the next one out, and so on.  A
 *   handler whose second instruction is WITH_EXCEPT_START belongs to a
 *   live `with` block, and its depth counts the stack down to and with
 *   __exit__: it is at stack[depth - 1], below the live top.  Slots
 *   above the live top may keep a stale __exit__ of a block that has
 *   ended: they are never looked at.
 *
 * What the __exit__ objects hold is py_with_exit.c's business.
 */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tracer/python/py_private.h"

#define PY_BLOCK_SIZE 12	/* sizeof(PyTryBlock): type, handler, level */
#define PY_BLOCK_MAX 20		/* CO_MAXBLOCKS, 3.9 and 3.10 */
/* handlers followed out of a 3.11+ frame: the compiler nests at most
 * CO_MAXBLOCKS (20) blocks, each with a handler and a cleanup */
#define PY_WITH_MAX_CHAIN 64
#define PY_WITH_HEAD_MAX 512	/* a frame's header with its block stack */

static uint64_t word(const uint8_t *p, uint32_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static int32_t word32(const uint8_t *p, uint32_t off)
{
	int32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

/* Appends a live block's slot to w. */
static void py_with_add(struct py_with_slots *w, uint64_t addr, int frame,
			int line)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 8;
		w->v = xrealloc(w->v, w->cap, sizeof(*w->v));
	}
	w->v[w->n].addr = addr;
	w->v[w->n].frame = frame;
	w->v[w->n++].line = line;
}

/*
 * <= 3.10: the line of the SETUP_WITH whose jump lands on handler (in
 * the frame's lasti unit: bytes on 3.9, code units on 3.10); 0 if none.
 */
static int py_with_line_blocks(struct py_locator *loc,
			       const struct py_code *code, int32_t handler)
{
	const struct py_layout *l = &loc->layout;
	bool units = l->lasti_kind == PY_LASTI_UNITS;
	uint32_t ext = 0;

	for (uint32_t off = 0; off + 1 < code->bytecode_len; off += 2) {
		uint8_t op = code->bytecode[off];
		uint32_t arg = code->bytecode[off + 1] | ext << 8;
		int64_t target;

		ext = 0;
		if (op == l->op_extended_arg) {
			ext = arg;
			continue;
		}
		if (op != l->op_with)
			continue;
		target = units ? off / 2 + 1 + arg : off + 2 + arg;
		if (target == handler)
			return py_code_line(loc, code, off);
	}
	return 0;
}

/* <= 3.10: the live with blocks of the frame whose header is head. */
static void py_with_blocks(struct py_locator *loc, const uint8_t *head,
			   int frame, uint64_t frame_addr,
			   struct py_with_slots *w)
{
	const struct py_layout *l = &loc->layout;
	int32_t iblock = word32(head, l->frame_iblock);
	uint64_t stack = word(head, l->frame_valuestack);
	const struct py_code *code;

	if (iblock <= 0 || iblock > PY_BLOCK_MAX ||
	    stack < frame_addr + l->frame_localsplus)
		return;
	code = py_code_body(loc, word(head, l->frame_code));
	if (!code || !code->bytecode)
		return;
	for (int b = iblock - 1; b >= 0; b--) {	/* innermost first */
		const uint8_t *blk = head + l->frame_blockstack +
				     b * PY_BLOCK_SIZE;
		int32_t type = word32(blk, 0), handler = word32(blk, 4);
		int32_t level = word32(blk, 8);
		int64_t at = l->lasti_kind == PY_LASTI_UNITS ?
			     (int64_t)handler * 2 : handler;

		if (type != l->op_setup_finally || level < 1 ||
		    level > code->stacksize || at < 0 ||
		    at >= code->bytecode_len ||
		    code->bytecode[at] != l->op_with_except_start)
			continue;
		py_with_add(w, stack + 8 * (uint64_t)(level - 1), frame,
			    py_with_line_blocks(loc, code, handler));
	}
}

/* 3.11+: is the handler at target (code units) a with block's? */
static bool py_with_handler(const struct py_layout *l,
			    const struct py_code *code, int64_t target)
{
	/* PUSH_EXC_INFO, WITH_EXCEPT_START; the first may be instrumented */
	int64_t at = (target + 1) * 2;

	return at < code->bytecode_len &&
	       code->bytecode[at] == l->op_with_except_start;
}

/*
 * 3.11+: the line of the with statement whose handler is at target: its
 * BEFORE_WITH comes just before the first instruction the handler
 * covers; else the handler's own line, which is the statement's.
 */
static int py_with_line_table(struct py_locator *loc,
			      const struct py_code *code, int64_t target)
{
	int64_t start = py_exc_first_start(code->exc, code->exc_len, target);

	if (start >= 1 && start * 2 <= code->bytecode_len &&
	    code->bytecode[(start - 1) * 2] == loc->layout.op_with)
		return py_code_line(loc, code, (start - 1) * 2);
	return py_code_line(loc, code, (target + 1) * 2);
}

/* 3.11+: the live with blocks of the frame whose header is head. */
static void py_with_handlers(struct py_locator *loc, const uint8_t *head,
			     int frame, uint64_t frame_addr,
			     struct py_with_slots *w)
{
	const struct py_layout *l = &loc->layout;
	uint64_t code_addr = word(head, l->frame_code);
	const struct py_code *code = py_code_body(loc, code_addr);
	struct py_exc_entry e;
	int64_t lasti;
	int live;

	if (!code || !code->bytecode || !code->exc)
		return;
	lasti = py_frame_lasti(l, head, code_addr);
	if (lasti < 0 || py_exc_find(code->exc, code->exc_len, lasti / 2, &e))
		return;		/* no handler: no block is live */
	live = e.depth;		/* the innermost handler's: below is live */
	if (live > code->stacksize)
		return;
	for (int step = 0; step < PY_WITH_MAX_CHAIN; step++) {
		if (e.depth >= 1 && e.depth <= live &&
		    py_with_handler(l, code, e.target))
			py_with_add(w, frame_addr + l->frame_localsplus +
				    8 * (uint64_t)(code->nlocalsplus +
						   e.depth - 1), frame,
				    py_with_line_table(loc, code, e.target));
		if (py_exc_find(code->exc, code->exc_len, e.target, &e))
			break;	/* the outermost handler */
	}
}

int py_with_slots(struct py_locator *loc, const struct py_thread *t,
		  struct py_with_slots *w)
{
	const struct py_layout *l = &loc->layout;
	size_t len = l->frame_interp ? l->frame_size :
		     l->frame_blockstack + PY_BLOCK_MAX * PY_BLOCK_SIZE;
	int n = t->n_frames;
	uint64_t *addr;
	uint8_t *heads;
	bool *ok;

	memset(w, 0, sizeof(*w));
	if (!n)
		return 0;
	if (len > PY_WITH_HEAD_MAX ||
	    (!l->frame_interp && !l->frame_blockstack) ||
	    (l->frame_interp && !l->code_exceptiontable))
		return -1;	/* a layout without what we need */
	addr = xmalloc(n * sizeof(*addr));
	heads = xmalloc((size_t)n * len);
	ok = xmalloc(n * sizeof(*ok));
	for (int i = 0; i < n; i++)
		addr[i] = t->frames[i].frame_addr;
	py_read_many(loc, addr, len, heads, ok, n);
	for (int i = 0; i < n; i++) {
		if (!ok[i])
			continue;
		if (l->frame_interp)
			py_with_handlers(loc, heads + (size_t)i * len, i,
					 addr[i], w);
		else
			py_with_blocks(loc, heads + (size_t)i * len, i,
				       addr[i], w);
	}
	free(addr);
	free(heads);
	free(ok);
	return 0;
}
