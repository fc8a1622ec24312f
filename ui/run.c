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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "runtime/registry.h"
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
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR) {
			perror_msg("run: waitpid");
			return EXIT_USAGE;
		}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
