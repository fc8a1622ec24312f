/*
 * The serial scheduler (sched.h).  One small lock (a futex word) guards
 * the thread table; the thread holding the turn is the only one that runs
 * program code, every other waits on its own futex word for the turn.
 * A decision takes the threads that could run (ready ones, and GIL waits
 * that may be ended), asks the trace when replaying, else takes the one
 * of highest PCT priority; a trace being recorded gets a line for each
 * decision where there was a choice.  A watchdog thread ends timed waits
 * in real time while threads are outside (I/O, children), and lets a
 * thread that spins without a synchronisation point go on beside the
 * others instead of hanging the run.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/sched.h"

enum tstate { T_FREE, T_READY, T_RUNNING, T_BLOCKED, T_OUTSIDE, T_LOOSE, T_DONE };

struct sthread {
	_Atomic uint32_t go;	/* futex word: bumped when given the turn */
	enum tstate state;
	const void *obj;	/* blocked on */
	int64_t deadline;	/* virtual ns; 0: none */
	bool gil;		/* blocked on the GIL: expirable */
	bool gil_spent;		/* ... already ended once, not woken since */
	uint64_t gil_since;	/* ... the step it began at */
	bool timed_out;		/* its last wait ended by the clock */
	bool interrupted;	/* ... by a signal (a handler ran in it) */
	uint64_t seq;		/* blocking order: who a signal wakes */
	uint64_t prio;		/* PCT priority */
	_Atomic uint64_t self;	/* pthread_t */
	_Atomic int tid;
	char join;		/* its address: what its joiners block on */
};

static struct {
	_Atomic uint32_t lock;
	_Atomic int current;	/* holds the turn; -1: none */
	_Atomic int n;		/* ids given */
	_Atomic int alive;	/* not ended */
	uint64_t step;
	uint64_t choices;	/* decisions with more than one thread to run */
	uint64_t turn_step;	/* the step the turn's holder got it at */
	uint64_t seq;
	_Atomic int64_t skew;
	uint64_t rng;
	int depth;
	int interval;		/* steps before a GIL wait may be ended */
	bool walk;		/* depth 0: every choice at random, not PCT */
	uint64_t change[32];
	int n_change;
	const struct trace *replay;
	uint32_t replay_at;
	int64_t idle_since;	/* real ns the turn went idle (replay waits) */
	char *rec;
	size_t rec_size, rec_len;
	struct sched_hooks hooks;
	_Atomic uint64_t entries;	/* scheduler entries: a spin makes none */
	bool spin_said;
} S = { .current = -1 };

static struct sthread T[SCHED_MAX_THREADS];
static __thread int me = -1;
static __thread int in_sched;
static bool on;

/* ---- the lock, the clock, the futex ---- */

/* errno as the program left it: the scheduler's own calls keep it.
 * 0, or -errno. */
static long futex(_Atomic uint32_t *w, int op, uint32_t v, const struct timespec *t)
{
	int err = errno;
	long rc = syscall(SYS_futex, w, op | FUTEX_PRIVATE_FLAG, v, t, NULL, 0);

	if (rc < 0)
		rc = -errno;
	errno = err;
	return rc;
}

static void lock(void)
{
	uint32_t c = 0;

	if (atomic_compare_exchange_strong(&S.lock, &c, 1))
		return;
	if (c != 2)
		c = atomic_exchange(&S.lock, 2);
	while (c != 0) {
		futex(&S.lock, FUTEX_WAIT, 2, NULL);
		c = atomic_exchange(&S.lock, 2);
	}
}

static void unlock(void)
{
	if (atomic_exchange(&S.lock, 0) == 2)
		futex(&S.lock, FUTEX_WAKE, 1, NULL);
}

/* The real clock: the caller's (through the vDSO), else the system call */
static int (*real_clock)(clockid_t, struct timespec *);

static int64_t real_now(void)
{
	struct timespec t;

	if (!real_clock || real_clock(CLOCK_MONOTONIC, &t) != 0)
		syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t vnow(void)
{
	return real_now() + atomic_load(&S.skew);
}

int64_t sched_skew_ns(void)
{
	return on ? atomic_load_explicit(&S.skew, memory_order_relaxed) : 0;
}

/* xorshift64*: the one source of choices */
static uint64_t rnd(void)
{
	uint64_t x = S.rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	S.rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* ---- the trace being written ---- */

static void rec(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void rec(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!S.rec || S.rec_len >= S.rec_size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(S.rec + S.rec_len, S.rec_size - S.rec_len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= S.rec_size - S.rec_len) {
		/* full: the trace ends in a comment, never in half a line */
		memset(S.rec + S.rec_len, 0, S.rec_size - S.rec_len);
		S.rec_len = S.rec_size;
		if (S.hooks.say)
			S.hooks.say("serial: the trace is full; the rest of the run is not recorded");
		return;
	}
	S.rec_len += (size_t)n;
}

/* ---- the turn ---- */

static void grant(int id)
{
	if (atomic_load(&S.current) != id)
		S.turn_step = S.step;	/* its quantum starts */
	T[id].state = T_RUNNING;
	atomic_store(&S.current, id);
	atomic_fetch_add(&T[id].go, 1);
	if (id != me)
		futex(&T[id].go, FUTEX_WAKE, 1, NULL);
}

/* Until the calling thread holds the turn (the lock not held). */
static int decide(enum trace_event ev, bool *stuck);

/*
 * Until the calling thread holds the turn (the lock not held).  A signal
 * handled in a thread blocked here ends its wait, as it would end a real
 * sem_wait: the thread gets ready, and its wait returns EINTR (CPython
 * then runs the program's handler, which may release what it waits for).
 */
static void wait_turn(void)
{
	for (;;) {
		uint32_t g = atomic_load(&T[me].go);

		if (atomic_load(&S.current) == me)
			return;
		if (futex(&T[me].go, FUTEX_WAIT, g, NULL) != -EINTR)
			continue;
		lock();
		if (T[me].state == T_BLOCKED) {
			bool stuck;

			T[me].state = T_READY;
			T[me].interrupted = true;
			T[me].deadline = 0;
			if (atomic_load(&S.current) < 0)
				decide(TE_BACK, &stuck);
		}
		unlock();
	}
}

static bool has_children(void)
{
	siginfo_t si;
	int err = errno;
	bool some = syscall(SYS_waitid, P_ALL, 0, &si,
			    WEXITED | WNOHANG | WNOWAIT, NULL) == 0;

	errno = err;
	return some;
}

/* Timed waits whose time has come (virtual now), ready. */
static int expire(int64_t now)
{
	int k = 0;

	for (int i = 0; i < atomic_load(&S.n); i++)
		if (T[i].state == T_BLOCKED && T[i].deadline && T[i].deadline <= now) {
			T[i].state = T_READY;
			T[i].timed_out = true;
			T[i].deadline = 0;
			k++;
		}
	return k;
}

static int64_t earliest(void)
{
	int64_t d = 0;

	for (int i = 0; i < atomic_load(&S.n); i++)
		if (T[i].state == T_BLOCKED && T[i].deadline &&
		    (!d || T[i].deadline < d))
			d = T[i].deadline;
	return d;
}

struct cands {
	int id[SCHED_MAX_THREADS];
	char mark[SCHED_MAX_THREADS];
	int n, outside, blocked;
};

static void gather(struct cands *c)
{
	c->n = c->outside = c->blocked = 0;
	for (int i = 0; i < atomic_load(&S.n); i++) {
		struct sthread *t = &T[i];

		if (t->state == T_READY) {
			c->id[c->n] = i;
			c->mark[c->n++] = t->timed_out ? '!' : 0;
		} else if (t->state == T_BLOCKED && t->gil && !t->gil_spent &&
			   (S.step - t->gil_since >= (uint64_t)S.interval ||
			    atomic_load(&S.current) < 0)) {
			/* the interval passed in steps; or the GIL's holder
			 * runs outside the turn (the turn idles): in time */
			c->id[c->n] = i;
			c->mark[c->n++] = '~';
		} else if (t->state == T_OUTSIDE || t->state == T_LOOSE) {
			c->outside++;
		} else if (t->state == T_BLOCKED) {
			c->blocked++;
		}
	}
}

static void record_at(const struct cands *c, int chosen, enum trace_event ev)
{
	static char list[SCHED_MAX_THREADS * 7];	/* "1023~," each; the lock held */
	size_t len = 0;

	if (!S.rec)
		return;
	for (int i = 0; i < c->n && len < sizeof(list) - 8; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%d%s",
					i ? "," : "", c->id[i],
					c->mark[i] == '!' ? "!" : c->mark[i] == '~' ? "~" : "");
	rec("at %llu run %d of %s after %s\n", (unsigned long long)S.step,
	    chosen, list, trace_event_names[ev]);
}

static char why[512];

/*
 * Replay: the decision the trace has at this step.  Returns the thread,
 * -1 to wait (a thread it wants is still outside), -2 no decision here
 * (the trace has none at this step and there is no choice), -3 diverged
 * (why[] says how).
 */
static int replay_choice(struct cands *c)
{
	const struct trace *tr = S.replay;
	const struct trace_line *l = NULL;
	const struct trace_cand *want;

	while (S.replay_at < tr->n_lines && tr->lines[S.replay_at].kind != TRACE_AT)
		S.replay_at++;
	if (S.replay_at < tr->n_lines)
		l = &tr->lines[S.replay_at];
	if (!l || l->step > S.step) {
		/* no line here: the thread at this point went on, or it was
		 * the only one that could */
		for (int i = 0; i < c->n; i++)
			if (c->id[i] == me && !c->mark[i])
				return me;
		if ((c->n <= 1 && !c->outside) || !l)
			return -2;	/* no choice; or past the trace's end */
		snprintf(why, sizeof(why),
			 "at step %llu %d thread(s) could run, %d outside; the trace has no choice there (its next is line %u, step %llu)",
			 (unsigned long long)S.step, c->n, c->outside, l->lineno,
			 (unsigned long long)l->step);
		return -3;
	}
	if (l->step < S.step) {
		snprintf(why, sizeof(why),
			 "the trace chose at step %llu (line %u); this run is at step %llu without having had that choice",
			 (unsigned long long)l->step, l->lineno, (unsigned long long)S.step);
		return -3;
	}
	want = tr->cands + l->first;
	for (uint32_t i = 0; i < l->n; i++) {
		int id = want[i].thread;
		struct sthread *t = &T[id];

		if (id >= atomic_load(&S.n)) {
			snprintf(why, sizeof(why),
				 "step %llu (line %u): thread %d could run in the trace but does not exist here",
				 (unsigned long long)S.step, l->lineno, id);
			return -3;
		}
		if (t->state == T_READY ||
		    (want[i].mark == '~' && t->state == T_BLOCKED && t->gil && !t->gil_spent))
			continue;
		if (want[i].mark == '!' && t->state == T_BLOCKED && t->deadline) {
			t->state = T_READY;	/* recorded: its timeout came here */
			t->timed_out = true;
			t->deadline = 0;
			continue;
		}
		if (t->state == T_OUTSIDE || t->state == T_LOOSE)
			return -1;
		snprintf(why, sizeof(why),
			 "step %llu (line %u): thread %d could run in the trace, here it %s",
			 (unsigned long long)S.step, l->lineno, id,
			 t->state == T_DONE ? "has ended" :
			 t->state == T_BLOCKED ? "waits" : "cannot");
		return -3;
	}
	S.replay_at++;
	return l->thread;
}

/* Replay: was thread id made by the same thread as in the trace? */
static bool replay_parent_ok(int id, int parent)
{
	const struct trace *tr = S.replay;

	for (uint32_t i = 0; i < tr->n_lines; i++) {
		const struct trace_line *l = &tr->lines[i];

		if (l->kind != TRACE_THREAD || l->thread != id)
			continue;
		if (l->parent == parent)
			return true;
		snprintf(why, sizeof(why),
			 "step %llu: thread %d made by thread %d; in the trace (line %u) by thread %d",
			 (unsigned long long)S.step, id, parent, l->lineno, l->parent);
		return false;
	}
	return true;	/* past the trace's end: the run goes on unrecorded */
}

/*
 * Choose who runs next (the lock held) and give it the turn; -1 when
 * nobody can now (the turn idles until a thread comes back from outside
 * or the watchdog ends a timed wait).  stuck: set when no wake can come.
 */
static int decide(enum trace_event ev, bool *stuck)
{
	static struct cands c;	/* the lock held: off the program's small stacks */
	int chosen = -1;

	*stuck = false;
	for (;;) {
		gather(&c);
		if (c.n)
			break;
		if (c.outside) {
			atomic_store(&S.current, -1);
			S.idle_since = real_now();
			return -1;
		}
		if (!earliest()) {
			atomic_store(&S.current, -1);
			*stuck = c.blocked > 0;
			return -1;
		}
		if (has_children()) {	/* a child may be what they wait for */
			atomic_store(&S.current, -1);
			S.idle_since = real_now();
			return -1;
		}
		/* nobody can run before the earliest timeout: jump there */
		if (earliest() > vnow())
			atomic_fetch_add(&S.skew, earliest() - vnow());
		expire(vnow());
	}
	if (S.replay) {
		chosen = replay_choice(&c);
		if (chosen == -1) {
			atomic_store(&S.current, -1);
			S.idle_since = real_now();
			return -1;
		}
		if (chosen == -3) {
			atomic_store(&S.current, -1);
			S.replay = NULL;
			if (S.hooks.diverged)
				S.hooks.diverged(why);
			*stuck = false;
			return -1;
		}
	}
	/* within its quantum (the interval, in steps) the thread at this
	 * point goes on: a switch at every point would cost a hand-over per
	 * queue item (explore's interval is 0: every point is a choice) */
	if (chosen < 0 && me >= 0 && T[me].state == T_READY && !T[me].timed_out &&
	    atomic_load(&S.current) == me && S.step - S.turn_step < (uint64_t)S.interval)
		chosen = me;
	if (chosen < 0 && S.walk) {
		chosen = c.id[rnd() % (uint64_t)c.n];	/* a random walk */
	} else if (chosen < 0) {
		/* PCT: a change point lowers the running thread's priority;
		 * change points count choices, not steps: a step where one
		 * thread alone can run is not a place to change anything */
		S.choices += c.n > 1;
		for (int i = 0; i < S.n_change; i++)
			if (S.change[i] == S.choices && me >= 0)
				T[me].prio = (uint64_t)(S.n_change - i);
		chosen = c.id[0];
		for (int i = 1; i < c.n; i++)
			if (T[c.id[i]].prio > T[chosen].prio)
				chosen = c.id[i];
	}
	/* a line where another thread than the one at this point runs and
	 * it was a choice: a run goes on where no line says otherwise */
	if (!(chosen == me && T[me].state == T_READY && !T[me].timed_out) &&
	    (c.n > 1 || c.outside))
		record_at(&c, chosen, ev);
	if (T[chosen].state == T_BLOCKED) {	/* a GIL wait, ended */
		T[chosen].timed_out = true;
		T[chosen].gil_spent = true;
	}
	grant(chosen);
	return chosen;
}

/* Release the lock; when a decision found everyone stuck, say so (the
 * hook reports, and may end the program). */
static void unlock_stuck(bool stuck)
{
	int n_blocked = 0;

	if (stuck)
		for (int i = 0; i < atomic_load(&S.n); i++)
			n_blocked += T[i].state == T_BLOCKED;
	unlock();
	if (stuck && S.hooks.stuck)
		S.hooks.stuck(n_blocked);
}

/* Decide, then (the lock released) wait for the turn unless stuck. */
static void pass_turn(enum trace_event ev, bool wait)
{
	bool stuck;

	decide(ev, &stuck);
	unlock_stuck(stuck);
	if (wait)
		wait_turn();
}

/* A thread let go beside the others (a spin) comes back under the turn. */
static void rejoin(void)
{
	lock();
	T[me].state = T_READY;
	T[me].timed_out = false;
	if (atomic_load(&S.current) < 0)
		pass_turn(TE_BACK, true);
	else {
		unlock();
		wait_turn();
	}
}

/* ---- the watchdog ---- */

/* Does a thread wait for the GIL, a wait that may be ended? */
static bool gil_waiter(void)
{
	for (int i = 0; i < atomic_load(&S.n); i++)
		if (T[i].state == T_BLOCKED && T[i].gil && !T[i].gil_spent)
			return true;
	return false;
}

/* Could a thread other than the one with the turn run (or time out)? */
static bool others_could_run(void)
{
	static struct cands c;	/* the lock held */

	gather(&c);
	return c.n > 0 || earliest() != 0;
}

static void spin_loose(int cur)
{
	char line[160];

	T[cur].state = T_LOOSE;
	rec("spin %llu thread %d\n", (unsigned long long)S.step, cur);
	if (!S.spin_said && S.hooks.say) {
		snprintf(line, sizeof(line),
			 "serial: thread %d ran %d ms without a synchronisation point; it runs beside the others until it reaches one (the schedule is not exact from here)",
			 cur, SCHED_SPIN_MS);
		S.hooks.say(line);
		S.spin_said = true;
	}
}

static void *watchdog(void *arg)
{
	static _Atomic uint32_t never;
	const struct timespec tick = { 0, 5000000 };
	uint64_t entries = 0;
	int64_t quiet_since = real_now();	/* no entry since, by the same holder */
	int last = -1;

	(void)arg;
	prctl(PR_SET_NAME, "pydeadlock-sched", 0, 0, 0);
	if (S.hooks.own)
		S.hooks.own((int)syscall(SYS_gettid));
	for (;;) {
		bool stuck = false;
		int cur;

		futex(&never, FUTEX_WAIT, 0, &tick);
		/*
		 * No thread of the program left (a main thread that called
		 * pthread_exit, or a fork child's one thread, returned): the
		 * process must end as it would without us, by glibc's exit
		 * after its last thread, and not be kept alive by this one.
		 */
		if (atomic_load(&S.alive) == 0)
			return NULL;
		lock();
		cur = atomic_load(&S.current);
		if (cur < 0 && !S.replay && earliest() && earliest() <= vnow()) {
			expire(vnow());
			decide(TE_SLEEP, &stuck);
		} else if (cur < 0 && !S.replay && gil_waiter()) {
			decide(TE_GIL, &stuck);	/* a tick: the switch interval */
		} else if (cur < 0 && S.replay && S.idle_since &&
			   real_now() - S.idle_since > (int64_t)SCHED_REPLAY_WAIT_MS * 1000000) {
			snprintf(why, sizeof(why),
				 "at step %llu the trace waits for a thread still outside after %d s",
				 (unsigned long long)S.step, SCHED_REPLAY_WAIT_MS / 1000);
			S.replay = NULL;
			S.idle_since = 0;
			unlock();
			if (S.hooks.diverged)
				S.hooks.diverged(why);
			continue;
		}
		if (cur != last || atomic_load(&S.entries) != entries) {
			last = cur;
			entries = atomic_load(&S.entries);
			quiet_since = real_now();
		} else if (cur >= 0 && !stuck && others_could_run() &&
			   real_now() - quiet_since > (int64_t)SCHED_SPIN_MS * 1000000) {
			spin_loose(cur);
			decide(TE_YIELD, &stuck);
		}
		unlock_stuck(stuck);
	}
	return NULL;
}

static void watchdog_start(void)
{
	pthread_t t;
	pthread_attr_t a;

	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 64 * 1024);
	in_sched++;	/* the scheduler's own thread: not one of the program's */
	if (pthread_create(&t, &a, watchdog, NULL) != 0 && S.hooks.say)
		S.hooks.say("serial: no watchdog thread: a thread that spins hangs the run");
	in_sched--;
	pthread_attr_destroy(&a);
}

/* ---- the entries ---- */

void sched_start(const struct sched_options *o)
{
	uint64_t hint = o->steps_hint ? o->steps_hint : 200;

	S.rng = o->seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
	if (!S.rng)
		S.rng = 1;
	S.walk = o->depth == 0;
	S.interval = o->interval >= 0 ? o->interval : SCHED_INTERVAL;
	S.depth = o->depth > 0 ? o->depth : 1;
	S.n_change = S.depth - 1 < 32 ? S.depth - 1 : 32;
	for (int i = 0; i < S.n_change; i++)
		S.change[i] = 1 + rnd() % hint;
	S.replay = o->replay;
	S.rec = o->record;
	S.rec_size = o->record_size;
	S.hooks = o->hooks;
	real_clock = o->clock;
	rec("pydeadlock-trace %d\nseed %llu\ndepth %d\nsteps %llu\n", TRACE_VERSION,
	    (unsigned long long)o->seed, S.walk ? 0 : S.depth, (unsigned long long)hint);
	rec("interval %d\n", S.interval);
	if (o->exe && *o->exe)
		rec("exe %s\n", o->exe);
	if (o->policy && *o->policy)
		rec("policy %s\n", o->policy);
	me = 0;
	atomic_store(&S.n, 1);
	atomic_store(&S.alive, 1);
	T[0].prio = (rnd() >> 8) + 1000;
	T[0].self = (uint64_t)pthread_self();
	T[0].tid = (int)syscall(SYS_gettid);
	on = true;
	grant(0);
	watchdog_start();
}

bool sched_mine(void)
{
	return on && me >= 0 && !in_sched &&
	       (T[me].state == T_RUNNING || T[me].state == T_LOOSE);
}

/* The calling thread's turn, taken back after a spin. */
static inline void enter(void)
{
	in_sched++;
	atomic_fetch_add_explicit(&S.entries, 1, memory_order_relaxed);
	if (__builtin_expect(T[me].state == T_LOOSE, 0))
		rejoin();
}

void sched_settle(void)
{
	if (__builtin_expect(on && me >= 0 && T[me].state == T_LOOSE, 0)) {
		in_sched++;
		rejoin();
		in_sched--;
	}
}

void sched_after_fork(void)
{
	int mine = me;

	if (!on)
		return;
	atomic_store(&S.lock, 0);
	S.replay = NULL;
	S.rec = NULL;	/* the parent's trace: not the child's to write */
	if (mine < 0) {
		on = false;
		return;
	}
	memset(T, 0, sizeof(T));
	me = 0;
	atomic_store(&S.n, 1);
	atomic_store(&S.alive, 1);
	T[0].self = (uint64_t)pthread_self();
	T[0].tid = (int)syscall(SYS_gettid);
	grant(0);
	watchdog_start();
}

int sched_thread_new(void)
{
	int id;

	if (!sched_mine())
		return -1;
	in_sched++;
	lock();
	id = atomic_load(&S.n);
	if (id >= SCHED_MAX_THREADS) {
		unlock();
		in_sched--;
		return -1;
	}
	memset(&T[id], 0, sizeof(T[id]));
	T[id].prio = (rnd() >> 8) + 1000;
	T[id].state = T_READY;
	atomic_store(&S.n, id + 1);
	atomic_fetch_add(&S.alive, 1);
	rec("thread %d parent %d\n", id, me);
	if (S.replay && !replay_parent_ok(id, me)) {
		S.replay = NULL;
		if (S.hooks.diverged)
			S.hooks.diverged(why);	/* does not return */
	}
	unlock();
	in_sched--;
	return id;
}

void sched_thread_cancel(int id)
{
	lock();
	T[id].state = T_DONE;
	atomic_fetch_sub(&S.alive, 1);
	unlock();
}

void sched_thread_begin(int id)
{
	me = id;
	atomic_store(&T[id].tid, (int)syscall(SYS_gettid));
	atomic_store(&T[id].self, (uint64_t)pthread_self());
	in_sched++;
	wait_turn();
	in_sched--;
}

void sched_thread_end(void)
{
	if (!on || me < 0)
		return;
	enter();
	lock();
	S.step++;
	T[me].state = T_DONE;
	atomic_fetch_sub(&S.alive, 1);
	for (int i = 0; i < atomic_load(&S.n); i++)
		if (T[i].state == T_BLOCKED && T[i].obj == &T[me].join) {
			T[i].state = T_READY;
			T[i].timed_out = false;
		}
	pass_turn(TE_EXIT, false);
	in_sched--;
	me = -1;
}

void sched_thread_named(int id, uint64_t self)
{
	atomic_store(&T[id].self, self);
}

/* Newest first: an ended thread's pthread_t is reused by the next one
 * that gets its stack. */
int sched_thread_of(uint64_t self)
{
	for (int i = atomic_load(&S.n) - 1; i >= 0; i--)
		if (atomic_load(&T[i].self) == self)
			return i;
	return -1;
}

bool sched_thread_done(int id)
{
	return T[id].state == T_DONE;
}

const void *sched_thread_obj(int id)
{
	return &T[id].join;
}

void sched_point(enum trace_event ev)
{
	if (!sched_mine())
		return;
	enter();
	if (atomic_load(&S.alive) > 1) {
		lock();
		S.step++;
		T[me].state = T_READY;
		T[me].timed_out = false;
		pass_turn(ev, true);
	}
	in_sched--;
}

int sched_block(enum trace_event ev, const void *obj, int64_t timeout_ns, bool gil)
{
	struct sthread *t = &T[me];

	enter();
	lock();
	S.step++;
	t->state = T_BLOCKED;
	t->obj = obj;
	if (gil && !t->gil_spent)	/* a new wait for the GIL */
		t->gil_since = S.step;
	t->gil = gil;
	if (!gil)
		t->gil_spent = false;
	t->timed_out = false;
	t->interrupted = false;
	t->deadline = timeout_ns < 0 || gil ? 0 : vnow() + (timeout_ns ? timeout_ns : 1);
	t->seq = ++S.seq;
	pass_turn(ev, true);
	in_sched--;
	if (t->interrupted) {
		t->interrupted = false;
		return EINTR;
	}
	return t->timed_out ? ETIMEDOUT : 0;
}

void sched_wake(const void *obj, bool all)
{
	int first = -1;

	if (!sched_mine())
		return;
	in_sched++;
	lock();
	for (int i = 0; i < atomic_load(&S.n); i++) {
		struct sthread *t = &T[i];

		if (t->state != T_BLOCKED || t->obj != obj)
			continue;
		if (all) {
			t->state = T_READY;
			t->timed_out = t->gil_spent = false;
			t->deadline = 0;
		} else if (first < 0 || t->seq < T[first].seq) {
			first = i;
		}
	}
	if (first >= 0) {
		T[first].state = T_READY;
		T[first].timed_out = T[first].gil_spent = false;
		T[first].deadline = 0;
	}
	unlock();
	in_sched--;
}

void sched_interrupt(int tid)
{
	if (!on)
		return;
	lock();
	for (int i = 0; i < atomic_load(&S.n); i++)
		if (atomic_load(&T[i].tid) == tid && T[i].state == T_BLOCKED) {
			T[i].state = T_READY;
			T[i].timed_out = false;
			T[i].deadline = 0;
		}
	if (atomic_load(&S.current) < 0) {	/* the turn idles: give it */
		bool stuck;

		decide(TE_BACK, &stuck);
	}
	unlock();
}

void sched_outside_begin(enum trace_event ev)
{
	enter();
	lock();
	S.step++;
	T[me].state = T_OUTSIDE;
	pass_turn(ev, false);
	in_sched--;
}

void sched_outside_end(void)
{
	if (!on || me < 0 || T[me].state != T_OUTSIDE)
		return;
	in_sched++;
	rejoin();
	in_sched--;
}
