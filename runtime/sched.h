/*
 * The serial scheduler (pydeadlock run --serial, replay, explore): the
 * program's threads run one at a time; the turn passes only when the
 * thread holding it reaches a synchronisation point the runtime
 * controls.  Blocking on a lock, a semaphore, a condition, a join or a
 * sleep is modelled here, not done in the kernel: a thread that would
 * block gives up the turn and is woken by the release that lets it on,
 * so that every choice of the next thread is the scheduler's, made from
 * the seed (PCT priorities with change points) or read from a trace.
 * Time is virtual: when every thread waits and some wait has a timeout,
 * the clock jumps to the earliest one.  A call that may block outside
 * the process (I/O, a child, a process-shared object) is made without
 * the turn ("outside"); its return is a choice recorded like the others.
 *
 * Nothing here takes a pthread lock or allocates: the scheduler is
 * called from the interposers of exactly those.
 */
#ifndef PD_SCHED_H
#define PD_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "runtime/trace.h"

#define SCHED_MAX_THREADS 1024
#define SCHED_INTERVAL 256	/* a GIL wait may be ended once this many steps
				 * passed since it began: the switch interval,
				 * counted in synchronisation points (16 made a
				 * queue pipeline 3.8x plain, 256 1.3x) */
#define SCHED_SPIN_MS 300	/* the turn held this long without a
				 * synchronisation point: a spin */
#define SCHED_REPLAY_WAIT_MS 5000	/* a replay waits this long for a thread
					 * that is outside, then diverges */

struct sched_hooks {
	/* every thread waits for another of them: no wake can come
	 * (threads counts them); may not return */
	void (*stuck)(int threads);
	/* replay: the program left the trace; says why, may not return */
	void (*diverged)(const char *why);
	/* a note for the user, one line without the newline */
	void (*say)(const char *what);
	/* the scheduler's own thread started (its tid) */
	void (*own)(int tid);
};

struct sched_options {
	uint64_t seed;
	int depth;			/* PCT: depth - 1 priority change points */
	int interval;			/* the GIL's switch interval, in steps */
	uint64_t steps_hint;		/* PCT: change points fall in 1..this */
	const struct trace *replay;	/* follow these decisions, or NULL */
	const char *policy;		/* --on-deadlock, said in the trace */
	const char *exe;		/* the image's executable, said in it */
	/* the real clock_gettime (the program's may be virtual), or NULL */
	int (*clock)(clockid_t, struct timespec *);
	char *record;			/* a mapped file to write the trace into */
	size_t record_size;
	struct sched_hooks hooks;
};

/* Start scheduling with the calling thread (the main one) holding the
 * turn.  The options' replay and record must stay mapped. */
void sched_start(const struct sched_options *o);
/* Is the calling thread under the scheduler (and not inside it)? */
bool sched_mine(void);
/* A thread let run beside the others (it spun) takes the turn back:
 * called before a check that a block depends on (a try-lock), so that
 * no release can come between the check and the block. */
void sched_settle(void);
/* The calling thread is the only one (a fork child): it holds the turn;
 * no trace is written or followed in the child. */
void sched_after_fork(void);

/* In the creating thread, before pthread_create: the new thread's id
 * (-1: too many, it runs unscheduled). */
int sched_thread_new(void);
/* The creation failed: forget the id. */
void sched_thread_cancel(int id);
/* First thing in the new thread: wait for the turn. */
void sched_thread_begin(int id);
/* Last thing of a thread: wakes its joiners, passes the turn on. */
void sched_thread_end(void);
/* The creator tells the new thread's pthread_t (before it can run). */
void sched_thread_named(int id, uint64_t self);
/* The logical id of the thread whose pthread_t is t, or -1 */
int sched_thread_of(uint64_t self);
/* Has thread id ended? */
bool sched_thread_done(int id);
/* The object a joiner of thread id blocks on */
const void *sched_thread_obj(int id);

/* A synchronisation point that did not block: the turn may pass. */
void sched_point(enum trace_event ev);
/*
 * Block on obj until sched_wake(obj) or, with a timeout (ns, < 0: none),
 * until virtual time has passed it.  A GIL wait has no timeout but is
 * expirable: the scheduler may end it as if the switch interval had
 * passed, once until it is woken.  Returns 0 when woken, ETIMEDOUT, or
 * EINTR when a signal was handled in the thread meanwhile.
 */
int sched_block(enum trace_event ev, const void *obj, int64_t timeout_ns,
		bool gil);
/* Thread tid (blocked) looks again at what it waits for: its wait was
 * chosen to fail (a deadlock broken). */
void sched_interrupt(int tid);
/* Wake the first (one) or all threads blocked on obj. */
void sched_wake(const void *obj, bool all);
/* Around a call that may block outside the process. */
void sched_outside_begin(enum trace_event ev);
void sched_outside_end(void);

/* The clock offset virtual time has jumped by (added to the program's
 * CLOCK_MONOTONIC and CLOCK_REALTIME). */
int64_t sched_skew_ns(void);

#endif
