/*
 * pydeadlock run: start a program with the preload shim and wait for it.
 * Its exit status is the program's (86 when the shim ended it because of
 * a deadlock; 128+N when a signal N killed it).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "analysis/verdict.h"
#include "runtime/registry.h"
#include "tracer/attach/attach.h"
#include "ui/report.h"
#include "tracer/attach/procfs.h"
#include "ui/run.h"

#ifndef PYDEADLOCK_PKGLIBDIR
#define PYDEADLOCK_PKGLIBDIR "/usr/local/lib/pydeadlock"
#endif
#ifndef PYDEADLOCK_PKGDATADIR
#define PYDEADLOCK_PKGDATADIR "/usr/local/share/pydeadlock"
#endif
#ifndef PYDEADLOCK_SRCDIR
#define PYDEADLOCK_SRCDIR "."
#endif
#define SHIM_NAME "libpydeadlock.so"
#define EXIT_DEADLOCK_STATUS 86	/* DESIGN.md: ended because of a deadlock */

#define RUN_WATCH_MS 100		/* how often run looks at its program */
#define RUN_ALL_BLOCKED_MS 1000	/* all blocked, unchanged, this long: attach */

static pid_t child;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

/* The shim: $PYDEADLOCK_SHIM, next to a build tree's binary, or installed. */
static int find_shim(const char *exe, char *out, size_t size)
{
	const char *env = getenv("PYDEADLOCK_SHIM");
	const char *slash = strrchr(exe, '/');

	if (env)
		return snprintf(out, size, "%s", env) < (int)size &&
		       access(out, R_OK) == 0 ? 0 : -1;
	if (slash &&
	    snprintf(out, size, "%.*s/tracer/shim/.libs/%s", (int)(slash - exe),
		     exe, SHIM_NAME) < (int)size &&
	    access(out, R_OK) == 0)
		return 0;
	snprintf(out, size, "%s/%s", PYDEADLOCK_PKGLIBDIR, SHIM_NAME);
	return access(out, R_OK) == 0 ? 0 : -1;
}

/*
 * Is every thread of pid in an untimed wait the registry knows of?  The
 * sum of their slots' generations goes to *gens: unchanged means nobody
 * moved.  A thread in any other call (I/O, sleep, a timed wait) or
 * unknown to the registry means no.
 */
static bool all_waiting(pid_t pid, uint64_t *gens)
{
	const struct registry *r = registry_open(pid);
	pid_t *tids = NULL;
	int n = r ? procfs_tasks(pid, &tids) : -1;
	bool all = n > 0 && !atomic_load(&r->reporting);

	*gens = 0;
	for (int i = 0; all && i < n; i++) {
		const struct registry_slot *s = registry_slot_of(r, tids[i]);

		all = s && atomic_load(&s->wait_addr) &&
		      !(atomic_load(&s->wait_flags) & REG_WAIT_TIMED);
		*gens += s ? atomic_load(&s->gen) : 0;
	}
	free(tids);
	registry_close(r);
	return all;
}

/*
 * Every thread of the program has waited, untimed and unchanged, for a
 * while: what the shim cannot see from inside (a join in 3.13's parking
 * lot, a cycle through a Python Semaphore) a snapshot can prove.  Attach
 * to it, report on stderr (and to json); true when the verdict is a cycle
 * or an orphaned lock.  A bare all-blocked is reported, not acted on: a
 * program may be waiting for a signal its handler turns into a notify.
 */
static bool watch_verdict(pid_t pid, const char *json)
{
	struct process_model pm;
	bool proved = false;
	char err[512];

	if (attach_process(pid, &pm, err, sizeof(err)) < 0)
		return false;
	if (verdict_compute(&pm) == 0 && pm.n_deadlocks) {
		report_text(stderr, &pm);
		if (json)
			report_json_to(json, &pm);
		for (int i = 0; i < pm.n_deadlocks; i++)
			proved |= pm.deadlocks[i].kind != DEADLOCK_ALL_BLOCKED;
	}
	model_free(&pm);
	return proved;
}

static int setenv_checked(const char *name, const char *value)
{
	if (setenv(name, value, 1) == 0)
		return 0;
	perror_msg("setenv %s", name);
	return -1;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "on-deadlock", required_argument, NULL, 'o' },
		{ "json-report", required_argument, NULL, 'j' },
		{ "victim", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *policy = "abort", *json = NULL, *victim = "newest";
	char pythonpath[2 * PATH_MAX];
	const char *old_pythonpath;
	char exe[PATH_MAX], shim[PATH_MAX], preload[2 * PATH_MAX];
	const char *old_preload;
	struct sigaction sa;
	int c, status;
	ssize_t n;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			policy = optarg;
			break;
		case 'j':
			json = optarg;
			break;
		case 'v':
			victim = optarg;
			break;
		case 'h':
			printf("Usage: pydeadlock run [--on-deadlock=abort|report|break]\n"
			       "                      [--victim=newest|oldest|fewest-locks]\n"
			       "                      [--json-report=FILE] -- CMD [ARG...]\n");
			return 0;
		default:
			error_msg("run: unknown option '%s' (see 'pydeadlock --help')",
				  argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (strcmp(policy, "abort") && strcmp(policy, "report") &&
	    strcmp(policy, "break")) {
		error_msg("run: --on-deadlock must be abort, report or break, not '%s'",
			  policy);
		return EXIT_USAGE;
	}
	if (strcmp(victim, "newest") && strcmp(victim, "oldest") &&
	    strcmp(victim, "fewest-locks")) {
		error_msg("run: --victim must be newest, oldest or fewest-locks, not '%s'",
			  victim);
		return EXIT_USAGE;
	}
	if (optind >= argc) {
		error_msg("run: missing the command to run (pydeadlock run -- CMD [ARG...])");
		return EXIT_USAGE;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		perror_msg("run: /proc/self/exe");
		return EXIT_USAGE;
	}
	exe[n] = '\0';
	if (find_shim(exe, shim, sizeof(shim)) < 0) {
		error_msg("run: cannot find %s (set PYDEADLOCK_SHIM, or 'make install')",
			  SHIM_NAME);
		return EXIT_USAGE;
	}
	old_preload = getenv("LD_PRELOAD");
	snprintf(preload, sizeof(preload), "%s%s%s", shim,
		 old_preload && *old_preload ? ":" : "",
		 old_preload ? old_preload : "");
	/* import pydeadlock (DeadlockError): the source tree's, or installed */
	old_pythonpath = getenv("PYTHONPATH");
	snprintf(pythonpath, sizeof(pythonpath), "%s/python%s%s",
		 strstr(shim, "/.libs/") ? PYDEADLOCK_SRCDIR : PYDEADLOCK_PKGDATADIR,
		 old_pythonpath && *old_pythonpath ? ":" : "",
		 old_pythonpath ? old_pythonpath : "");
	if (setenv_checked("LD_PRELOAD", preload) ||
	    setenv_checked("PYTHONPATH", pythonpath) ||
	    setenv_checked("PYDEADLOCK_VICTIM", victim) ||
	    setenv_checked("PYDEADLOCK_BIN", exe) ||
	    setenv_checked("PYDEADLOCK_ON_DEADLOCK", policy) ||
	    (json && setenv_checked("PYDEADLOCK_JSON_REPORT", json)))
		return EXIT_USAGE;
	if (json)
		unlink(json);	/* present afterwards only if a deadlock was found */

	child = fork();
	if (child < 0) {
		perror_msg("run: fork");
		return EXIT_USAGE;
	}
	if (child == 0) {
		/* the program does not outlive run, even if run is SIGKILLed */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);	/* run died before the line above */
		execvp(argv[optind], argv + optind);
		error_msg("run: cannot run '%s': %s", argv[optind], strerror(errno));
		_exit(127);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	/* wait for the program, looking at it now and then */
	uint64_t last_gens = 0;
	int still_ms = 0;
	bool reported = false;
	for (;;) {
		pid_t r = waitpid(child, &status, WNOHANG);
		uint64_t gens;

		if (r == child)
			break;
		if (r < 0 && errno != EINTR) {
			perror_msg("run: waitpid");
			return EXIT_USAGE;
		}
		struct timespec nap = { 0, RUN_WATCH_MS * 1000000L };
		nanosleep(&nap, NULL);
		if (reported || !all_waiting(child, &gens)) {
			still_ms = 0;
			continue;
		}
		still_ms = gens == last_gens ? still_ms + RUN_WATCH_MS : 0;
		last_gens = gens;
		if (still_ms < RUN_ALL_BLOCKED_MS || waitpid(child, &status, WNOHANG))
			continue;
		reported = true;	/* one report: the next look changes nothing */
		if (!watch_verdict(child, json))
			continue;
		if (!strcmp(policy, "report"))
			continue;
		error_msg("ending the program (exit status %d): a deadlock the shim could not see from inside%s",
			  EXIT_DEADLOCK_STATUS, strcmp(policy, "break") ? "" :
			  " (no wait of it can be failed)");
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		return EXIT_DEADLOCK_STATUS;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
