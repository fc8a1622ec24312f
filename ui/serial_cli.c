/*
 * Serial execution from the command line: run --serial's environment and
 * trace file, `pydeadlock replay TRACE -- CMD` (run under the trace's
 * decisions), and `pydeadlock explore -- CMD` (run under many seeds, PCT,
 * until one deadlocks; its schedule saved for replay).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/exit_status.h"
#include "runtime/trace.h"
#include "supervisor/supervisor.h"
#include "ui/serial_cli.h"

int serial_prepare(const struct serial_options *s)
{
	char cfg[96];
	int fd;

	unsetenv("PYDEADLOCK_SERIAL");
	unsetenv("PYDEADLOCK_SERIAL_RECORD");
	unsetenv("PYDEADLOCK_SERIAL_REPLAY");
	if (!s->on)
		return 0;
	/*
	 * What the schedule cannot choose must not vary either: addresses
	 * (a set of objects iterates in the order of their addresses, the
	 * order ThreadPoolExecutor joins its threads) and Python's string
	 * hashes.  Both are the program's (and its children's) for the run;
	 * a PYTHONHASHSEED of the user's own is kept.
	 */
	personality((unsigned long)personality(0xffffffff) | ADDR_NO_RANDOMIZE);
	if (!getenv("PYTHONHASHSEED") && setenv("PYTHONHASHSEED", "0", 1) < 0) {
		perror_msg("run: setenv");
		return -1;
	}
	snprintf(cfg, sizeof(cfg), "%llu %d %llu %d", (unsigned long long)s->seed,
		 s->depth, (unsigned long long)s->steps, s->interval);
	if (setenv("PYDEADLOCK_SERIAL", cfg, 1) < 0 ||
	    (s->replay && setenv("PYDEADLOCK_SERIAL_REPLAY", s->replay, 1) < 0)) {
		perror_msg("run: setenv");
		return -1;
	}
	if (!s->record)
		return 0;
	/* the shim maps it and writes into it; cut to size after the run */
	fd = open(s->record, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, SERIAL_RECORD_BYTES) < 0) {
		error_msg("run: --record=%s: %s", s->record, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (setenv("PYDEADLOCK_SERIAL_RECORD", s->record, 1) < 0) {
		perror_msg("run: setenv");
		return -1;
	}
	return 0;
}

/* The length of the text written into a record file (up to its zeros). */
static off_t written(int fd)
{
	char buf[65536];
	off_t at = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), at)) > 0) {
		char *z = memchr(buf, '\0', (size_t)n);

		if (z)
			return at + (z - buf);
		at += n;
	}
	return at;
}

void serial_finish(const struct serial_options *s, int status)
{
	char end[64];
	int fd, n;
	off_t len;

	if (!s->on || !s->record)
		return;
	fd = open(s->record, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	len = written(fd);
	if (ftruncate(fd, len) < 0) {
		close(fd);
		return;
	}
	if (len == 0)	/* the program never started under the shim */
		n = snprintf(end, sizeof(end), "# nothing recorded: status %d\n", status);
	else if (status == EXIT_DEADLOCK)
		n = snprintf(end, sizeof(end), "end deadlock\n");
	else
		n = snprintf(end, sizeof(end), "end status %d\n", status);
	if (pwrite(fd, end, (size_t)n, len) != n)
		error_msg("run: --record=%s: cannot write its end", s->record);
	close(fd);
}

/* ---- replay ---- */

static const char replay_usage[] =
	"Usage: pydeadlock replay [--quiet] [--json-report=FILE] TRACE -- CMD [ARG...]\n";

int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "json-report", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_options o = {
		.policy = RUN_ABORT, .policy_name = "abort", .victim = "newest",
		.potential_after_ms = 10000, .ending_fd = -1,
	};
	struct serial_options s = { .on = true, .interval = -1 };
	struct trace t;
	char err[400];
	int c, status;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			o.quiet = true;
			break;
		case 'j':
			o.json = optarg;
			break;
		case 'h':
			fputs(replay_usage, stdout);
			return 0;
		default:
			error_msg("replay: unknown option '%s' (see 'pydeadlock --help')",
				  argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		error_msg("replay: missing the trace (pydeadlock replay TRACE -- CMD [ARG...])");
		return EXIT_USAGE;
	}
	s.replay = argv[optind++];
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (optind >= argc) {
		error_msg("replay: missing the command to run (pydeadlock replay TRACE -- CMD [ARG...])");
		return EXIT_USAGE;
	}
	if (trace_load(s.replay, &t, err, sizeof(err)) < 0) {
		error_msg("replay: %s", err);
		return EXIT_USAGE;
	}
	/* as recorded: a deadlock broken then is broken again */
	if (t.policy[0]) {
		o.policy_name = t.policy;
		o.policy = !strcmp(t.policy, "break") ? RUN_BREAK
			   : !strcmp(t.policy, "report") ? RUN_REPORT : RUN_ABORT;
	}
	o.serial = true;
	s.seed = t.seed;
	s.depth = t.depth ? t.depth : SERIAL_DEPTH;
	s.steps = t.steps;
	s.interval = t.interval;
	o.argv = argv + optind;
	if (serial_prepare(&s) < 0) {
		trace_free(&t);
		return EXIT_USAGE;
	}
	status = supervise(&o);
	if (t.end[0] && status != EXIT_DIVERGED) {
		char now[64];

		if (status == EXIT_DEADLOCK)
			snprintf(now, sizeof(now), "deadlock");
		else
			snprintf(now, sizeof(now), "status %d", status);
		if (strcmp(now, t.end))
			error_msg("replay: the recorded run ended with %s, this one with %s",
				  t.end, now);
	}
	trace_free(&t);
	return status;
}

/* ---- explore ---- */

static const char explore_usage[] =
	"Usage: pydeadlock explore [--runs=N] [--seed=N] [--depth=D] [--save=FILE]\n"
	"                          [--timeout=SECONDS] [--interval=STEPS] -- CMD [ARG...]\n";

#define EXPLORE_RUNS 100
#define EXPLORE_TIMEOUT_S 60
#define EXIT_HUNG 124	/* a run outlived --timeout: hung, not proved a deadlock */

/* What a run's trace says: its schedule's hash and how many choices
 * (decisions between two threads or more) it made. */
static void trace_facts(const char *path, uint64_t *hash, uint64_t *steps)
{
	struct trace t;
	char err[300];

	*hash = 14695981039346656037ULL;
	*steps = 0;
	if (trace_load(path, &t, err, sizeof(err)) < 0)
		return;
	for (uint32_t i = 0; i < t.n_lines; i++) {
		const struct trace_line *l = &t.lines[i];
		uint64_t v[3] = { l->kind, l->step, (uint64_t)l->thread };

		for (int k = 0; k < 3; k++) {
			*hash ^= v[k];
			*hash *= 1099511628211ULL;
		}
		*steps += l->kind == TRACE_AT && l->n > 1;
	}
	trace_free(&t);
}

/* Copy file from to file to: 0, or -1 said. */
static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		error_msg("explore: --save=%s: %s", to, strerror(errno));
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			error_msg("explore: --save=%s: %s", to, strerror(errno));
			n = -1;
			break;
		}
	close(in);
	close(out);
	return n < 0 ? -1 : 0;
}

static void show_file(const char *path)
{
	char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(2, buf, (size_t)n) != n)
			break;
	close(fd);
}

/*
 * One run: pydeadlock run --serial, its output into log; its status, or
 * -1 when it outlived the timeout (then killed).
 */
static int explore_run(char **cmd, uint64_t seed, int depth, uint64_t steps,
		       int interval, const char *record, const char *log,
		       int timeout_s)
{
	char exe[PATH_MAX], seed_arg[48], depth_arg[32], steps_arg[48], int_arg[32];
	char rec_arg[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int argc = 0, status, fd;
	char **argv;
	pid_t pid;
	int nargs = 0;
	struct timespec start, now;

	if (n < 0)
		return EXIT_USAGE;
	exe[n] = '\0';
	while (cmd[nargs])
		nargs++;
	argv = calloc((size_t)nargs + 12, sizeof(*argv));
	if (!argv)
		return EXIT_USAGE;
	snprintf(seed_arg, sizeof(seed_arg), "--seed=%llu", (unsigned long long)seed);
	snprintf(depth_arg, sizeof(depth_arg), "--depth=%d", depth);
	snprintf(steps_arg, sizeof(steps_arg), "--steps=%llu", (unsigned long long)steps);
	snprintf(rec_arg, sizeof(rec_arg), "--record=%s", record);
	snprintf(int_arg, sizeof(int_arg), "--interval=%d", interval);
	argv[argc++] = exe;
	argv[argc++] = "run";
	argv[argc++] = "--serial";
	argv[argc++] = seed_arg;
	argv[argc++] = depth_arg;
	argv[argc++] = steps_arg;
	argv[argc++] = int_arg;
	argv[argc++] = rec_arg;
	argv[argc++] = "--";
	for (int i = 0; i < nargs; i++)
		argv[argc++] = cmd[i];
	argv[argc] = NULL;
	pid = fork();
	if (pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(EXIT_USAGE);
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			dup2(fd, 0);
		execv(exe, argv);
		_exit(127);
	}
	free(argv);
	if (pid < 0) {
		perror_msg("explore: fork");
		return EXIT_USAGE;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		const struct timespec tick = { 0, 2000000 };
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status)
						 : 128 + WTERMSIG(status);
		if (w < 0 && errno != EINTR)
			return EXIT_USAGE;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= timeout_s) {
			kill(pid, SIGTERM);	/* run ends its program, then itself */
			for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++)
				nanosleep(&tick, NULL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		nanosleep(&tick, NULL);
	}
}

bool serial_parse_u64(const char *arg, uint64_t min, uint64_t max, uint64_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(arg, &end, 10);
	if (end == arg || *end || errno || arg[0] == '-' || x < min || x > max)
		return false;
	*v = x;
	return true;
}

int cmd_explore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "depth", required_argument, NULL, 'd' },
		{ "save", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ "interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* every GIL hand-over a choice: a lock's window is a few bytecodes */
	uint64_t interval = 0;
	uint64_t runs = EXPLORE_RUNS, seed = 1, depth = 2, timeout = EXPLORE_TIMEOUT_S;
	uint64_t steps = 0, *seen;
	const char *save = "pydeadlock-explore.trace", *tmpdir = getenv("TMPDIR");
	char record[PATH_MAX], log[PATH_MAX];
	bool tty = isatty(2);
	uint64_t distinct = 0;
	struct timespec start, now;
	int c, status = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (!serial_parse_u64(optarg, 1, 10000000, &runs)) {
				error_msg("explore: --runs wants a number from 1, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 's':
			if (!serial_parse_u64(optarg, 0, UINT64_MAX / 2, &seed)) {
				error_msg("explore: --seed wants a number, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'd':
			if (!serial_parse_u64(optarg, 0, 32, &depth)) {
				error_msg("explore: --depth wants a number from 1 to 32, not '%s'",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case 'S':
			save = optarg;
			break;
		case 'i':
			if (!serial_parse_u64(optarg, 0, 1000000, &interval)) {
				error_msg("explore: --interval wants a number of steps, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 't':
			if (!serial_parse_u64(optarg, 1, 86400, &timeout)) {
				error_msg("explore: --timeout wants seconds from 1, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			fputs(explore_usage, stdout);
			return 0;
		default:
			error_msg("explore: unknown option '%s' (see 'pydeadlock --help')",
				  argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		error_msg("explore: missing the command to run (pydeadlock explore -- CMD [ARG...])");
		return EXIT_USAGE;
	}
	seen = calloc(runs, sizeof(*seen));
	if (!seen)
		return EXIT_USAGE;
	snprintf(record, sizeof(record), "%s/pydeadlock-explore.%d.trace",
		 tmpdir && *tmpdir ? tmpdir : "/tmp", (int)getpid());
	snprintf(log, sizeof(log), "%s/pydeadlock-explore.%d.log",
		 tmpdir && *tmpdir ? tmpdir : "/tmp", (int)getpid());
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (uint64_t i = 0; i < runs; i++) {
		uint64_t hash, last, s = seed + i;
		bool fresh = true;

		status = explore_run(argv + optind, s, (int)depth, steps, (int)interval,
				     record, log, (int)timeout);
		trace_facts(record, &hash, &last);
		if (last > steps)
			steps = last;	/* PCT's change points over the whole run */
		for (uint64_t k = 0; k < distinct && fresh; k++)
			fresh = seen[k] != hash;
		if (fresh)
			seen[distinct++] = hash;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (tty) {
			double spent = (double)(now.tv_sec - start.tv_sec) +
				       (now.tv_nsec - start.tv_nsec) / 1e9;

			fprintf(stderr, "\rpydeadlock: explore: %llu/%llu runs, %llu distinct schedules, %.0f s left   ",
				(unsigned long long)(i + 1), (unsigned long long)runs,
				(unsigned long long)distinct,
				spent / (double)(i + 1) * (double)(runs - i - 1));
		} else if (runs >= 10 && (i + 1) % (runs / 10) == 0) {
			fprintf(stderr, "pydeadlock: explore: %llu/%llu runs, %llu distinct schedules\n",
				(unsigned long long)(i + 1), (unsigned long long)runs,
				(unsigned long long)distinct);
		}
		if (status == 0)
			continue;
		if (tty)
			fputc('\n', stderr);
		show_file(log);
		if (copy_file(record, save) < 0)
			save = NULL;
		if (status == EXIT_DEADLOCK)
			fprintf(stderr, "pydeadlock: explore: a deadlock in run %llu (seed %llu)",
				(unsigned long long)(i + 1), (unsigned long long)s);
		else if (status < 0)
			fprintf(stderr, "pydeadlock: explore: run %llu (seed %llu) did not end within %llu s",
				(unsigned long long)(i + 1), (unsigned long long)s,
				(unsigned long long)timeout);
		else
			fprintf(stderr, "pydeadlock: explore: run %llu (seed %llu) ended with status %d",
				(unsigned long long)(i + 1), (unsigned long long)s, status);
		if (save)
			fprintf(stderr, "; its schedule: pydeadlock replay %s -- ...\n", save);
		else
			fputc('\n', stderr);
		break;
	}
	if (tty && status == 0)
		fputc('\n', stderr);
	if (status == 0)
		fprintf(stderr, "pydeadlock: explore: no deadlock in %llu runs (%llu distinct schedules)\n",
			(unsigned long long)runs, (unsigned long long)distinct);
	unlink(record);
	unlink(log);
	free(seen);
	return status < 0 ? EXIT_HUNG : status;
}
