/*
 * What a program under the shim sees of its environment, and every way
 * it can start another program.  "env_probe view TAG" prints one line:
 *
 *   TAG shim=1 pd=0 LD_PRELOAD=unset PYTHONPATH=set:/x given=M n=2 names=A,B
 *
 * shim: libpydeadlock.so is mapped; pd: PYDEADLOCK_* variables in
 * environ; LD_PRELOAD, PYTHONPATH: "unset" or "set:VALUE" in environ;
 * given: PYDEADLOCK_TEST_MARK as the process was started with it
 * (/proc/self/environ, "-" if not); n, names: environ's entries (names
 * only when there are at most 6).  Every other mode starts "env_probe
 * view TAG" (or another mode) in one way and reports failures on stderr
 * with status 1.  Children must be shimmed exactly when their parent is,
 * so that the modes also run, for comparison, without the shim.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NAMES_MAX 6		/* names listed of environments this small */
#define THREADS_MAX 16
#define LINE_MAX_LEN 4096

extern char **environ;

static const char *self;	/* this program, as a path */
static int shimmed;		/* is the shim mapped here? */

static void die(const char *what)
{
	fprintf(stderr, "env_probe: %s\n", what);
	exit(1);
}

static void die_errno(const char *what)
{
	fprintf(stderr, "env_probe: %s: %s\n", what, strerror(errno));
	exit(1);
}

static bool shim_mapped(void)
{
	char line[LINE_MAX_LEN];
	FILE *f = fopen("/proc/self/maps", "r");
	bool found = false;

	if (!f)
		die_errno("/proc/self/maps");
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "/libpydeadlock.so") != NULL;
	fclose(f);
	return found;
}

/* PYDEADLOCK_TEST_MARK as given at exec, into out ("-" if absent). */
static void given_mark(char *out, size_t size)
{
	static char buf[1 << 20];
	static const char mark[] = "PYDEADLOCK_TEST_MARK=";
	int fd = open("/proc/self/environ", O_RDONLY);
	ssize_t n, len = 0;

	if (fd < 0)
		die_errno("/proc/self/environ");
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	snprintf(out, size, "-");
	for (char *e = buf; e < buf + len; e += strlen(e) + 1)
		if (!strncmp(e, mark, sizeof(mark) - 1))
			snprintf(out, size, "%s", e + sizeof(mark) - 1);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The "view" line of this process, to stdout. */
static void view(const char *tag)
{
	const char *ld = getenv("LD_PRELOAD"), *pp = getenv("PYTHONPATH");
	char given[LINE_MAX_LEN];
	char *names[NAMES_MAX];
	int n = 0, pd = 0;

	given_mark(given, sizeof(given));
	for (char **e = environ; e && *e; e++, n++) {
		if (!strncmp(*e, "PYDEADLOCK_", 11))
			pd++;
		if (n < NAMES_MAX)
			names[n] = strndup(*e, strcspn(*e, "="));
	}
	printf("%s shim=%d pd=%d LD_PRELOAD=%s%s PYTHONPATH=%s%s given=%s "
	       "n=%d names=", tag, shimmed, pd, ld ? "set:" : "unset", ld ? ld : "",
	       pp ? "set:" : "unset", pp ? pp : "", given, n);
	if (n <= NAMES_MAX) {
		qsort(names, n, sizeof(names[0]), name_cmp);
		for (int i = 0; i < n; i++)
			printf("%s%s", i ? "," : "", names[i]);
	} else {
		printf("...");
	}
	printf("\n");
	fflush(stdout);
}

/* Wait for pid; die unless it exited 0. */
static void wait_ok(pid_t pid, const char *what)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		die_errno(what);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		die(what);
}

/* The errno an exec or spawn left, by name. */
static void say_errno(const char *what, int err)
{
	const char *name = strerrorname_np(err);

	printf("%s %s\n", what, name ? name : "?");
}

/* Each way to start a program fails as without the shim. */
static void exec_failures(void)
{
	char *argv[] = { "x", NULL };
	char *noenv[] = { NULL };
	pid_t pid;
	int fd;

	errno = 0;
	if (execve("/nonexistent/env_probe", argv, environ) != -1)
		die("execve returned other than -1");
	say_errno("execve-missing", errno);
	errno = 0;
	execve("/etc/passwd", argv, noenv);	/* not executable */
	say_errno("execve-noexec", errno);
	errno = 0;
	execvp("env-probe-no-such-program", argv);
	say_errno("execvp-missing", errno);
	errno = 0;
	execl("/nonexistent/env_probe", "x", (char *)NULL);
	say_errno("execl-missing", errno);
	errno = 0;
	execle("/etc/passwd", "x", (char *)NULL, noenv);
	say_errno("execle-noexec", errno);
	errno = 0;
	execlp("env-probe-no-such-program", "x", (char *)NULL);
	say_errno("execlp-missing", errno);
	errno = 0;
	fexecve(-1, argv, environ);
	say_errno("fexecve-badfd", errno);
	fd = open("/etc/passwd", O_RDONLY);
	errno = 0;
	fexecve(fd, argv, environ);
	say_errno("fexecve-noexec", errno);
	close(fd);
	errno = 0;
	execveat(AT_FDCWD, "/nonexistent/env_probe", argv, environ, 0);
	say_errno("execveat-missing", errno);
	say_errno("posix_spawn-missing",
		  posix_spawn(&pid, "/nonexistent/env_probe", NULL, NULL, argv,
			      environ));
	say_errno("posix_spawnp-missing",
		  posix_spawnp(&pid, "env-probe-no-such-program", NULL, NULL,
			       argv, environ));
}

/* ---- popen from many threads at once ---- */

static pthread_barrier_t popen_start;
static int popen_rounds;

/*
 * Half the rounds read a child's view, half write to a child that drains
 * its stdin to EOF: a write end leaked into another popen's child would
 * keep that EOF from coming, and the test would hang.
 */
static void *popen_worker(void *arg)
{
	long id = (long)arg;
	char cmd[LINE_MAX_LEN], line[LINE_MAX_LEN], tag[64];

	pthread_barrier_wait(&popen_start);
	for (int r = 0; r < popen_rounds; r++) {
		bool rd = (r + id) % 2;
		const char *mode = rd ? (r % 4 < 2 ? "r" : "re") :
					(r % 4 < 2 ? "w" : "we");
		FILE *f;
		int status;

		snprintf(tag, sizeof(tag), "t%ld.%d", id, r);
		snprintf(cmd, sizeof(cmd), "'%s' %s %s", self,
			 rd ? "view" : "drain", rd ? tag : shimmed ? "1" : "0");
		f = popen(cmd, mode);
		if (!f)
			die_errno("popen");
		if (rd) {
			char want[128];

			snprintf(want, sizeof(want), "%s shim=%d pd=0 ", tag,
				 shimmed);
			if (!fgets(line, sizeof(line), f) ||
			    strncmp(line, want, strlen(want)))
				die("popen r: a child's view is wrong");
		} else {
			for (int i = 0; i < 100; i++)
				fprintf(f, "%s line %d\n", tag, i);
		}
		status = pclose(f);
		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status))
			die("pclose: a child failed");
	}
	return NULL;
}

static void popen_threads(int n, int rounds)
{
	pthread_t t[THREADS_MAX];

	if (n > THREADS_MAX)
		die("too many threads");
	popen_rounds = rounds;
	pthread_barrier_init(&popen_start, NULL, n);
	for (long i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, popen_worker, (void *)i))
			die("pthread_create");
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	printf("popen-threads %d x %d ok\n", n, rounds);
}

/*
 * drain SHIMMED: read stdin to EOF; 0 only with 100 lines, under the
 * shim if SHIMMED is 1, and with no configuration in sight.
 */
static int drain(const char *want_shim)
{
	char line[LINE_MAX_LEN];
	int lines = 0;

	while (fgets(line, sizeof(line), stdin))
		lines++;
	return lines == 100 && shimmed == atoi(want_shim) &&
	       !getenv("PYDEADLOCK_TEST_MARK") ? 0 : 1;
}

/* ---- system's signals ---- */

static volatile sig_atomic_t got_int;

static void on_int(int sig)
{
	got_int++;
}

static void on_chld(int sig)
{
	int saved = errno;

	/* a careless handler that reaps whatever ended */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

/*
 * While system() waits, SIGINT and SIGQUIT are ignored in the caller
 * (the shell sends it one, and reads them in its parent's SigIgn) and
 * SIGCHLD is blocked (SigBlk; a reaping handler must not steal the
 * status); in the shell SIGINT is default again.  Afterwards all is back.
 */
static void system_signals(void)
{
	struct sigaction sa = { .sa_handler = on_int }, now;
	int status;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_chld;
	sigaction(SIGCHLD, &sa, NULL);
	status = system("kill -INT $PPID; exit 3");
	printf("system-status %d exited %d\n", WIFEXITED(status),
	       WEXITSTATUS(status));
	printf("system-sigint-while-waiting %d\n", (int)got_int);
	sigaction(SIGINT, NULL, &now);
	printf("system-sigint-restored %d\n", now.sa_handler == on_int);
	for (int i = 0; i < 50; i++) {
		status = system("exit 5");
		if (status == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 5)
			die("system lost its child's status to a SIGCHLD handler");
	}
	printf("system-sigchld-blocked 1\n");
	/* exit status: 4 SIGCHLD blocked, 2 SIGINT and 1 SIGQUIT ignored */
	status = system("s=/proc/$PPID/status; "
			"blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' $s); "
			"ign=$(sed -n 's/^SigIgn:[[:space:]]*//p' $s); "
			"exit $(( (0x$blk >> 16 & 1) * 4 + "
			"(0x$ign >> 1 & 1) * 2 + (0x$ign >> 2 & 1) ))");
	printf("system-parent-blocked-ignored %d\n", WEXITSTATUS(status));
	status = system("kill -INT $$; exit 0");
	printf("system-shell-sigint-default %d\n",
	       WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
	printf("system-null %d\n", system(NULL) != 0);
	got_int = 0;
	kill(getpid(), SIGINT);
	printf("system-sigint-after %d\n", (int)got_int);
}

/* popen's modes and its streams' descriptors. */
static void popen_modes(void)
{
	FILE *w, *r, *e;
	char cmd[LINE_MAX_LEN], line[LINE_MAX_LEN];
	int status;

	errno = 0;
	printf("popen-rw %s\n", !popen("true", "rw") && errno == EINVAL ?
	       "EINVAL" : "accepted");
	errno = 0;
	printf("popen-x %s\n", !popen("true", "rx") && errno == EINVAL ?
	       "EINVAL" : "accepted");
	/* w stays open while another child is started: it must not get it */
	snprintf(cmd, sizeof(cmd), "'%s' drain %d", self, shimmed);
	w = popen(cmd, "w");
	e = popen("cat > /dev/null", "we");
	if (!w || !e)
		die_errno("popen");
	printf("popen-cloexec %d %d\n",
	       (fcntl(fileno(w), F_GETFD) & FD_CLOEXEC) != 0,
	       (fcntl(fileno(e), F_GETFD) & FD_CLOEXEC) != 0);
	snprintf(cmd, sizeof(cmd), "'%s' fds %d %d", self, fileno(w),
		 fileno(e));
	r = popen(cmd, "r");
	if (!r)
		die_errno("popen");
	while (fgets(line, sizeof(line), r))
		fputs(line, stdout);
	printf("popen-fds-status %d\n", pclose(r));
	for (int i = 0; i < 100; i++)
		fprintf(w, "line %d\n", i);
	status = pclose(w);
	printf("popen-w-status %d\n", status);
	pclose(e);
	r = popen("exit 7", "r");
	printf("pclose-status %d\n", r ? WEXITSTATUS(pclose(r)) : -1);
	/* glibc's fclose of a popen stream is its pclose */
	r = popen("exit 4", "r");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-dealloc"
	status = r ? fclose(r) : -1;
#pragma GCC diagnostic pop
	printf("fclose-status %d reaped %d\n", WEXITSTATUS(status),
	       waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
}

/* fds A B: are the descriptors A and B open here? */
static void fds(const char *a, const char *b)
{
	printf("child-has-fd %d %d\n", fcntl(atoi(a), F_GETFD) >= 0,
	       fcntl(atoi(b), F_GETFD) >= 0);
}

/* Start "self view tag" in the way mode names. */
static void start(const char *mode, const char *tag)
{
	char *argv[] = { (char *)self, "view", (char *)tag, NULL };
	char *pargv[] = { "env_probe", "view", (char *)tag, NULL };
	char *noenv[] = { NULL };
	char *smallenv[] = { "PROBE_A=1", "LD_PRELOAD=", "PYTHONPATH=/pp",
			     NULL };
	char cmd[LINE_MAX_LEN];
	pid_t pid;
	int fd, err, status;

	if (!strcmp(mode, "execve-empty")) {
		execve(self, argv, noenv);
	} else if (!strcmp(mode, "execve-small")) {
		execve(self, argv, smallenv);
	} else if (!strcmp(mode, "execv")) {
		execv(self, argv);
	} else if (!strcmp(mode, "execvp")) {
		execvp("env_probe", pargv);
	} else if (!strcmp(mode, "execvpe")) {
		execvpe("env_probe", pargv, smallenv);
	} else if (!strcmp(mode, "execl")) {
		execl(self, self, "view", tag, (char *)NULL);
	} else if (!strcmp(mode, "execlp")) {
		execlp("env_probe", "env_probe", "view", tag, (char *)NULL);
	} else if (!strcmp(mode, "execle")) {
		execle(self, self, "view", tag, (char *)NULL, noenv);
	} else if (!strcmp(mode, "fexecve")) {
		fd = open(self, O_RDONLY);
		fexecve(fd, argv, smallenv);
	} else if (!strcmp(mode, "execveat")) {
		execveat(AT_FDCWD, self, argv, noenv, 0);
	} else if (!strcmp(mode, "posix_spawn") ||
		   !strcmp(mode, "posix_spawnp") ||
		   !strcmp(mode, "posix_spawn-empty")) {
		if (!strcmp(mode, "posix_spawnp"))
			err = posix_spawnp(&pid, "env_probe", NULL, NULL, pargv,
					   environ);
		else
			err = posix_spawn(&pid, self, NULL, NULL, argv,
					  strcmp(mode, "posix_spawn") ? noenv :
					  environ);
		if (err)
			die(strerror(err));
		wait_ok(pid, mode);
		exit(0);
	} else if (!strcmp(mode, "fork-execv")) {
		pid = fork();
		if (pid == 0) {
			execv(self, argv);
			_exit(127);
		}
		wait_ok(pid, mode);
		exit(0);
	} else if (!strcmp(mode, "vfork-execve")) {
		pid = vfork();
		if (pid == 0) {
			execve(self, argv, smallenv);
			_exit(127);
		}
		wait_ok(pid, mode);
		exit(0);
	} else if (!strcmp(mode, "system") || !strcmp(mode, "shell")) {
		/* shell: through a shell that forks (not execs) the probe */
		snprintf(cmd, sizeof(cmd), strcmp(mode, "shell") ?
			 "'%s' view %s" : "sh -c \"'%s' view %s; true\"",
			 self, tag);
		fflush(stdout);
		status = system(cmd);
		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status))
			die("system");
		exit(0);
	} else if (!strcmp(mode, "popen-r")) {
		FILE *f;
		char line[LINE_MAX_LEN];

		snprintf(cmd, sizeof(cmd), "'%s' view %s", self, tag);
		f = popen(cmd, "r");
		if (!f)
			die_errno("popen");
		while (fgets(line, sizeof(line), f))
			fputs(line, stdout);
		status = pclose(f);
		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status))
			die("pclose");
		exit(0);
	} else if (!strcmp(mode, "popen-w")) {
		FILE *f;

		snprintf(cmd, sizeof(cmd), "'%s' readview %s", self, tag);
		fflush(stdout);
		f = popen(cmd, "w");
		if (!f)
			die_errno("popen");
		fputs("hello\n", f);
		status = pclose(f);
		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status))
			die("pclose");
		exit(0);
	} else {
		die("unknown mode");
	}
	die_errno(mode);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "view";
	const char *tag = argc > 2 ? argv[2] : "probe";
	static char path[LINE_MAX_LEN];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	if (n < 0)
		die_errno("/proc/self/exe");
	self = path;
	shimmed = shim_mapped();
	if (!strcmp(mode, "view")) {
		view(tag);
	} else if (!strcmp(mode, "readview")) {
		char line[LINE_MAX_LEN];

		if (!fgets(line, sizeof(line), stdin) ||
		    strcmp(line, "hello\n"))
			die("readview: nothing read");
		view(tag);
	} else if (!strcmp(mode, "drain")) {
		return drain(tag);
	} else if (!strcmp(mode, "fds")) {
		fds(argv[2], argv[3]);
	} else if (!strcmp(mode, "exec-fail")) {
		exec_failures();
	} else if (!strcmp(mode, "popen-threads")) {
		popen_threads(atoi(argv[2]), atoi(argv[3]));
	} else if (!strcmp(mode, "popen-modes")) {
		popen_modes();
	} else if (!strcmp(mode, "system-signals")) {
		system_signals();
	} else {
		view("parent");
		start(mode, tag);
	}
	return 0;
}
