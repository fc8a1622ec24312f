/*
 * Reading CPython's interpreter state out of another process: every
 * interpreter, its thread states, each thread's Python frames, the GIL
 * holder, thread names, the Python lock object behind a native wait,
 * the thread a Thread.join waits for, the locks `with` blocks hold,
 * importlib's module locks and the Python signal handlers.
 *
 * Nothing here stops or changes the target: py_locate() only reads
 * /proc and the ELF files; everything else only reads memory, and
 * should run while the caller holds the target stopped.
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
#define PY_LOCK_SCAN_FRAMES 4	/* a lock waited on is in the innermost */
/* a module lock waits in _ModuleLock.acquire, the innermost frame */
#define PY_IMPORT_SCAN_FRAMES 2
/* sizeof(struct _gil_runtime_state) on x86_64, 3.9 to 3.13: interval,
 * last_holder, locked, switch_number, cond, mutex, switch_cond,
 * switch_mutex */
#define PY_GIL_STATE_SIZE 208
#define PY_TYPE_NAME_MAX 64	/* a type name kept in a result; cut */

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
	uint64_t interp;	/* its PyInterpreterState */
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
	bool gil_moving;	/* its mutex held: changing hands, holder unknown */
	bool gil_locked;
	bool free_threaded;	/* a --disable-gil build (3.13t) ... */
	bool gil_disabled;	/* ... whose GIL is off, as it starts */
	/* the main interpreter's struct _gil_runtime_state: a futex inside
	 * it is a wait for the GIL, stripped binaries included */
	uint64_t gil_addr;
};

/* The object behind a native wait (py_find_lock). */
struct py_lock_info {
	/*
	 * The Python type, static text: "_thread.lock", "_thread.RLock",
	 * "_multiprocessing.SemLock", "_io.BufferedWriter",
	 * "_io.BufferedReader", "_io.BufferedRandom", "_queue.SimpleQueue".
	 */
	const char *type;
	uint64_t object;	/* address of the lock object */
	uint64_t native;	/* what matched: its sem_t *, PyMutex, or
				 * the address a 3.13 waiter parks on */
	/*
	 * The holder's thread ident where the object records one:
	 * RLock rlock_owner; Buffered* owner; SemLock last_tid while its
	 * count is not 0, else 0.  owner_known: it is an owner, the only
	 * thread that can release it (not for a SemLock of kind SEMAPHORE,
	 * multiprocessing's Lock and Semaphore: anyone may release them).
	 */
	uint64_t owner_ident;
	bool owner_known;
	uint64_t count;		/* RLock: rlock_count; SemLock: count */
	int maxvalue;		/* SemLock: 1 for multiprocessing locks */
	int semlock_kind;	/* SemLock: 0 RECURSIVE_MUTEX, 1 SEMAPHORE */
	/* SemLock: other processes can hold and release it */
	bool process_shared;
	/* released by whoever puts or posts (SimpleQueue): no owner */
	bool signal;
	/* where: "frame", or the sys attribute: "stdout", "stderr", ... */
	const char *found;
	const char *note;	/* one short line, static text, or NULL */
};

/* A lock that a `with` block of a thread holds (py_with_held). */
struct py_held_lock {
	/*
	 * The Python type: "_thread.lock", "_thread.RLock",
	 * "_multiprocessing.SemLock", or for a threading.Semaphore (or
	 * BoundedSemaphore, or a subclass) its class name.
	 */
	char type[PY_TYPE_NAME_MAX];
	uint64_t object;	/* the lock, or the semaphore */
	uint64_t native;	/* its sem_t * or PyMutex; 0 for a semaphore */
	/* the object whose __exit__ the block holds, when not the lock
	 * itself: a Condition (then object is its _lock), a
	 * multiprocessing lock (object is its _semlock); else 0 */
	uint64_t via;
	char via_type[PY_TYPE_NAME_MAX];	/* "Condition", or "" */
	bool process_shared;	/* a SemLock */
	int frame;		/* index in t->frames of the holding frame */
	int line;		/* the line of the with statement, or ... */
	bool line_is_frame;	/* ... when true, the frame's current line */
};

/* One of importlib's module locks that a thread owns. */
struct py_module_lock {
	char *module;		/* allocated; NULL if unreadable */
	uint64_t object;	/* the _ModuleLock */
	uint64_t interp;	/* of the interpreter whose import it is */
	uint64_t owner_ident;	/* the owning thread's ident */
	uint64_t count;		/* its recursion count */
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
 * Finds the lock object whose native lock is sync_addr, the futex word a
 * thread of t sleeps on: a _thread.lock, _thread.RLock,
 * _multiprocessing.SemLock (its sem_t), _io.Buffered* (its internal
 * lock) or _queue.SimpleQueue (its lock up to 3.12; on 3.13 the queue
 * the thread parks on, read through the parking lot's wait entry).
 * Looks among the slots of t's innermost PY_LOCK_SCAN_FRAMES frames,
 * one level into bound methods and TextIOWrappers found there, then at
 * the buffers of sys.stdout, sys.stderr and sys.stdin (and their
 * __std*__ originals) of t's interpreter: print() waits on a stream's
 * lock that no frame holds.  A lock reachable only through other
 * objects' attributes is not found.  Call after py_capture(), target
 * still stopped.  Returns 0 and fills out, or -1 when nothing matches.
 */
int py_find_lock(struct py_locator *loc, const struct py_thread *t,
		 uint64_t sync_addr, struct py_lock_info *out);

/*
 * The locks that `with` blocks in t's frames hold right now, innermost
 * frame first, inner blocks of a frame first: a _thread.lock, RLock or
 * SemLock whose bound __exit__ a live block keeps on its frame's value
 * stack; the _lock of a threading.Condition (the _semlock of a
 * multiprocessing lock) whose Python __exit__ it keeps; a
 * threading.Semaphore's __exit__ gives the semaphore itself.  Live
 * blocks come from the frame's block stack (<= 3.10) or from the code's
 * exception table at the frame's instruction (3.11+): a block that has
 * exited, whose __exit__ may still sit in a stale slot, is never
 * reported; neither is the lock of a block still entering (its
 * __enter__ waits for it), the lock of a Condition that a frame inside
 * the block waits on (wait() released it), a lock taken by acquire(),
 * nor one held through contextlib.ExitStack.  Call after py_capture(),
 * target stopped.
 * Returns how many it wrote to out (at most max), or -1 when t's frames
 * cannot be read.
 */
int py_with_held(struct py_locator *loc, const struct py_thread *t,
		 struct py_held_lock *out, int max);

/*
 * For a thread waiting in importlib._bootstrap's _ModuleLock.acquire
 * (an import that another thread is running): the _ModuleLock's owner
 * (a thread ident, 0 when it has none at this instant) and the name of
 * the module (allocated).  Returns 0, or -1 when t waits in no such
 * frame among its innermost PY_IMPORT_SCAN_FRAMES.
 */
int py_module_lock_wait(struct py_locator *loc, const struct py_thread *t,
			uint64_t *owner_ident, char **module);

/*
 * The module locks owned right now in every interpreter of p: the live
 * _ModuleLocks of importlib's _module_locks (weak references, one per
 * module being imported) that have an owner and a count.  Returns how
 * many it wrote to out (at most max; free each module), or -1 when no
 * interpreter's table is readable.
 */
int py_module_locks(struct py_locator *loc, const struct py_process *p,
		    struct py_module_lock *out, int max);

/*
 * The signals whose handler is a Python callable other than SIG_DFL,
 * SIG_IGN and signal.default_int_handler: bit n-1 of *custom_mask for
 * signal n.  A handler installed from C around Python (the table says
 * None) is not counted.  Reads the handler table (Handlers[] in
 * Modules/signalmodule.c up to 3.11, found by symbol or, in a stripped
 * build, by its shape in .bss; _PyRuntime.signals from 3.12).  Returns
 * 0, or -1 when the table cannot be found or read.
 */
int py_signal_handlers(struct py_locator *loc, uint64_t *custom_mask);

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

/*
 * Is file (a code object's co_filename) part of Python's standard
 * library, or frozen into the interpreter?  A report names the
 * program's own line, the innermost frame for which this is false.
 */
bool py_file_in_library(const char *file);

/*
 * A Lock wait in a function of threading.py (its code name): for a
 * Condition's notify (wait, wait_for), for a thread's end (join,
 * _wait_for_tstate_lock), else for the Lock itself.
 */
enum py_wait_for { PY_WAIT_LOCK, PY_WAIT_NOTIFY, PY_WAIT_THREAD_END };
enum py_wait_for py_threading_wait(const char *function);

void py_process_free(struct py_process *p);
void py_locator_free(struct py_locator *loc);

#endif
