/*
 * The serial schedule's trace: a versioned text format, one line per
 * fact, readable by a person (doc/trace.md).
 *
 *   pydeadlock-trace 1
 *   seed 42
 *   depth 3
 *   steps 120
 *   thread 1 parent 0
 *   at 17 run 2 of 0,2,3~ after lock
 *   spin 30 thread 1
 *   end deadlock
 *
 * "at" lines are the decisions where more than one thread could run (or
 * one came back from outside): the step, the thread chosen, the threads
 * that could run (a mark: ! its timed wait ended by the clock, ~ its GIL
 * wait ended as if the switch interval had passed) and the kind of
 * point.  Threads are numbered in creation order, the main thread 0.
 */
#ifndef PD_TRACE_H
#define PD_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define TRACE_VERSION 1
#define TRACE_MAX_THREAD 1023

enum trace_event {
	TE_START, TE_EXIT, TE_LOCK, TE_UNLOCK, TE_SEM, TE_POST, TE_WAIT,
	TE_NOTIFY, TE_JOIN, TE_SLEEP, TE_YIELD, TE_IO, TE_GIL, TE_BACK,
	TE_COUNT
};

extern const char *const trace_event_names[TE_COUNT];

enum trace_kind { TRACE_AT, TRACE_THREAD, TRACE_SPIN };

struct trace_cand {
	uint16_t thread;
	char mark;		/* 0, '!' or '~' */
};

struct trace_line {
	enum trace_kind kind;
	uint64_t step;
	int thread;		/* at: chosen; thread: new one; spin: the spinner */
	int parent;		/* thread: its creator */
	uint8_t event;		/* at: enum trace_event */
	uint32_t first, n;	/* at: cands[first .. first + n) */
	uint32_t lineno;	/* in the file */
};

struct trace {
	uint64_t seed;
	int depth;
	int interval;		/* the GIL's switch interval in steps; -1: not said */
	uint64_t steps;		/* 0: not said */
	char end[64];		/* the "end" line's words, or "" */
	char policy[16];	/* "policy": abort, report or break; "" */
	char exe[256];		/* "exe": the traced image's executable; "" */
	struct trace_line *lines;
	uint32_t n_lines;
	struct trace_cand *cands;
	uint32_t n_cands;
};

/*
 * Parse a whole trace (text of len bytes, NUL bytes at its end ignored:
 * a trace still being written).  0, or -1 with a one-line message in
 * err naming the line.  Free with trace_free.
 */
int trace_parse(const char *text, size_t len, struct trace *t,
		char *err, size_t err_size);
void trace_free(struct trace *t);
/* Where trace_parse gets its memory: zeroed blocks from alloc, given back
 * to release (NULL: never one by one).  calloc and free by default. */
void trace_set_allocator(void *(*alloc)(size_t), void (*release)(void *));

/* Read and parse the file at path: as trace_parse, errors name it too. */
int trace_load(const char *path, struct trace *t, char *err, size_t err_size);

#endif
