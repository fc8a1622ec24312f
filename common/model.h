/*
 * The program model: what pydeadlock knows about one program (one
 * process, or a process and its descendants) at one moment.  The tracer
 * fills it (attach from ptrace snapshots, run's supervisor from /proc and
 * the shim's registries), analysis/ adds the verdict, ui/ prints it.
 * Nothing here knows how the facts were obtained.
 *
 * Every wait says who could end it, because that is what a verdict
 * needs: an owned object (a mutex, an RLock, a Lock held by `with`, a
 * join) only its owners; anything else any of its wakers (by default
 * every thread of the waiter's process), and perhaps something outside
 * the model (a signal handler, another process, a terminal).
 *
 * Strings are owned by the model and freed by model_free().  NULL means
 * "cannot be known"; the matching *_why field, where present, says why.
 */
#ifndef PD_MODEL_H
#define PD_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What a thread waits for (DESIGN.md's list of kinds, and more). */
enum wait_kind {
	WAIT_NONE = 0,
	WAIT_LOCK,	/* threading.Lock / _thread.lock */
	WAIT_RLOCK,
	WAIT_SEMAPHORE,
	WAIT_CONDITION,
	WAIT_EVENT,
	WAIT_QUEUE,
	WAIT_JOIN,	/* Thread.join or pthread_join */
	WAIT_FUTURE,
	WAIT_GIL,
	WAIT_MUTEX,	/* pthread mutex */
	WAIT_RWLOCK,
	WAIT_COND,	/* pthread condition variable */
	WAIT_SEM,	/* POSIX semaphore */
	WAIT_FUTEX,	/* a futex nobody above explains */
	WAIT_PIPE,	/* reading or writing a pipe */
	WAIT_CHILD,	/* waitpid: a child process's end */
	WAIT_BARRIER,	/* threading.Barrier */
	WAIT_IMPORT,	/* a module lock of the import system */
	WAIT_KIND_COUNT
};

/* Coarse state of a thread when it was seen. */
enum thread_state {
	THREAD_RUNNING = 0,	/* executing user code */
	THREAD_WAITING,		/* blocked on a synchronisation object */
	THREAD_SLEEPING,	/* sleep(), nanosleep() */
	THREAD_IO,		/* blocked on a file, socket, terminal, poll */
	THREAD_SYSCALL,		/* in some other system call */
	THREAD_UNKNOWN,		/* could not be stopped or read */
	THREAD_STATE_COUNT
};

/* The interpreter's build, as far as its lock is concerned. */
enum python_build {
	PYTHON_GIL = 0,		/* the usual build: one thread runs Python */
	PYTHON_FREE_NO_GIL,	/* free-threaded (3.13t), GIL disabled */
	PYTHON_FREE_GIL,	/* free-threaded, GIL enabled at run time */
};

enum deadlock_kind {
	DEADLOCK_CYCLE = 0,	/* owner edges close a loop */
	DEADLOCK_ALL_BLOCKED,	/* every thread that could end these waits waits */
	DEADLOCK_ORPHANED,	/* the owner no longer exists */
};

/* A place in the program: the Python line when known, else native. */
struct site {
	char *file;
	int line;		/* 0 when unknown */
	char *function;
};

struct frame {
	bool python;
	bool inlined;		/* native code inlined into the next frame */
	uint64_t pc;		/* native frames only */
	char *function;
	char *module;		/* native: the ELF object's file name */
	char *file;
	int line;		/* 0 when unknown */
};

#define WAIT_MAX_OWNERS 8	/* a semaphore can have many holders; past 8 we list 8 */
#define WAIT_MAX_WAKERS 8	/* processes or threads named as able to end a wait */

/* Someone who could end a wait: a thread, or any thread of a process. */
struct waker {
	pid_t pid;
	pid_t tid;		/* 0: any thread of process pid */
};

struct wait_info {
	enum wait_kind kind;
	uint64_t id;		/* address of the object waited on (or fd, pid) */
	uint64_t sync_addr;	/* the native object under it (futex, sem_t) */
	bool timed;		/* will give up by itself: never a deadlock edge */
	/*
	 * owned: only the owners (all of them: an rwlock's readers) can
	 * end the wait.  Otherwise owner_tids are only who holds it now
	 * (who took a plain Lock, a semaphore's units), and any waker can.
	 */
	bool owned;
	int n_owners;		/* 0: no owner known (see owner_why) */
	pid_t owner_tids[WAIT_MAX_OWNERS];
	/* the owner can never act: gone, or in another process with a
	 * private copy of the object (after fork) */
	bool orphaned;
	const char *owner_why;	/* static text: why no owner is known */
	/* who else could end it; none listed: every thread of the waiter's
	 * own process */
	int n_wakers;
	struct waker wakers[WAIT_MAX_WAKERS];
	/* a process-shared object: the processes that map it may end it */
	bool shared;
	/* 3.13.1+ parked on a Lock's PyMutex: the registry does not know
	 * its holder, only a full view of the process can */
	bool parked;
	/* what outside the model could end it, NULL: nothing */
	char *external;
	char *pytype;		/* "_thread.lock", NULL for native objects */
	struct site site;	/* the line that waits */
	char *detail;		/* "in futex(0x..., FUTEX_WAIT)" etc. */
	char *note;		/* who would normally end it, for the reader */
};

struct held {
	enum wait_kind kind;
	uint64_t id;
	uint64_t native;	/* the native lock under a Python one, or 0 */
	bool owned;		/* released by this thread only (mutex, `with`) */
	struct site site;	/* where acquired; file NULL when unknown */
};

struct thread_model {
	pid_t pid;		/* its process */
	pid_t tid;
	char *name;		/* Python thread name, else /proc comm */
	char *comm;		/* /proc/TID/comm */
	enum thread_state state;
	char *state_detail;	/* "futex", "read", "nanosleep", ... */
	/* from /proc as it was stopped: CPU time used, the CPU it last ran
	 * on (-1: unknown), the CPUs it may run on (NULL: every one) */
	uint64_t cpu_ns;
	int last_cpu;
	char *affinity;
	bool job_stopped;	/* SIGSTOPped before we came; still so after */
	bool waking;		/* its futex was posted: it is leaving its wait */
	bool holds_gil;
	/* the verdict's: proved never to act again (stuck), or only unless
	 * something outside acts (stuck_unless_outside) */
	bool stuck, stuck_unless_outside;
	/* changes whenever the thread may have done something (the times it
	 * was scheduled; for a wait the shim slices or the GIL's rounds, its
	 * registry slot's generation): a still thread keeps it */
	uint64_t progress;
	/* which wait it is in, where the shim tells (when it began): one
	 * that ends and begins again on the same object is another */
	uint64_t wait_serial;
	/* the system call it sleeps in, when it does */
	bool in_syscall;
	long syscall_nr;
	uint64_t syscall_args[6];
	struct wait_info wait;	/* kind WAIT_NONE when not waiting */
	struct held *holds;
	int n_holds;
	struct frame *frames;	/* innermost first */
	int n_frames;
	bool frames_truncated;	/* the stack went on past what was read */
	char *frames_why;	/* why the stack is partial, NULL when whole */
};

struct deadlock {
	enum deadlock_kind kind;
	pid_t *tids;		/* in cycle order for DEADLOCK_CYCLE */
	int n_tids;
	bool certain;
	const char *why;	/* potential: what could still end it */
};

/* One process of the program. */
struct process_info {
	pid_t pid;
	pid_t ppid;
	char *comm;
	char *exe;
	char *python_version;	/* NULL: not a Python process (or unknown) */
	char *python_why;	/* why Python frames are missing, NULL if fine */
	bool python;		/* a CPython (its handlers run in its main thread) */
	enum python_build python_build;
	/* signals whose handler may end a wait of the process (bit sig-1) */
	uint64_t wake_signals;
	/* ... a wait on a Python object: only Python's handlers can touch one
	 * (a C handler, readline's SIGWINCH say, cannot release a Lock); the
	 * same as wake_signals where Python's table could not be read */
	uint64_t python_wake_signals;
	bool from_registry;	/* owners read from the shim's registry */
	pid_t fork_parent;	/* forked from this process (registry), 0 */
	bool reporting;		/* its shim is reporting a deadlock itself */
};

struct process_model {
	/* the process asked about; its fields repeat procs[0]'s */
	pid_t pid;
	char *comm;
	char *exe;
	char *python_version;
	char *python_why;
	enum python_build python_build;
	bool from_registry;
	struct process_info *procs;	/* every process of the program */
	int n_procs;
	struct thread_model *threads;	/* of every process */
	int n_threads;
	struct deadlock *deadlocks;
	int n_deadlocks;
	struct deadlock *potential;	/* what only the outside or a timeout ends */
	int n_potential;
	uint64_t stopped_ns;	/* how long the target was stopped */
	char *core;		/* read from this core file, NULL: live */
	/* some wait could be ended from outside the program, but nobody
	 * looked whether anyone there can (a cheap view) */
	bool outside_unchecked;
};

const char *wait_kind_name(enum wait_kind kind);
const char *thread_state_name(enum thread_state state);
const char *deadlock_kind_name(enum deadlock_kind kind);

/* The thread with this TID, or NULL. */
struct thread_model *model_thread(struct process_model *pm, pid_t tid);
/* The process with this PID, or NULL. */
struct process_info *model_process(struct process_model *pm, pid_t pid);
/* Add a process (strings copied); its index stays valid until the next. */
struct process_info *model_add_process(struct process_model *pm, pid_t pid);

/* Append a frame to a thread (strings are copied). */
struct frame *model_add_frame(struct thread_model *t);
/* Add a hold (strings copied); one of the same object (by id, or a
 * Python lock's native lock) is merged.  Returns it. */
struct held *model_add_held(struct thread_model *t, enum wait_kind kind,
			    uint64_t id, bool owned, const struct site *site);
void model_add_deadlock(struct deadlock **list, int *n,
			enum deadlock_kind kind, const pid_t *tids,
			int n_tids, bool certain, const char *why);
/* Name w's waker; ignored past WAIT_MAX_WAKERS or when already named. */
void wait_add_waker(struct wait_info *w, pid_t pid, pid_t tid);

/* Take thread i out of the model (before the verdict: deadlocks name
 * threads by TID). */
void model_drop_thread(struct process_model *pm, int i);

void model_free(struct process_model *pm);

#endif
