/*
 * What the shim does when a wait closes a cycle: one line on stderr at
 * once (the detection latency is measured to it), then the full report by
 * the pydeadlock program itself, attached to this process and reading the
 * registry for exact owners, then the policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracer/shim/shim.h"

#ifndef PYDEADLOCK_BINDIR
#define PYDEADLOCK_BINDIR "/usr/local/bin"
#endif
#define REPORT_PATH_MAX 4096
#define REPORT_ENV_MAX 512	/* environment entries passed to the reporter */

extern char **environ;

static enum shim_policy policy = POLICY_ABORT;
static enum shim_victim victim_policy = VICTIM_NEWEST;
static pid_t last_reporter;	/* reaped at the next deadlock */
/* built at start-up: adding file actions allocates, and a deadlock may
 * come while another thread holds malloc's lock */
static posix_spawn_file_actions_t reporter_files;
static bool reporter_files_ok;
#define REPORT_SNAP_FD 999	/* the pipe's write end, there to spawn (above
				 * the registry's, REGISTRY_FD_MIN 900) */
static char reporter[REPORT_PATH_MAX];
static char json_report[REPORT_PATH_MAX];
/* the environment without LD_PRELOAD: the reporter must not be shimmed */
static char *reporter_env[REPORT_ENV_MAX];

static void copy_env(const char *name, char *dst, size_t size)
{
	const char *v = getenv(name);

	dst[0] = '\0';
	if (v && strlen(v) < size)
		strcpy(dst, v);
}

void shim_report_init(void)
{
	const char *p = getenv("PYDEADLOCK_ON_DEADLOCK");
	int n = 0;

	if (p && !strcmp(p, "report"))
		policy = POLICY_REPORT;
	else if (p && !strcmp(p, "break"))
		policy = POLICY_BREAK;
	p = getenv("PYDEADLOCK_VICTIM");
	if (p && !strcmp(p, "oldest"))
		victim_policy = VICTIM_OLDEST;
	else if (p && !strcmp(p, "fewest-locks"))
		victim_policy = VICTIM_FEWEST_LOCKS;
	copy_env("PYDEADLOCK_BIN", reporter, sizeof(reporter));
	if (!reporter[0])
		snprintf(reporter, sizeof(reporter), "%s/pydeadlock",
			 PYDEADLOCK_BINDIR);
	copy_env("PYDEADLOCK_JSON_REPORT", json_report, sizeof(json_report));
	for (char **e = environ; e && *e && n < REPORT_ENV_MAX - 1; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11))
			reporter_env[n++] = *e;
	reporter_env[n] = NULL;
	reporter_files_ok =
		posix_spawn_file_actions_init(&reporter_files) == 0 &&
		posix_spawn_file_actions_adddup2(&reporter_files, 2, 1) == 0 &&
		posix_spawn_file_actions_adddup2(&reporter_files, REPORT_SNAP_FD, 3) == 0;
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

/* write(2) all of buf, whatever signals do */
static void write_all(int fd, const char *buf, size_t len)
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

void shim_say_once(const char *what)
{
	char line[256];
	int n;

	if (shim_registry && atomic_exchange(&shim_registry->full_said, 1))
		return;
	n = snprintf(line, sizeof(line), "pydeadlock: %s\n", what);
	write_all(2, line, n > 0 ? (size_t)n : 0);
}

static const char *kind_name(uint32_t kind)
{
	switch (kind) {
	case REG_MUTEX: return "mutex";
	case REG_SEMLOCK: return "lock";
	case REG_RWLOCK: return "rwlock";
	case REG_JOIN: return "join";
	case REG_CUSTOM: return "lock";
	default: return "object";
	}
}

/*
 * Run `pydeadlock attach [--json-to FILE] --snapshot-fd 3 PID`.
 * Returns once it has taken its snapshot (break: the victim may go now)
 * or, with wait_all, once it has written the whole report.
 */
static void full_report(bool wait_all)
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
	argv[argc++] = "--snapshot-fd";
	argv[argc++] = "3";
	argv[argc++] = pid;
	argv[argc] = NULL;
	if (!reporter_files_ok || pipe2(snap, O_CLOEXEC) < 0) {
		shim_say_once("cannot run pydeadlock for the full report");
		return;
	}
	/* the write end where the prepared file actions expect it, unless
	 * the program has a descriptor there: never take it from it */
	if (fcntl(REPORT_SNAP_FD, F_GETFD) >= 0 ||
	    dup3(snap[1], REPORT_SNAP_FD, O_CLOEXEC) < 0) {
		shim_say_once("descriptor 999 is in use: no full report");
		close(snap[0]);
		close(snap[1]);
		return;
	}
	close(snap[1]);
	/* Yama (ptrace_scope 1) lets only a parent trace: allow our child */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	if (posix_spawn(&child, reporter, &reporter_files, NULL, argv,
			reporter_env) == 0) {
		close(REPORT_SNAP_FD);
		/* the snapshot taken, or the reporter gone (EOF) */
		while (read(snap[0], &byte, 1) < 0 && errno == EINTR)
			;
		if (wait_all)
			while (waitpid(child, &status, 0) < 0 && errno == EINTR)
				;
		else
			last_reporter = child;
	} else {
		close(REPORT_SNAP_FD);
		shim_say_once("cannot run pydeadlock for the full report (set PYDEADLOCK_BIN)");
	}
	prctl(PR_SET_PTRACER, 0, 0, 0, 0);	/* traceable as before */
	close(snap[0]);
}

static const char *const victim_names[] = {
	[VICTIM_NEWEST] = "the newest waiter",
	[VICTIM_OLDEST] = "the oldest waiter",
	[VICTIM_FEWEST_LOCKS] = "the one holding the fewest locks",
};

/*
 * The thread of the cycle whose failure undoes least, by the policy.
 * Python threads whose waits cannot be failed (a static interpreter:
 * only its main thread can raise there) are passed over.
 */
static struct registry_slot *victim_choose(struct registry *r,
					   struct registry_slot *me,
					   const pid_t *tids, int n)
{
	struct registry_slot *best = NULL;

	for (int i = 0; i < n; i++) {
		struct registry_slot *s = registry_slot_of(r, tids[i]);

		if (!s || !shim_python_can_fail(tids[i]))
			continue;
		if (!best || (victim_policy == VICTIM_NEWEST && s == me))
			best = s;
		else if (victim_policy == VICTIM_OLDEST &&
			 s->wait_since_ns < best->wait_since_ns)
			best = s;
		else if (victim_policy == VICTIM_FEWEST_LOCKS &&
			 (atomic_load(&s->n_held) < atomic_load(&best->n_held) ||
			  (atomic_load(&s->n_held) == atomic_load(&best->n_held) &&
			   s == me)))
			best = s;
	}
	if (best && victim_policy == VICTIM_NEWEST && registry_slot_of(r, me->tid) == me &&
	    shim_python_can_fail(me->tid))
		best = me;
	return best;
}

static void end_program(const char *why)
{
	char line[256];
	int n = snprintf(line, sizeof(line),
			 "pydeadlock: ending the program (exit status %d): %s\n",
			 EXIT_DEADLOCK, why);

	write_all(2, line, n > 0 ? (size_t)n : 0);
	_exit(EXIT_DEADLOCK);
}

/* Break the cycle: true when the caller itself is the victim. */
static bool break_cycle(struct registry *r, struct registry_slot *me,
			const pid_t *tids, int n)
{
	struct registry_slot *v = victim_choose(r, me, tids, n);
	uint64_t addr;
	char line[256];
	int len;

	if (!v)
		end_program("the deadlock cannot be broken: its threads are Python threads other than the main thread of a statically linked interpreter, whose lock waits cannot be made to fail");
	addr = atomic_load(&v->wait_addr);
	/* a livelock: broken on the same wait with no acquisition by any
	 * thread of the cycle since (backing off and retrying is progress) */
	uint64_t progress = 0;
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
		       (int)atomic_load(&v->tid), victim_names[victim_policy]);
	write_all(2, line, len > 0 ? (size_t)len : 0);
	if (v == me)
		return true;
	atomic_store(&v->break_pending, 1);
	return false;
}

/* glibc x86_64: pthread_mutex_t's __owner, a sem_t's value word */
#define MUTEX_OWNER_OFFSET 8

/*
 * Confirm the cycle against the objects themselves: each mutex must be
 * owned (glibc's __owner) by the next thread, each semaphore-lock taken
 * (value 0).  A registry that says otherwise missed a release that went
 * around the shim (a dlsym'd pthread_mutex_unlock, ctypes): the stale
 * hold is dropped and nothing is reported.
 */
static bool cycle_confirmed(struct registry *r, const pid_t *tids, int n)
{
	for (int i = 0; i < n; i++) {
		struct registry_slot *s = registry_slot_of(r, tids[i]);
		uint64_t addr = s ? atomic_load(&s->wait_addr) : 0;
		uint32_t kind = s ? atomic_load(&s->wait_kind) : 0;
		pid_t next = tids[(i + 1) % n];
		bool holds = true;

		if (!addr)
			return false;
		if (kind == REG_MUTEX) {
			int32_t owner;

			memcpy(&owner, (const void *)(uintptr_t)(addr + MUTEX_OWNER_OFFSET),
			       sizeof(owner));
			holds = owner == next || owner == 0;	/* 0: a handover */
		} else if (kind == REG_SEMLOCK) {
			uint32_t value;

			memcpy(&value, (const void *)(uintptr_t)addr, sizeof(value));
			holds = value == 0;
		}
		if (!holds) {
			registry_forget(r, addr);
			return false;
		}
	}
	return true;
}

bool shim_deadlock(struct registry_slot *me, const pid_t *tids, int n)
{
	struct registry *r = shim_registry;
	char line[1024];
	size_t len;
	uint32_t zero = 0;
	bool mine;

	/* one report at a time: the other threads of the cycle just wait */
	if (!atomic_compare_exchange_strong(&r->reporting, &zero, 1))
		return false;
	if (!cycle_confirmed(r, tids, n)) {
		atomic_store(&r->reporting, 0);
		return false;
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
	write_all(2, line, len < sizeof(line) ? len : sizeof(line) - 1);
	/* the report's snapshot first: it must show the deadlock, not its end */
	full_report(policy != POLICY_BREAK);
	if (policy == POLICY_ABORT)
		end_program("a deadlock (--on-deadlock=report leaves it hung, =break fails one wait)");
	if (policy == POLICY_REPORT)
		return false;	/* stays reporting: one report, then hung */
	mine = break_cycle(r, me, tids, n);
	atomic_store(&r->reporting, 0);
	return mine;
}
