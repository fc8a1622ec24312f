/*
 * The process model: what pydeadlock knows about one process at one moment.
 * The tracer fills it (attach from a ptrace snapshot, later the shim from
 * its registry), analysis/ adds the verdict, ui/ prints it.  Nothing here
 * knows how the facts were obtained.
 *
 * Strings are owned by the model and freed by model_free().  NULL means
 * "cannot be known"; the matching *_why field, where present, says why.
 */
#ifndef PD_MODEL_H
#define PD_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What a thread waits for (DESIGN.md's list of kinds). */
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
	WAIT_KIND_COUNT
};

/* Coarse state of a thread when it was stopped. */
enum thread_state {
	THREAD_RUNNING = 0,	/* executing user code */
	THREAD_WAITING,		/* blocked on a synchronisation object */
	THREAD_SLEEPING,	/* sleep(), nanosleep() */
	THREAD_IO,		/* blocked on a file, socket, pipe, poll */
	THREAD_SYSCALL,		/* in some other system call */
	THREAD_UNKNOWN,		/* could not be stopped or read */
	THREAD_STATE_COUNT
};

enum deadlock_kind {
	DEADLOCK_CYCLE = 0,	/* owner edges close a loop */
	DEADLOCK_ALL_BLOCKED,	/* every thread waits untimed in-process */
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

struct wait_info {
	enum wait_kind kind;
	uint64_t id;		/* address of the object waited on */
	uint64_t sync_addr;	/* the native object under it (futex, sem_t) */
	bool timed;		/* will give up by itself: never a deadlock edge */
	int n_owners;		/* 0: no owner known (see owner_why) */
	pid_t owner_tids[WAIT_MAX_OWNERS];
	const char *owner_why;	/* static text: why no owner is known */
	char *pytype;		/* "_thread.lock", NULL for native objects */
	struct site site;	/* the line that waits */
	char *detail;		/* "in futex(0x..., FUTEX_WAIT)" etc. */
};

struct held {
	enum wait_kind kind;
	uint64_t id;
	struct site site;	/* where acquired; file NULL when unknown */
};

struct thread_model {
	pid_t tid;
	char *name;		/* Python thread name, else /proc comm */
	char *comm;		/* /proc/TID/comm */
	enum thread_state state;
	char *state_detail;	/* "futex", "read", "nanosleep", ... */
	bool job_stopped;	/* SIGSTOPped before we came; still so after */
	bool waking;		/* its futex was posted: it is leaving its wait */
	bool holds_gil;
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
};

struct process_model {
	pid_t pid;
	char *comm;
	char *exe;
	char *python_version;	/* NULL: not a Python process (or unknown) */
	char *python_why;	/* why Python frames are missing, NULL if fine */
	struct thread_model *threads;
	int n_threads;
	struct deadlock *deadlocks;
	int n_deadlocks;
	struct deadlock *potential;	/* cycles through timed waits */
	int n_potential;
	bool from_registry;	/* owners read from the shim's registry */
	uint64_t stopped_ns;	/* how long the target was stopped */
};

const char *wait_kind_name(enum wait_kind kind);
const char *thread_state_name(enum thread_state state);
const char *deadlock_kind_name(enum deadlock_kind kind);

/* The thread with this TID, or NULL. */
struct thread_model *model_thread(struct process_model *pm, pid_t tid);

/* Append a frame to a thread (strings are copied). */
struct frame *model_add_frame(struct thread_model *t);
void model_add_held(struct thread_model *t, enum wait_kind kind, uint64_t id,
		    const struct site *site);
void model_add_deadlock(struct deadlock **list, int *n,
			enum deadlock_kind kind, const pid_t *tids,
			int n_tids, bool certain);

void model_free(struct process_model *pm);

#endif
