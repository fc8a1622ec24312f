/* The pydeadlock command line: parse, dispatch, map outcomes to exit codes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/verdict.h"
#include "common/error.h"
#include "config.h"
#include "tracer/attach/attach.h"
#include "tracer/attach/attach_break.h"
#include "ui/report.h"
#include "tracer/attach/sampler.h"
#include "ui/run.h"
#include "ui/serial_cli.h"

static const char usage_text[] =
	"Usage: pydeadlock attach [--json] [--quiet] [--stats] [--break] [--no-children]\n"
	"                         [--graph=FILE] PID\n"
	"       pydeadlock attach --profile=SECONDS [--json] PID\n"
	"       pydeadlock run [--on-deadlock=abort|report|break]\n"
	"                      [--victim=newest|oldest|fewest-locks]\n"
	"                      [--json-report=FILE] [--graph=FILE]\n"
	"                      [--lock-order [--suppressions=FILE]] -- CMD [ARG...]\n"
	"       pydeadlock core [--json] [--quiet] [--graph=FILE] COREFILE\n"
	"       pydeadlock run --serial [--seed=N] [--record=FILE] -- CMD [ARG...]\n"
	"       pydeadlock replay TRACE -- CMD [ARG...]\n"
	"       pydeadlock explore [--runs=N] [--seed=N] [--depth=D] [--save=FILE]\n"
	"                          [--timeout=SECONDS] -- CMD [ARG...]\n"
	"       pydeadlock --help | --version\n"
	"\n"
	"attach  stop process PID and the processes below it for a few\n"
	"        milliseconds, read every thread's stack, what it waits for and\n"
	"        who could end the wait, report deadlocks (certain, and\n"
	"        potential: what only a signal, another program or a timeout\n"
	"        could end), and let the processes go on as they were.\n"
	"        --no-children  only PID, not the processes below it\n"
	"        --json   print the report as one JSON object\n"
	"        --quiet  the verdict and the deadlocks only, no stacks\n"
	"        --stats  print how long the process was stopped (stderr)\n"
	"        --graph=FILE  the wait-for graph as a picture: FILE.svg, .png,\n"
	"                 .pdf (drawn by Graphviz's dot) or .dot, .gv (its text)\n"
	"        --profile=SECONDS  instead, sample PID for SECONDS without\n"
	"                 stopping it (100 a second): each thread's share of\n"
	"                 time running and waiting (GIL, locks, conditions,\n"
	"                 joins, I/O, sleep), the lines that waited, the\n"
	"                 effective parallelism, with the sampling error\n"
	"        --break  fail one wait of the deadlock found, in a process run\n"
	"                 under 'pydeadlock run --on-deadlock=report' (or break)\n"
	"        --debug  print what pydeadlock is doing (stderr)\n"
	"\n"
	"core    the same report from a core file ('gcore PID' of a hung\n"
	"        process, or a crash's dump), read where it was taken.\n"
	"\n"
	"run     run CMD under the preload shim, which sees every lock and\n"
	"        semaphore operation and reports a deadlock the moment it forms\n"
	"        (on stderr), then ends the program with status 86 (abort, the\n"
	"        default), leaves it hung for inspection (report), or fails one\n"
	"        thread's wait (break): EDEADLK in C, pydeadlock.DeadlockError\n"
	"        in Python, at the line that waited.  --quiet: reports without\n"
	"        the thread-by-thread stacks.  --graph=FILE: the wait-for graph\n"
	"        of each deadlock found, as for attach.\n"
	"        --lock-order: report locks taken in orders that could deadlock\n"
	"        (A then B here, B then A there), at each process's end; status\n"
	"        85 when the program ended well; --suppressions=FILE silences\n"
	"        accepted ones.\n"
	"        --serial: one thread runs at a time, the turn passing only at\n"
	"        locks, conditions, semaphores, joins, thread start and end,\n"
	"        the GIL, sleeps (in virtual time) and I/O, in an order chosen\n"
	"        from --seed; --record=FILE writes the schedule (a text trace).\n"
	"\n"
	"replay  run CMD again under a recorded schedule: the same interleaving,\n"
	"        the same deadlock.  Status 87 when the program leaves the trace\n"
	"        (the message names the first step that differs).\n"
	"\n"
	"explore run CMD under --runs schedules (PCT: random priorities with\n"
	"        depth-1 change points) until one deadlocks (86), fails (its\n"
	"        status) or hangs past --timeout (124); its schedule is saved\n"
	"        (--save, default pydeadlock-explore.trace) for replay.\n"
	"\n"
	"Reports are in colour on a terminal, unless NO_COLOR is set.\n"
	"\n"
	"Exit status of attach and core: 0 no deadlock, 1 deadlock found, 2\n"
	"usage or attach error (a file that is not a core).  Of run, replay and\n"
	"explore: the program's own, 86 when it was ended because of a\n"
	"deadlock, 85 when --lock-order found orders that could deadlock, 2\n"
	"for a usage error.  See pydeadlock(1).\n";

static void usage(FILE *out)
{
	fputs(usage_text, out);
}

static double elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1e3 +
	       (now.tv_nsec - since->tv_nsec) / 1e6;
}

/* How attach and core print their report. */
struct report_options {
	bool json, quiet;
	const char *graph;
};

/*
 * One of the options attach and core share (--json, --quiet, --graph,
 * --debug): 1 when c was one, 0 when not, -1 on a bad value (said).
 */
static int report_option(int c, const char *cmd, struct report_options *r)
{
	char err[512];

	switch (c) {
	case 'j':
		r->json = true;
		return 1;
	case 'q':
		r->quiet = true;
		return 1;
	case 'd':
		debug_enabled = true;
		return 1;
	case 'g':
		r->graph = optarg;
		if (report_graph_check(r->graph, err, sizeof(err)) < 0) {
			error_msg("%s: %s", cmd, err);
			return -1;
		}
		return 1;
	}
	return 0;
}

/* The report of pm on stdout, and into the files asked for. */
static void print_report(const struct process_model *pm,
			 const struct report_options *r, const char *json_to)
{
	report_text_style(report_colour_for(1), r->quiet);
	if (r->json)
		report_json(stdout, pm);
	else
		report_text(stdout, pm);
	if (json_to)
		report_json_to(json_to, pm);
	if (r->graph)
		report_graph_to(r->graph, pm);
	fflush(stdout);
}

static const char core_usage[] =
	"Usage: pydeadlock core [--json] [--quiet] [--graph=FILE] COREFILE\n";

/* pydeadlock core: the report of a core file (gcore PID, a crash's). */
static int cmd_core(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "graph", required_argument, NULL, 'g' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct report_options r = { 0 };
	struct process_model pm;
	char err[512];
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (report_option(c, "core", &r)) {
		case 1:
			continue;
		case -1:
			return EXIT_USAGE;
		}
		switch (c) {
		case 'h':
			fputs(core_usage, stdout);
			return 0;
		default:
			error_msg("core: unknown option '%s' (see 'pydeadlock --help')",
				  argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		error_msg(optind == argc ? "core: missing the core file (pydeadlock core COREFILE)"
					 : "core: expected one core file, got more arguments");
		return EXIT_USAGE;
	}
	if (attach_core(argv[optind], &pm, err, sizeof(err)) < 0) {
		error_msg("%s", err);
		return EXIT_USAGE;
	}
	if (verdict_compute(&pm) < 0) {
		error_msg("out of memory while analysing %s", argv[optind]);
		model_free(&pm);
		return EXIT_USAGE;
	}
	print_report(&pm, &r, NULL);
	rc = pm.n_deadlocks ? EXIT_FOUND : EXIT_NO_DEADLOCK;
	model_free(&pm);
	return rc;
}

static int cmd_attach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "break", no_argument, NULL, 'b' },
		{ "stats", no_argument, NULL, 's' },
		{ "debug", no_argument, NULL, 'd' },
		{ "json-to", required_argument, NULL, 'J' },
		{ "snapshot-fd", required_argument, NULL, 'S' },
		{ "no-children", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "graph", required_argument, NULL, 'g' },
		{ "profile", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool stats = false, do_break = false, children = true;
	double profile = 0;
	struct report_options r = { 0 };
	const char *json_to = NULL;
	struct process_model pm;
	struct timespec start;
	char err[512];
	pid_t pid;
	int c, rc;

	optind = 1;
	opterr = 0;	/* one line of our own instead of getopt's */
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (report_option(c, "attach", &r)) {
		case 1:
			continue;
		case -1:
			return EXIT_USAGE;
		}
		switch (c) {
		case 's':
			stats = true;
			break;
		case 'J':
			json_to = optarg;
			break;
		case 'S':	/* told once the snapshot is taken (shim) */
			attach_snapshot_fd = atoi(optarg);
			break;
		case 'b':
			do_break = true;
			break;
		case 'n':
			children = false;
			break;
		case 'P': {
			char *end;

			profile = strtod(optarg, &end);
			if (end == optarg || *end || !(profile >= 0.01 && profile <= 3600)) {
				error_msg("attach: --profile wants a number of seconds from 0.01 to 3600, not '%s'",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			error_msg("attach: unknown option '%s' (see 'pydeadlock --help')",
				  argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		error_msg(optind == argc ? "attach: missing PID"
					 : "attach: expected one PID, got more arguments");
		return EXIT_USAGE;
	}
	pid = attach_parse_pid(argv[optind]);
	if (pid < 0) {
		error_msg("attach: '%s' is not a process ID (a positive integer)",
			  argv[optind]);
		return EXIT_USAGE;
	}
	if (profile > 0) {
		struct profile_samples ps;

		if (do_break || r.graph) {
			error_msg("attach: --profile samples the process; --break and --graph need a snapshot");
			return EXIT_USAGE;
		}
		if (sampler_run(pid, profile, &ps, err, sizeof(err)) < 0) {
			error_msg("%s", err);
			return EXIT_USAGE;
		}
		report_profile(stdout, &ps, r.json);
		sampler_free(&ps);
		return EXIT_NO_DEADLOCK;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* the snapshot the shim asked for is of its own process only */
	if (attach_snapshot_fd >= 0)
		children = false;
	if (attach_program(pid, children, &pm, err, sizeof(err)) < 0) {
		error_msg("%s", err);
		return EXIT_USAGE;
	}
	if (verdict_compute(&pm) < 0) {
		error_msg("out of memory while analysing process %d", pid);
		model_free(&pm);
		return EXIT_USAGE;
	}
	print_report(&pm, &r, json_to);
	if (stats)
		fprintf(stderr, "pydeadlock: stats: %d threads, target stopped %.3f ms, total %.3f ms\n",
			pm.n_threads, pm.stopped_ns / 1e6, elapsed_ms(&start));
	rc = pm.n_deadlocks ? EXIT_FOUND : EXIT_NO_DEADLOCK;
	if (do_break && pm.n_deadlocks) {
		pid_t victim = attach_break(&pm, err, sizeof(err));

		if (victim < 0) {
			error_msg("%s", err);
			rc = EXIT_USAGE;
		} else {
			struct thread_model *t = model_thread(&pm, victim);

			fprintf(stderr, "pydeadlock: broke the deadlock: thread %d \"%s\" was the victim (the newest waiter); its wait failed\n",
				victim, t && t->name ? t->name : "?");
		}
	}
	model_free(&pm);
	return rc;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (getenv("PYDEADLOCK_DEBUG") && strcmp(getenv("PYDEADLOCK_DEBUG"), "0"))
		debug_enabled = true;
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("pydeadlock %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "attach"))
		return cmd_attach(argc - 1, argv + 1);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "core"))
		return cmd_core(argc - 1, argv + 1);
	if (!strcmp(cmd, "replay"))
		return cmd_replay(argc - 1, argv + 1);
	if (!strcmp(cmd, "explore"))
		return cmd_explore(argc - 1, argv + 1);
	error_msg("unknown command '%s' (try 'pydeadlock --help')", cmd);
	return EXIT_USAGE;
}
