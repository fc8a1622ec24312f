/*
 * Reading CPython's interpreter state out of another process: every
 * interpreter, its thread states, each thread's Python frames, the GIL
 * holder, thread names, the Python lock object behind a native wait,
 * and the thread a Thread.join waits for.
 *
 * Nothing here stops or changes the target: py_locate() only reads
 * /proc and the ELF files; py_capture() and py_find_lock() only read
 * memory, and should run while the caller holds the target stopped.
 * Supported: CPython 3.9 to 3.13 on x86_64 Linux (see py_layouts.c).
 */
#ifndef PD_PY_READER_H
#define PD_PY_READER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tracer/attach/procfs.h"

#define PY_MAX_FRAMES 10000	/* deeper stacks are reported truncated */
#define PY_MAX_THREADS 4096	/* thread states read per process */
/* a join waits in its innermost frames: join itself (3.13), or
 * _wait_for_tstate_lock and the join that called it (3.9 to 3.12) */
#define PY_JOIN_SCAN_FRAMES 2
/* sizeof(struct _gil_runtime_state) on x86_64, 3.9 to 3.13: interval,
 * last_holder, locked, switch_number, cond, mutex, switch_cond,
 * switch_mutex */
#define PY_GIL_STATE_SIZE 208

struct py_frame {		/* innermost first */
	char *file;
	char *function;
	int line;		/* 0 if unknown */
	/*
	 * This frame was entered by its own C call of the eval loop
	 * (_PyEval_EvalFrameDefault): always true up to 3.10; on 3.11+
	 * true for the frame that starts a run of the eval loop.  Used to
	 * merge Python frames into native frames.
	 */
	bool entry;
	uint64_t frame_addr;	/* PyFrameObject or _PyInterpreterFrame */
};

struct py_thread {
	uint64_t tstate;	/* PyThreadState address */
	pid_t native_tid;	/* 0 when unknown */
	uint64_t ident;		/* thread_id: pthread_self(), get_ident() */
	char *name;		/* threading.Thread name, NULL if not found */
	bool holds_gil;
	struct py_frame *frames;
	int n_frames;
	bool truncated;		/* frames is a partial stack ... */
	const char *why;	/* ... for this reason (static text) */
};

struct py_process {
	char version[16];	/* "3.11.7" */
	struct py_thread *threads;
	int n_threads;
	uint64_t gil_holder_tstate;	/* 0 when nobody holds it or unknown */
	bool gil_locked;
	/* the main interpreter's struct _gil_runtime_state: a futex inside
	 * it is a wait for the GIL, stripped binaries included */
	uint64_t gil_addr;
};

struct py_lock_info {
	const char *type;	/* "_thread.lock" or "_thread.RLock" */
	uint64_t object;	/* address of the lock object */
	uint64_t owner_ident;	/* RLock: rlock_owner (a thread ident) */
	uint64_t count;		/* RLock: rlock_count */
};

/* What py_locate() found: runtime address, version, layout. */
struct py_locator;

/*
 * Finds the interpreter of pid from its maps, before the stop.  Returns
 * NULL when the process cannot be read as Python: with *why NULL when it
 * is not Python at all, else with *why set to an allocated one-line
 * reason ("unsupported Python 3.14", "Python is still starting up").
 */
struct py_locator *py_locate(pid_t pid, const struct maps *maps, char **why);

/* The version string of a located interpreter ("3.11.7"). */
const char *py_locator_version(const struct py_locator *loc);

/*
 * Reads every interpreter's threads into out, while the target is
 * stopped.  Bounded and checked: a thread whose memory cannot be read or
 * changes under us comes back truncated with a reason.  Returns 0, or
 * -1 with *why (allocated) when no thread state could be read at all.
 */
int py_capture(struct py_locator *loc, struct py_process *out, char **why);

/*
 * Finds the _thread.lock or _thread.RLock object whose native lock is
 * sync_addr (the sem_t * a thread of t blocks on) among the slots of t's
 * innermost Python frames.  Call after py_capture(), target still
 * stopped.  Returns 0 and fills out, or -1 when no such object is found.
 */
int py_find_lock(struct py_locator *loc, const struct py_thread *t,
		 uint64_t sync_addr, struct py_lock_info *out);

/*
 * For a thread blocked in threading.Thread.join: the ident of the thread it
 * joins.  Finds, among the innermost PY_JOIN_SCAN_FRAMES Python frames of t,
 * the frame of `join` (or `_wait_for_tstate_lock`) whose file ends in
 * "threading.py", takes its first local (`self`, a Thread) and reads the
 * Thread's `_ident` attribute (an int).  Returns 0 and sets *ident, or -1.
 */
int py_join_target(struct py_locator *loc, const struct py_thread *t,
		   uint64_t *ident);

/*
 * The file, function and line of a code object at a bytecode offset (in
 * bytes), e.g. where a lock was acquired.  Returns 0, or -1 when code is
 * not a readable code object.  The strings are allocated.
 */
int py_code_position(struct py_locator *loc, uint64_t code, int64_t lasti,
		     char **file, char **function, int *line);

void py_process_free(struct py_process *p);
void py_locator_free(struct py_locator *loc);

#endif
