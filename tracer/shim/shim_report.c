/*
 * What the shim does when a wait closes a cycle: one line on stderr at
 * once (the detection latency is measured to it), then the full report,
 * then the policy.
 *
 * Under pydeadlock run the full report is the supervisor's: the shim
 * asks for it through its registry and a signal to the supervisor, and
 * waits until the supervisor has taken its snapshot (an ancestor, it may
 * trace us whatever Yama says).  Preloaded by hand, the shim starts
 * `pydeadlock attach` itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/glibc_layout.h"
#include "common/supervisor_signals.h"
#include "runtime/sched.h"
#include "tracer/shim/shim.h"
#include "tracer/shim/shim_env.h"

#ifndef PYDEADLOCK_BINDIR
#define PYDEADLOCK_BINDIR "/usr/local/bin"
#endif
#define REPORT_ENV_MAX 512	/* environment entries passed to the reporter */
#define REPORT_WAIT_MS 60000	/* a supervisor that answers nothing: go on */
#define REPORT_POLL_NS 1000000	/* how often the shim looks for its answer */

extern char **environ;

static enum shim_policy policy = POLICY_ABORT;
static enum registry_victim victim_policy = VICTIM_NEWEST;
static pid_t supervisor;	/* pydeadlock run, 0: preloaded by hand */
static unsigned long long supervisor_start;	/* its start time (ticks) */
static bool yama_restricts;	/* ptrace_scope >= 1: a child may not trace us */
static pid_t last_reporter;	/* reaped at the next deadlock */
static char reporter[PATH_MAX];
static char json_report[PATH_MAX];
static char graph[PATH_MAX];
/* the environment without LD_PRELOAD: the reporter must not be shimmed */
static char *reporter_env[REPORT_ENV_MAX];

static void copy_config(const char *name, char *dst, size_t size)
{
	const char *v = shim_env_get(name);

	dst[0] = '\0';
	if (v && strlen(v) < size)
		strcpy(dst, v);
}

/* Read a small file into buf (NUL-terminated): no allocation, no stdio. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* The start time of pid (field 22 of /proc/PID/stat), 0 when gone. */
static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	int field = 2;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return 0;
	for (; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	return strtoull(p, NULL, 10);
}

/* Is the supervisor we were given still that process? */
static bool supervisor_alive(void)
{
	return supervisor > 0 && start_time(supervisor) == supervisor_start;
}

void shim_report_init(void)
{
	const char *p = shim_env_get("PYDEADLOCK_ON_DEADLOCK");
	char yama[16];
	int n = 0;

	if (p && !strcmp(p, "report"))
		policy = POLICY_REPORT;
	else if (p && !strcmp(p, "break"))
		policy = POLICY_BREAK;
	victim_policy = registry_victim_parse(shim_env_get("PYDEADLOCK_VICTIM"));
	p = shim_env_get("PYDEADLOCK_SUPERVISOR");	/* "PID:START" */
	if (p && sscanf(p, "%d:%llu", &supervisor, &supervisor_start) != 2)
		supervisor = 0;
	copy_config("PYDEADLOCK_BIN", reporter, sizeof(reporter));
	if (!reporter[0])
		snprintf(reporter, sizeof(reporter), "%s/pydeadlock",
			 PYDEADLOCK_BINDIR);
	copy_config("PYDEADLOCK_JSON_REPORT", json_report, sizeof(json_report));
	copy_config("PYDEADLOCK_GRAPH", graph, sizeof(graph));
	for (char **e = environ; e && *e && n < REPORT_ENV_MAX - 1; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11))
			reporter_env[n++] = *e;
	reporter_env[n] = NULL;
	yama_restricts = read_small("/proc/sys/kernel/yama/ptrace_scope", yama,
				    sizeof(yama)) > 0 && atoi(yama) >= 1;
}

pid_t shim_report_supervisor(void)
{
	return supervisor_alive() ? supervisor : 0;
}

void shim_report_hello(void)
{
	union sigval v = { .sival_int = getpid() };

	if (supervisor_alive())
		(void)sigqueue(supervisor, supervisor_signal(SUPERVISOR_HELLO), v);
}

#define NUDGE_GAP_NS 5000000	/* nudges at most this often: looks cost */

void shim_report_nudge(void)
{
	static _Atomic uint64_t last;
	union sigval v = { .sival_int = getpid() };
	struct timespec now;
	uint64_t t, was;

	if (!supervisor)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	t = (uint64_t)now.tv_sec * 1000000000u + now.tv_nsec;
	was = atomic_load(&last);
	if (t - was < NUDGE_GAP_NS || !atomic_compare_exchange_strong(&last, &was, t))
		return;
	(void)sigqueue(supervisor, supervisor_signal(SUPERVISOR_LOOK), v);
}

void shim_report_finish(void)
{
	int status;

	/* a report still being written reads this process: stay until done */
	if (last_reporter > 0)
		while (waitpid(last_reporter, &status, 0) < 0 && errno == EINTR)
			;
	last_reporter = 0;
}

bool shim_report_breakable(void)
{
	return policy != POLICY_ABORT;
}

void shim_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		len -= w;
	}
}

void shim_say_once(enum shim_note note, const char *what)
{
	char line[256];
	int n;

	if (shim_registry &&
	    (atomic_fetch_or(&shim_registry->said, 1u << note) & (1u << note)))
		return;
	n = snprintf(line, sizeof(line), "pydeadlock: %s\n", what);
	shim_write_all(2, line, n > 0 ? (size_t)n : 0);
}

static const char *kind_name(uint32_t kind)
{
	switch (kind) {
	case REG_MUTEX: return "mutex";
	case REG_SEMLOCK: return "lock";
	case REG_RWLOCK: return "rwlock";
	case REG_JOIN: return "join";
	case REG_CUSTOM: return "lock";
	case REG_GIL: return "the GIL";
	default: return "object";
	}
}

static void nap(long ns)
{
	struct timespec t = { 0, ns };

	nanosleep(&t, NULL);
}

/* The supervisor's answer about a report. */
enum verdict_answer { ANSWER_NONE, ANSWER_PROVED, ANSWER_NOT_PROVED };

/*
 * Ask the supervisor for the report and wait until it has written it:
 * its full view of the process, which must prove the deadlock too.
 * ANSWER_NONE when it cannot be asked or went away.
 */
static enum verdict_answer supervisor_report(void)
{
	struct registry *r = shim_registry;
	union sigval v = { .sival_int = getpid() };
	uint32_t seq = atomic_fetch_add(&r->report_seq, 1) + 1;

	if (!supervisor_alive() ||
	    sigqueue(supervisor, supervisor_signal(SUPERVISOR_DEADLOCK), v) < 0)
		return ANSWER_NONE;
	for (int ms = 0; ms < REPORT_WAIT_MS; ms++) {
		if ((int32_t)(atomic_load(&r->report_done) - seq) >= 0)
			return atomic_load(&r->report_proved) ? ANSWER_PROVED
							      : ANSWER_NOT_PROVED;
		if (ms % 100 == 99 && !supervisor_alive())
			return ANSWER_NONE;
		nap(REPORT_POLL_NS);
	}
	return ANSWER_NONE;
}

/*
 * Run `pydeadlock attach [--json-to FILE] [--graph FILE] --snapshot-fd 3
 * PID` with the write end of a pipe as its descriptor 3.  vfork: nothing
 * allocated (another thread may hold malloc's lock), no descriptor number
 * of the program's taken.  Returns once the reporter has taken its snapshot
 * (EOF on the pipe) or, with wait_all, once it has written the report.
 */
static void spawn_reporter(bool wait_all)
{
	char pid[16];
	char *argv[12];
	int argc = 0, status, snap[2];
	pid_t child;
	char byte;

	if (last_reporter > 0 && waitpid(last_reporter, &status, WNOHANG) != 0)
		last_reporter = 0;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	argv[argc++] = "pydeadlock";
	argv[argc++] = "attach";
	if (json_report[0]) {
		argv[argc++] = "--json-to";
		argv[argc++] = json_report;
	}
	if (graph[0]) {
		argv[argc++] = "--graph";
		argv[argc++] = graph;
	}
	argv[argc++] = "--snapshot-fd";
	argv[argc++] = "3";
	argv[argc++] = pid;
	argv[argc] = NULL;
	if (pipe2(snap, O_CLOEXEC) < 0) {
		shim_say_once(NOTE_NO_REPORT, "cannot run pydeadlock for the full report");
		return;
	}
	child = vfork();
	if (child == 0) {
		/* the reporter's stdout is our stderr; its fd 3 the pipe */
		if (snap[1] == 3)
			fcntl(3, F_SETFD, 0);
		else if (dup2(snap[1], 3) < 0)
			_exit(127);
		dup2(2, 1);
		execve(reporter, argv, reporter_env);
		_exit(127);
	}
	close(snap[1]);
	if (child < 0) {
		close(snap[0]);
		shim_say_once(NOTE_NO_REPORT,
			      "cannot run pydeadlock for the full report (set PYDEADLOCK_BIN)");
		return;
	}
	/* Yama (ptrace_scope 1) lets only ancestors trace: allow this child
	 * (it retries while we get here) */
	if (yama_restricts)
		prctl(PR_SET_PTRACER, child, 0, 0, 0);
	/* the snapshot taken, or the reporter gone (EOF) */
	while (read(snap[0], &byte, 1) < 0 && errno == EINTR)
		;
	close(snap[0]);
	if (wait_all)
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
	else
		last_reporter = child;
	if (yama_restricts)
		prctl(PR_SET_PTRACER, 0, 0, 0, 0);
}

/* The full report: the supervisor's, with its verdict, or (preloaded by
 * hand) one by pydeadlock attach, which trusts ours. */
static enum verdict_answer full_report(bool wait_all)
{
	enum verdict_answer a = supervisor ? supervisor_report() : ANSWER_NONE;

	if (a == ANSWER_NONE)
		spawn_reporter(wait_all);
	return a;
}

/*
 * Can the wait of s be failed?  Never a condition's or the GIL's (their
 * callers, CPython among them, treat an error as fatal), nor one of the
 * interpreter's own, nor a Python lock wait that this interpreter cannot
 * make raise.
 */
static bool victim_possible(const struct registry_slot *s)
{
	uint32_t kind = atomic_load(&s->wait_kind);

	return kind != REG_COND && kind != REG_GIL &&
	       !(atomic_load(&s->wait_flags) & REG_WAIT_FIRM) &&
	       shim_python_can_fail(atomic_load(&s->tid));
}

/* The thread of the cycle whose failure undoes least, by the policy. */
static struct registry_slot *victim_choose(struct registry *r,
					   struct registry_slot *me,
					   const pid_t *tids, int n)
{
	struct registry_slot *best = NULL;

	if (victim_policy == VICTIM_NEWEST && me && victim_possible(me))
		return me;
	for (int i = 0; i < n; i++) {
		struct registry_slot *s = registry_slot_of(r, tids[i]);

		if (s && victim_possible(s) &&
		    registry_victim_better(victim_policy, s, best))
			best = s;
	}
	return best;
}

static void end_program(const char *why)
{
	char line[256];
	int n = snprintf(line, sizeof(line),
			 "pydeadlock: ending the program (exit status %d): %s\n",
			 EXIT_DEADLOCK, why);

	shim_write_all(2, line, n > 0 ? (size_t)n : 0);
	_exit(EXIT_DEADLOCK);
}

/* Break the cycle: true when the caller itself is the victim. */
static bool break_cycle(struct registry *r, struct registry_slot *me,
			const pid_t *tids, int n)
{
	struct registry_slot *v = victim_choose(r, me, tids, n);
	uint64_t addr, progress = 0;
	char line[256];
	int len;

	if (!v)
		end_program("the deadlock cannot be broken: none of its waits can be made to fail (a condition or GIL wait, or a Python thread other than the main thread of a statically linked interpreter)");
	addr = atomic_load(&v->wait_addr);
	/* a livelock: broken on the same wait with no acquisition by any
	 * thread of the cycle since (backing off and retrying is progress) */
	for (int i = 0; i < n; i++) {
		struct registry_slot *s = registry_slot_of(r, tids[i]);

		progress += s ? s->acquired : 0;
	}
	v->breaks_in_a_row = v->last_break_addr == addr &&
			     v->last_break_progress == progress
			     ? v->breaks_in_a_row + 1 : 1;
	v->last_break_addr = addr;
	v->last_break_progress = progress;
	if (v->breaks_in_a_row >= LIVELOCK_BREAKS) {
		snprintf(line, sizeof(line),
			 "livelock: thread %d went straight back into the same deadlock %u times without any progress",
			 (int)atomic_load(&v->tid), v->breaks_in_a_row);
		end_program(line);
	}
	len = snprintf(v->break_why, sizeof(v->break_why),
		       "deadlock: this wait (thread %d, for 0x%llx) would never end; cycle:",
		       (int)atomic_load(&v->tid), (unsigned long long)addr);
	for (int i = 0; i < n && len > 0 && (size_t)len < sizeof(v->break_why) - 16; i++)
		len += snprintf(v->break_why + len, sizeof(v->break_why) - len,
				" %d%s", (int)tids[i], i + 1 < n ? " ->" : "");
	len = snprintf(line, sizeof(line),
		       "pydeadlock: breaking it: thread %d's wait fails (victim: %s)\n",
		       (int)atomic_load(&v->tid), registry_victim_names[victim_policy]);
	shim_write_all(2, line, len > 0 ? (size_t)len : 0);
	if (v == me)
		return true;
	atomic_store(&v->break_pending, 1);
	if (shim_serial)	/* asleep in the scheduler: let it look */
		sched_interrupt(atomic_load(&v->tid));
	return false;
}

/*
 * Confirm the cycle against the objects themselves: each mutex must be
 * owned (glibc's __owner) by the next thread, each semaphore-lock taken
 * (value 0), the GIL held by the next thread.  A registry that says
 * otherwise missed a release that went around the shim (a dlsym'd
 * pthread_mutex_unlock, ctypes): the stale hold is dropped and nothing
 * is reported.
 */
static bool cycle_confirmed(struct registry *r, const pid_t *tids, int n)
{
	for (int i = 0; i < n; i++) {
		struct registry_slot *s = registry_slot_of(r, tids[i]);
		uint64_t addr = s ? atomic_load(&s->wait_addr) : 0;
		uint32_t kind = s ? atomic_load(&s->wait_kind) : 0;
		pid_t next = tids[(i + 1) % n];
		const struct registry_slot *holder;
		bool holds = true;

		if (!addr)
			return false;
		if (kind == REG_MUTEX) {
			int32_t owner;

			memcpy(&owner, (const void *)(uintptr_t)(addr + GLIBC_MUTEX_OWNER_OFFSET),
			       sizeof(owner));
			holds = owner == next || owner == 0;	/* 0: a handover */
		} else if (kind == REG_SEMLOCK) {
			uint32_t value;

			memcpy(&value, (const void *)(uintptr_t)addr, sizeof(value));
			holds = value == 0;
		} else if (kind == REG_GIL) {
			holder = registry_gil_holder(r);
			if (!holder || atomic_load(&holder->tid) != next)
				return false;	/* handed on meanwhile */
		}
		if (!holds) {
			registry_forget(r, NULL, addr);
			return false;
		}
	}
	return true;
}

/* The objects a cycle waits on, as one key: the same deadlock again (a
 * program that retries after a break) gives the same, whichever thread
 * closed it. */
static uint64_t cycle_key(struct registry *r, const pid_t *tids, int n)
{
	uint64_t key = 0;

	for (int i = 0; i < n; i++) {
		const struct registry_slot *s = registry_slot_of(r, tids[i]);

		key = registry_key_add(key, s ? atomic_load(&s->wait_addr) : 0);
	}
	return key;
}

/*
 * Deadlocks told in full and proved, under break: a program that backs
 * off and retries may form one thousands of times; each is broken, in
 * one line after the first.
 */
static struct registry_seen told;

bool shim_deadlock(struct registry_slot *me, const pid_t *tids, int n)
{
	struct registry *r = shim_registry;
	char line[1024];
	size_t len;
	static const char again[] =
		"pydeadlock: the same locks as a deadlock reported before: not reported again\n";
	uint32_t zero = 0;
	uint64_t key;
	bool mine;

	/* one report at a time: the other threads of the cycle just wait */
	if (!atomic_compare_exchange_strong(&r->reporting, &zero, 1))
		return false;
	if (!cycle_confirmed(r, tids, n)) {
		atomic_store(&r->reporting, 0);
		return false;
	}
	key = cycle_key(r, tids, n);
	for (int i = 0; i < n; i++) {
		struct registry_slot *s = registry_slot_of(r, tids[i]);

		if (s)
			atomic_store(&s->in_report, 1);
	}
	len = snprintf(line, sizeof(line),
		       "pydeadlock: deadlock in process %d: cycle of %d thread%s:",
		       (int)getpid(), n, n == 1 ? "" : "s");
	for (int i = 0; i < n && len < sizeof(line) - 64; i++)
		len += snprintf(line + len, sizeof(line) - len, " %d%s", (int)tids[i],
				i + 1 < n ? " ->" : "");
	len += snprintf(line + len, sizeof(line) - len,
			" (thread %d waits for %s 0x%llx)\n", (int)tids[0],
			kind_name(atomic_load(&me->wait_kind)),
			(unsigned long long)atomic_load(&me->wait_addr));
	shim_write_all(2, line, len < sizeof(line) ? len : sizeof(line) - 1);
	/* a repeat of one the full view proved: not told again (a report
	 * stops the program for milliseconds) */
	if (policy == POLICY_BREAK && registry_seen_has(&told, key)) {
		for (int i = 0; i < n; i++) {
			struct registry_slot *s = registry_slot_of(r, tids[i]);

			if (s)
				atomic_store(&s->in_report, 0);
		}
		shim_write_all(2, again, sizeof(again) - 1);
		mine = break_cycle(r, me, tids, n);
		atomic_store(&r->reporting, 0);
		return mine;
	}
	/* the report's snapshot first: it must show the deadlock, not its end */
	switch (full_report(policy != POLICY_BREAK)) {
	case ANSWER_NOT_PROVED:
		/* the whole program's view knows more: no deadlock */
		for (int i = 0; i < n; i++) {
			struct registry_slot *s = registry_slot_of(r, tids[i]);

			if (s)
				atomic_store(&s->in_report, 0);
		}
		atomic_store(&r->reporting, 0);
		return false;
	case ANSWER_PROVED:
		if (policy == POLICY_ABORT)
			_exit(EXIT_DEADLOCK);	/* the supervisor said so, ends the rest */
		registry_seen_add(&told, key);
		break;
	case ANSWER_NONE:
		if (policy == POLICY_ABORT)
			end_program("a deadlock (--on-deadlock=report leaves it hung, =break fails one wait)");
		registry_seen_add(&told, key);
		break;
	}
	if (policy == POLICY_REPORT)
		return false;	/* reporting until one of it moves: then hung */
	mine = break_cycle(r, me, tids, n);
	atomic_store(&r->reporting, 0);
	return mine;
}

/*
 * run --serial: the scheduler found every thread waiting on something
 * only another thread of this process could give, and none left to run
 * or to time out.  Under the schedule that is a proof, but for a signal
 * handler of the program's, which may end any wait (a signal handled in
 * a waiting thread ends its wait, as the real call's EINTR would): then
 * the program is left waiting, and nothing is said.
 */
void shim_serial_stuck(int threads)
{
	struct registry *r = shim_registry;
	char line[256];
	int n;

	if (r && (atomic_load(&r->user_signals) & ~atomic_load(&r->harmless_signals)))
		return;
	n = snprintf(line, sizeof(line),
		     "pydeadlock: deadlock in process %d: all %d threads wait, and no thread is left to wake them (serial schedule)\n",
		     (int)getpid(), threads);
	shim_write_all(2, line, n > 0 ? (size_t)n : 0);
	/* the supervisor's report (its verdict may not see through the
	 * scheduler: the schedule's is the proof) */
	(void)full_report(true);
	if (policy == POLICY_BREAK && r) {
		pid_t tids[REGISTRY_MAX_CYCLE];
		int k = 0;

		/* every thread asleep in the scheduler is part of it */
		for (uint32_t i = 0; i < atomic_load(&r->high_water) &&
				     i < REGISTRY_MAX_THREADS && k < REGISTRY_MAX_CYCLE; i++) {
			struct registry_slot *s = &r->slots[i];

			if (atomic_load(&s->tid) && atomic_load(&s->wait_addr) &&
			    (atomic_load(&s->wait_flags) & REG_WAIT_SERIAL))
				tids[k++] = atomic_load(&s->tid);
		}
		(void)break_cycle(r, NULL, tids, k);
		return;
	}
	if (policy == POLICY_ABORT)
		end_program("a deadlock under the serial schedule (--on-deadlock=report leaves it hung)");
}
