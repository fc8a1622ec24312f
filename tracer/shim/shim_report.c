/*
 * What the shim does when a wait closes a cycle: one line on stderr at
 * once (the detection latency is measured to it), then the full report by
 * the pydeadlock program itself, attached to this process and reading the
 * registry for exact owners, then the policy.
 */
#include <errno.h>
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
	copy_env("PYDEADLOCK_BIN", reporter, sizeof(reporter));
	if (!reporter[0])
		snprintf(reporter, sizeof(reporter), "%s/pydeadlock",
			 PYDEADLOCK_BINDIR);
	copy_env("PYDEADLOCK_JSON_REPORT", json_report, sizeof(json_report));
	for (char **e = environ; e && *e && n < REPORT_ENV_MAX - 1; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11))
			reporter_env[n++] = *e;
	reporter_env[n] = NULL;
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
	default: return "object";
	}
}

/* Run `pydeadlock attach --from-run [--json-to FILE] PID` and wait for it. */
static void full_report(void)
{
	char pid[16];
	char *argv[8];
	int argc = 0, status;
	posix_spawn_file_actions_t fa;
	pid_t child;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	argv[argc++] = "pydeadlock";
	argv[argc++] = "attach";
	argv[argc++] = "--from-run";
	if (json_report[0]) {
		argv[argc++] = "--json-to";
		argv[argc++] = json_report;
	}
	argv[argc++] = pid;
	argv[argc] = NULL;
	/* Yama (ptrace_scope 1) lets only a parent trace: allow our child */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, 2, 1);	/* report on stderr */
	if (posix_spawn(&child, reporter, &fa, NULL, argv, reporter_env) == 0)
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
	else
		shim_say_once("cannot run pydeadlock for the full report (set PYDEADLOCK_BIN)");
	posix_spawn_file_actions_destroy(&fa);
}

void shim_deadlock(struct registry_slot *me, const pid_t *tids, int n)
{
	struct registry *r = shim_registry;
	char line[1024];
	size_t len;
	uint32_t zero = 0;

	/* one report per process: the other threads of the cycle just wait */
	if (!atomic_compare_exchange_strong(&r->reporting, &zero, 1))
		return;
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
	full_report();
	if (policy == POLICY_ABORT) {
		const char *end = "pydeadlock: ending the program (exit status 86); --on-deadlock=report leaves it hung\n";

		write_all(2, end, strlen(end));
		registry_unlink(getpid());
		_exit(EXIT_DEADLOCK);
	}
}
