/*
 * The preload shim (libpydeadlock.so): shared state of its parts.  The
 * interposers (shim.c) keep each thread's slot in the runtime's registry;
 * the reporter (shim_report.c) acts when a wait closes a cycle; the
 * Python side (shim_python.c) reads the calling thread's own frames.
 */
#ifndef PD_SHIM_H
#define PD_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/exit_status.h"
#include "runtime/registry.h"
#include "runtime/sched.h"

enum shim_policy { POLICY_ABORT, POLICY_REPORT, POLICY_BREAK };

/* A broken wait ends within this; a waiting thread wakes this often */
#define BREAK_POLL_NS 2000000	/* 2 ms, only under break and report */
#define LIVELOCK_BREAKS 100	/* breaks of one thread on one object in a row */

extern struct registry *shim_registry;

/* Configure the reporter from the environment (once, at start-up). */
void shim_report_init(void);
/* At exit: wait for a report that is still reading the process. */
void shim_report_finish(void);
/* Must waits be breakable (policies break and report)? */
bool shim_report_breakable(void);
/* Tell pydeadlock run's supervisor that this process exists (at start
 * and in a fork child); nothing when not under run. */
void shim_report_hello(void);
/* pydeadlock run's supervisor, while it is still the one we were given;
 * 0 when none. */
pid_t shim_report_supervisor(void);
/* Ask the supervisor to look at the program now (a cycle closed by the
 * holders of Locks, which only the whole program's view can prove). */
void shim_report_nudge(void);

/*
 * A wait by the thread of slot me closed the cycle tids[n]: say so at
 * once, have pydeadlock write the full report, then end the program
 * with status 86 (abort), return so that the thread waits on (report),
 * or choose a victim whose wait fails (break).  Returns true when the
 * victim is the caller: its wait must fail now.
 */
bool shim_deadlock(struct registry_slot *me, const pid_t *tids, int n);

/* The thread of slot s was chosen as a victim: its wait must fail now. */
static inline bool shim_broken(struct registry_slot *s)
{
	return atomic_exchange(&s->break_pending, 0) != 0;
}

/*
 * Fail a Python lock's wait in this thread: arrange for DeadlockError
 * (why) to be raised when CPython, seeing EINTR, runs its pending calls.
 * False when this interpreter cannot be made to raise in this thread.
 */
bool shim_python_fail_wait(const char *why, const void *sem);
/* Find the interpreter, once, at start-up (no dlsym later). */
void shim_python_init(void);
/* Can a Python lock wait of thread tid be failed?  (A static build: its
 * main thread, and the others where pthread_self() reaches us.) */
bool shim_python_can_fail(pid_t tid);
/* The calling thread blocks on semaphore sem: when its wait on sem was
 * failed and its caller (PyThread_acquire_lock without intr_flag) waits
 * again instead of raising, the raise is dropped. */
void shim_python_wait_begins(const void *sem);
/* A victim's failure reached the program (DeadlockError raised). */
void shim_break_delivered(void);
/*
 * 3.13.1+: is this semaphore wait of the calling thread the one that
 * _PyParkingLot_Park sleeps in (the semaphore of its wait entry, right
 * after the address parked on)?  Such a wait that fails with EINTR ends
 * the park with Py_PARK_INTR: Lock.acquire(), join() and SimpleQueue.get()
 * then run their pending calls, the others park again.  Any other
 * semaphore wait inside a park (the bucket's raw mutex) must never fail.
 */
bool shim_python_parked(const void *sem);
/* ... and parked on a PyMutex (a Lock, or one of the interpreter's),
 * whose holder took it where the shim does not see. */
bool shim_python_parked_mutex(const void *sem);

/*
 * The calling thread's Python position (code object, bytecode offset in
 * bytes), when it runs Python; false otherwise.  With by_with, also
 * whether the lock being acquired there is taken by a `with` statement
 * (directly, or through a Python __enter__ that one called).
 */
bool shim_python_site(uint64_t *code, int64_t *lasti, bool *by_with);
/* Is this process a CPython we can read? */
bool shim_python_present(void);
/* Is the interpreter itself at work (starting, importing its own
 * frozen modules), not the program's Python code? */
bool shim_python_bootstrap(void);
/* The calling thread's PyThreadState, or 0. */
uint64_t shim_python_tstate(void);
/* Where the GIL's state is, once Python runs; false before or without. */
bool shim_python_gil(struct registry_gil *gil);

/*
 * Lock order (shim_order.c reads these): where the calling thread made a
 * lock, the first frame outside threading.py (false: not in Python);
 * code at lasti as "file:line in function" and "file:line" (safe reads:
 * the code object may be gone); the calling thread's Python stack as
 * lines, innermost first (how many); and whether the call at lasti
 * blocks (a with statement, or acquire() with no argument).
 */
bool shim_python_maker(uint64_t *code, int64_t *lasti);
bool shim_python_where(uint64_t code, int64_t lasti, char *where, size_t size,
		       char *site, size_t site_size);
int shim_python_stack_text(char *out, size_t size, int max);
bool shim_python_blocking_call(uint64_t code, int64_t lasti);
/* The profile's name for the calling thread: the function its Python
 * stack started in, outside threading.py (a Thread's target); false when
 * there is none yet. */
bool shim_python_entry(char *out, size_t size);
/* What the calling thread's Lock wait is for (enum py_wait_for), when
 * threading.py waits on one for it. */
int shim_python_wait_kind(void);

/* run --lock-order (shim_order.c) */
extern bool shim_order;
/* The lock classes and orders (lock-order or profile asked), or NULL. */
struct lockorder *shim_order_tables(void);
/* What class c is: "made at app.py:5 in f" (native sites named now). */
void shim_order_class_name(uint32_t c, char *name, size_t size);
/* Give run a record (lock-order loops, a profile): len bytes, its NUL
 * included, in one write to run's memfd. */
void shim_record_send(const char *buf, size_t len);
/* From the environment run sets; nothing when not asked. */
void shim_order_init(void);
/* A lock was made at obj (pthread_mutex_init, or sem_init of a lock:
 * python_lock); site: the native caller. */
void shim_order_made(const void *obj, uint64_t site, bool python_lock);
/* The lock at obj is destroyed. */
void shim_order_gone(const void *obj);
/*
 * The thread of slot s, before recording it, took obj (kind REG_*):
 * blocking (ORDER_BLOCKS), by a try or with a timeout (ORDER_TRY), or by
 * a try that Python's acquire() makes before it blocks (ORDER_PYTHON:
 * the Python call says which).  Adds the orders from what it holds; a
 * Lock it already held is a signal from now on.
 */
enum order_blocking { ORDER_TRY, ORDER_BLOCKS, ORDER_PYTHON };
void shim_order_taken(struct registry_slot *s, const void *obj, uint32_t kind,
		      enum order_blocking blocking, uint64_t site);
/* A Lock released by a thread that did not take it: a signal. */
void shim_order_signal(const void *obj);
/* Tell run what this process found (at its end, or before an exec). */
void shim_order_flush(void);

/* write(2) all of buf, whatever signals do */
void shim_write_all(int fd, const char *buf, size_t len);
/* Is obj part of CPython's GIL (its mutex, its conditions)? */
bool shim_is_gil(const void *obj);
/* Is the calling thread inside the shim's own calls? */
bool shim_inside(void);

/* run --serial (serial.c): the scheduler decides who runs */
extern bool shim_serial;
/* From the environment run sets; nothing when not serial. */
void shim_serial_init(void);
/* Check the glibc layout facts serial mode reads (once, at its start). */
void shim_serial_layout_check(void);
/* ns from now (the program's, virtual, clock) to abs on clock; -1
 * without abs. */
int64_t shim_serial_remaining(clockid_t clock, const struct timespec *abs);
/* The scheduler's proof: every thread waits for another (threads of
 * them); report it and end the program by the policy. */
void shim_serial_stuck(int threads);

/* run --serial: a call that may block outside the process (I/O, a
 * child, a process-shared object, released in another process) is made
 * for real, without the turn; its value and errno as it left them. */
#define SERIAL_OUTSIDE(call)						\
	({								\
		__typeof__(call) r_;					\
		int e_;							\
		sched_outside_begin(TE_IO);				\
		r_ = (call);						\
		e_ = errno;						\
		sched_outside_end();					\
		errno = e_;						\
		r_;							\
	})

/* run --profile (shim_profile.c): what each thread waited for */
enum prof_state {
	PROF_GIL, PROF_LOCK, PROF_COND, PROF_JOIN, PROF_IO, PROF_SLEEP,
	PROF_STATES
};
extern bool shim_profile;
void shim_profile_init(void);
void shim_profile_after_fork(void);
uint64_t shim_profile_now(void);
/* The calling thread took the lock at addr. */
void shim_profile_acquired(uint64_t addr);
/* It begins to wait on addr (kind REG_*): who holds it, and where. */
void shim_profile_wait_begins(uint64_t addr, uint32_t kind);
/* Its wait of state st on addr, begun at since (ns), from site, ended. */
void shim_profile_wait_ends(struct registry_slot *s, enum prof_state st,
			    uint64_t addr, uint64_t since, uint64_t site);
/* An I/O call or a sleep begun at start (ns) returned. */
void shim_profile_span(enum prof_state st, uint64_t start);
/* The calling thread ends: its CPU time. */
void shim_profile_thread_ends(void);
/* Give run this process's profile (at its end). */
void shim_profile_flush(void);

/* A call timed for --profile as state st: an I/O call or a sleep. */
#define PROFILED(st, call)						\
	(__builtin_expect(shim_profile, 0) ?				\
	 ({								\
		uint64_t t0_ = shim_profile_now();			\
		__typeof__(call) r_ = (call);				\
		int e_ = errno;						\
		shim_profile_span(st, t0_);				\
		errno = e_;						\
		r_;							\
	 }) : (call))

/* Messages said once per process (bits of registry->said) */
enum shim_note {
	NOTE_FULL,		/* more threads than the registry holds */
	NOTE_FACTS,		/* too many special semaphores */
	NOTE_NO_REGISTRY,	/* the registry could not be made */
	NOTE_NO_REPORT,		/* the full report could not be written */
	NOTE_STATIC_VICTIM,	/* a static interpreter's thread cannot raise */
	NOTE_ENV,		/* the environment or spawning degrades */
	NOTE_ORDER,		/* the lock-order tables are full */
	NOTE_COUNT
};

/* Say once on stderr that a limit was reached and tracking degrades. */
void shim_say_once(enum shim_note note, const char *what);

#endif
